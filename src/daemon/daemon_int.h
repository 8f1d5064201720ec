/*
 * The daemon's parts, private to them (as libuv's src/uv-common.h): the
 * state of the main thread (struct bd_daemon_s) and what one part calls in
 * another.  The public entry is budgetd/daemon.h.
 *
 *   daemon.c          bd_daemon_run: start-up steps, the health timer,
 *                     signals, shutdown, the state read back at start-up
 *   daemon_solve.c    snapshots for the workers, statistics gathered,
 *                     solves, the solve and pace timers
 *   daemon_train.c    training runs, the carry-over and the promotion,
 *                     train.on.history, models published
 *   daemon_control.c  the main thread's Kafka clients and the control topic
 *   daemon_admin.c    the admin documents, the counters
 *   daemon_reload.c   SIGHUP: the configuration applied live, the timers
 *   daemon_active.c   the instance lock: go active, stand by, coverage,
 *                     checkpoints while active
 *   daemon_systemd.c  readiness, STATUS= lines, the watchdog
 *
 * Names: bd_daemon_<part>_<verb>, the part being the file's suffix (none for
 * daemon.c).  @locality every function here runs on the main thread's
 * loop, unless its comment says otherwise; the workers only ever see the
 * snapshots published to them and the handles they signal.
 */
#ifndef BUDGETD_DAEMON_INT_H
#define BUDGETD_DAEMON_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "budgetd/daemon/admin.h"
#include "budgetd/serve/broker.h"
#include "budgetd/policy/campaign.h"
#include "budgetd/policy/clock.h"
#include "budgetd/wire/cluster.h"
#include "budgetd/wire/registry.h"
#include "budgetd/state/cmdids.h"
#include "budgetd/daemon/cmdlog.h"
#include "budgetd/base/config.h"
#include "budgetd/daemon/daemon.h"
#include "budgetd/serve/health.h"
#include "budgetd/base/histo.h"
#include "budgetd/serve/kafka.h"
#include "budgetd/serve/lock.h"
#include "budgetd/wire/messages.h"
#include "budgetd/state/outbox.h"
#include "budgetd/policy/plan.h"
#include "budgetd/daemon/report.h"
#include "budgetd/policy/snapshot.h"
#include "budgetd/state/store.h"
#include "budgetd/learn/trainer.h"
#include "budgetd/serve/worker.h"

/* What the restores from the changelog did (daemon_restore.c; /metrics). */
typedef struct bd_daemon_restore_s {
	uint64_t runs;		 /* restores made */
	uint64_t records, batches, skipped, fenced, incomplete; /* summed over them */
	double last_seconds;	 /* the last one's time */
	int64_t epoch;		 /* the owner epoch this instance writes (-1: none) */
	int64_t newer_model;	 /* a model version of the restored cells newer than
				  * this instance's own (0: none) */
	int nparts;		 /* the changelog's partitions (0: not restored) */
	uint64_t failures_at;	 /* the workers' changelog failures at the restore */
	_Atomic int64_t seq;	 /* the workers' next changelog batch number */
	_Atomic int64_t *end;	 /* per partition: the log's end as this instance
				  * knows it (the restore's, then raised by the
				  * workers' acknowledged records) */
} bd_daemon_restore_t;

/* Expired decisions (daemon_expiry.c): each campaign's limit, read by the
 * store's compaction threads. */
typedef struct bd_expiry_s bd_expiry_t;

struct bd_daemon_s {
	bd_config_t *cfg; /* the workers read its restart-only settings */
	const bd_config_source_t *src; /* built again on SIGHUP */
	uv_loop_t loop;
	uv_signal_t sigint, sigterm, sighup;
	uv_timer_t solve_timer, pace_timer, train_timer, health_timer;
	bd_health_t *health;
	int degraded;	   /* as last logged */
	int64_t degraded_since_ms;
	int kafka_fatal;   /* the main producer or control consumer is unusable */
	uv_work_t train_req;
	int training, train_err;
	char train_cmds[16][128]; /* RETRAIN commands waiting for the run */
	int n_train_cmds;
	int64_t train_version;
	bd_trainer_params_t train_params;
	bd_cluster_model_t *train_cur; /* the deciding model, held for the run */
	bd_trainer_result_t train_res;
	/* train.on.history: historical samples counted by the workers as last
	 * seen, when that count last moved, and the count when the last
	 * training run started (what a run has already had) */
	uint64_t hist_seen, hist_at_run, hist_moved_ns;
	/* the carry-over (carry.h): a trained version waits in next_model
	 * while the workers carry their statistics to it; carry is the version
	 * whose cells they keep complete once promoted (NULL: none yet) */
	bd_cluster_model_t *next_model, *carry;
	char next_info[384]; /* its training figures, for the promotion line */
	uint64_t carry_t0;
	uint16_t *carry_parts; /* the partitions to carry over before the swap */
	int n_carry_parts;
	uv_async_t worker_failed, worker_carried;
	bd_store_t *store;
	bd_broker_t *broker;
	char *bootstrap;
	rd_kafka_t *control, *producer;
	/* the producer's topics, looked up at start and held (bd_kafka_topic_lookup) */
	rd_kafka_topic_t *out_topics[3];
	rd_kafka_queue_t *control_q, *producer_q;
	bd_kafka_waker_t control_waker, producer_waker;
	bd_codec_t *codec;
	bd_registry_t *registry; /* schema.registry.url; NULL without one */
	/* the schema ids every codec writes: the schema.id.* settings, or the
	 * registry's (kept apart from cfg, whose reload compares settings) */
	uint32_t schema_id[BD_MSG__COUNT];
	bd_outbox_t *outbox;
	bd_store_batch_t *batch;
	bd_buf_t out;
	bd_campaigns_t campaigns;
	bd_plan_t **plans; /* parallel to campaigns.v, capacity campaigns.cap */
	int plans_n;       /* slots of plans in use: campaigns.n at the last sync */
	bd_cluster_model_t *model;
	bd_snapshot_t *snap;
	int64_t snap_version;
	bd_clocks_t clocks; /* each campaign's clock; workers advance them */
	bd_clock_rule_t clock_rule;
	bd_worker_t **workers;
	int n_workers;
	/* dead letters of control commands (this thread only), and the
	 * counters of workers already joined, for the totals */
	uint64_t control_dead[BD_DEAD__COUNT];
	/* the admin endpoint and what it shows */
	bd_admin_t *admin;
	uv_timer_t admin_timer;
	bd_report_track_t **tracks;
	int n_tracks;
	bd_histo_t solve_histo;
	uint64_t n_control_in, n_plans_out, n_models_out;
	uint64_t n_control_dups; /* commands ignored: their id was applied before */
	bd_cmdids_t cmdids;
	bd_cmdlog_t *cmdlog; /* what became of each command read (cmdlog.h) */
	int64_t started_ms;
	char health_why[300];
	bd_worker_counters_t joined;
	uv_timer_t counters_timer;
	uv_timer_t checkpoint_timer; /* checkpoint.dir */
	uv_timer_t expiry_timer;     /* decision.expiry.interval.s */
	bd_expiry_t *expiry;	     /* freed after the store that uses it */
	uint64_t counters_logged; /* inputs + dead letters at the last log */
	/* systemd: readiness checks, then the periodic STATUS= line */
	uv_timer_t ready_timer, watchdog_timer;
	uint64_t watchdog_usec; /* 0: systemd wants no WATCHDOG=1 */
	int ready;		/* deciding: every worker holds its partitions (/readyz) */
	int sd_ready;		/* READY=1 sent (a standby sends it too) */
	int assigned_told;	/* workers assigned, as last in STATUS= */
	int stale_worker;	/* the worker last reported silent, or -1 */
	int stopping, exit_code, signals, started;
	/* one active instance per group (lock.h): workers run only while this
	 * instance holds the lock */
	bd_lock_t *lock;
	int active;
	int n_parts[2];		   /* input partitions (features, outcomes), 0: unknown */
	int inputs_paused;	   /* the workers' union of assignments is incomplete */
	int64_t incomplete_since_ms; /* uv_hrtime ms, 0: complete */
	/* control topic offsets the broker no longer had (control_offset_lost) */
	uint64_t control_resets, control_skipped;
	int64_t control_reset_from; /* -1: none pending */
	/* the last restore from the changelog (daemon_restore.c) */
	bd_daemon_restore_t restore;
};

/* ---- daemon_restore.c ----------------------------------------------------------- */

/* Restores, with changelog.enabled, what the store lacks of @p nparts
 * input partitions' state from topic.changelog before this instance
 * decides, and hands out the owner epoch its records carry from now on
 * (*@p epoch).  Refuses (and this instance does not decide) what it cannot
 * restore exactly.  @returns 0 or an error with @p errstr.
 * @locality main loop (it blocks it while it reads) */
int bd_daemon_restore_run(bd_daemon_t *d, int nparts, int64_t *epoch, char *errstr,
			  size_t errstr_size);
/* After the workers of a clean stop drained: the store holds every record
 * of the changelog now (its own, delivered, and what it restored), so its
 * positions move to the logs' ends and a restart reads nothing back.  Not
 * when a record was lost or the lock is not held.  @locality main loop */
void bd_daemon_restore_stopped(bd_daemon_t *d);

/* The host's clock in ms since the epoch.  @locality any thread */
static inline int64_t bd_daemon_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Campaign @p c's "now": its own clock under the rule (clock.h).
 * @locality the main loop */
static inline int64_t bd_daemon_campaign_now(bd_daemon_t *d, const bd_campaign_t *c)
{
	const bd_clock_t *clk = bd_clocks_get(&d->clocks, c->id);
	return bd_clock_now(&d->clock_rule, clk ? bd_clock_read(clk) : 0, c->created_ms,
			    bd_daemon_wall_ms());
}

/* Starts @p t to fire every @p ms, or stops it when @p ms is 0.
 * @locality main loop */
static inline void bd_daemon_timer_every(uv_timer_t *t, uv_timer_cb cb, uint64_t ms)
{
	if (ms > 0)
		uv_timer_start(t, cb, ms, ms);
	else
		uv_timer_stop(t);
}

/* ---- daemon.c ---------------------------------------------------------------- */

/* Writes the main thread's batch (state with the outbox's records), then
 * hands the outbox's messages to the producer; on failure they are dropped
 * and the error logged.  @returns 0 or the store's error.
 * @locality main loop */
int bd_daemon_write(bd_daemon_t *d);
/* Stops deciding and closes every handle: workers drain, the lock goes,
 * the producer flushes, the batch is written; the loop then ends.  Once.
 * @locality main loop */
void bd_daemon_shutdown(bd_daemon_t *d);

/* ---- daemon_solve.c ------------------------------------------------------------ */

/* Publishes a snapshot of the campaigns, plans, model and clocks to every
 * worker (on out of memory the workers keep the old one).  @locality main loop */
void bd_daemon_solve_publish(bd_daemon_t *d);
/* Keeps d->plans parallel to d->campaigns after campaigns were added.
 * @returns 0 or -ENOMEM.  @locality main loop */
int bd_daemon_solve_plans_sync(bd_daemon_t *d);
/* Solves campaign @p ci, or every campaign when @p ci < 0, from one scan of
 * the statistics; with @p drift_only only those off pace.  Publishes a
 * snapshot when a plan changed.  A standby solves nothing.
 * @returns whether a plan changed.  @locality main loop */
int bd_daemon_solve_run(bd_daemon_t *d, int ci, const char *why, bool drift_only);
/* bd_daemon_solve_run for every campaign.  @locality main loop */
void bd_daemon_solve_all(bd_daemon_t *d, const char *why, bool drift_only);
/* (Re)starts the solve and pace timers at solve.interval.ms and
 * pace.check.ms.  @locality main loop */
void bd_daemon_solve_start_timers(bd_daemon_t *d);

/* daemon_expiry.c: the limits (@returns 0 or -ENOMEM), freed after the
 * store is closed; the expiry rule installed and its timer started, once
 * the campaigns are known. */
int bd_expiry_new(bd_expiry_t **out);
void bd_expiry_free(bd_expiry_t *x);
void bd_daemon_expiry_start(bd_daemon_t *d);

/* ---- daemon_train.c ------------------------------------------------------------- */

/* Starts a training run on libuv's thread pool unless one runs, a trained
 * version is being carried over, the daemon stops or stands by.
 * @locality main loop (the run itself: the thread pool) */
/* Starts a training run (@p why for the log).  @returns NULL if it started,
 * else why not (a static string). */
const char *bd_daemon_train_start(bd_daemon_t *d, const char *why);
/* The RETRAIN command @p command_id waits for the outcome of the run going
 * (its cmdlog entry updated when it ends).  @returns 0, -1 when too many
 * wait. */
int bd_daemon_train_wait(bd_daemon_t *d, const char *command_id);
/* (Re)starts the train.interval.s timer (stopped at 0).  @locality main loop */
void bd_daemon_train_start_timer(bd_daemon_t *d);
/* Promotes the trained version once every partition with state is carried
 * over to it, or after a wait.  @locality main loop */
void bd_daemon_train_check_carried(bd_daemon_t *d);
/* The workers' "carried" signal (d->worker_carried).  @locality main loop */
void bd_daemon_train_on_carried(uv_async_t *a);
/* train.on.history: trains once a fed log of historical samples is quiet.
 * @locality main loop */
void bd_daemon_train_check_history(bd_daemon_t *d);
/* Stores and publishes model @p m once per version (with @p r's training
 * figures, or none).  @returns 0 or an error.  @locality main loop */
int bd_daemon_train_publish_model(bd_daemon_t *d, const bd_cluster_model_t *m,
				  const bd_trainer_result_t *r);

/* ---- daemon_control.c ----------------------------------------------------------- */

/* Creates the producer and the control consumer (assigned at the stored
 * offset), the outbox, and recovers the outbox's unsent messages.
 * @returns 0 or an error with @p errstr.  @locality main loop */
int bd_daemon_control_start(bd_daemon_t *d, char *errstr, size_t errstr_size);
/* Applies the control topic up to its end before any worker starts, then
 * reads commands from the loop.  @returns 0 (also when a stop was asked:
 * d->signals) or an error with @p errstr.  @locality main loop */
int bd_daemon_control_catch_up(bd_daemon_t *d, char *errstr, size_t errstr_size);

/* ---- daemon_admin.c ------------------------------------------------------------- */

/* Starts the admin endpoint (admin.listen; none when empty) with its static
 * status page.  @returns 0 or an error with @p errstr.  @locality main loop */
int bd_daemon_admin_start(bd_daemon_t *d, char *errstr, size_t errstr_size);
/* Starts the admin.refresh.ms timer that renders the documents.
 * @locality main loop */
void bd_daemon_admin_start_timer(bd_daemon_t *d);
/* Renders every admin document now (a command's outcome is served with the
 * state it produced). */
void bd_daemon_admin_refresh(bd_daemon_t *d);
/* (Re)starts the log.counters.s timer (stopped at 0).  @locality main loop */
void bd_daemon_admin_start_counters(bd_daemon_t *d);
/* Every worker's counters (running and joined) plus the control consumer's
 * dead letters.  @locality main loop */
void bd_daemon_admin_counters_sum(const bd_daemon_t *d, bd_worker_counters_t *sum);
/* Logs the counters when they changed, or @p always.  @locality main loop */
void bd_daemon_admin_counters_log(bd_daemon_t *d, bool always);

/* ---- daemon_reload.c ------------------------------------------------------------ */

/* SIGHUP: builds the configuration again and applies what can change live.
 * @locality main loop */
void bd_daemon_reload_run(bd_daemon_t *d);
/* Every timer set by a live interval, (re)started with the configuration's
 * values.  @locality main loop */
void bd_daemon_reload_start_timers(bd_daemon_t *d);

/* ---- daemon_active.c ------------------------------------------------------------ */

/* The instance lock's callback (bd_lock_start): goes active or stands by.
 * @locality main loop (from the lock's poll) */
void bd_daemon_active_on_lock(void *opaque, bd_lock_state_t state, const char *why);
/* Pauses the inputs while another group member holds input partitions.
 * @locality main loop */
void bd_daemon_active_check_coverage(bd_daemon_t *d);
/* Stops and joins every worker (blocks the loop while they drain).
 * @locality main loop */
void bd_daemon_active_stop_workers(bd_daemon_t *d);

/* ---- daemon_systemd.c ----------------------------------------------------------- */

/* STATUS= with the running figures.  @locality main loop */
void bd_daemon_systemd_status(bd_daemon_t *d);
/* Polls readiness until every worker holds its partitions (READY=1), then
 * refreshes STATUS= periodically.  @locality main loop */
void bd_daemon_systemd_poll_ready(bd_daemon_t *d);
/* WATCHDOG=1 at half systemd's interval while every loop is alive, if
 * systemd asks for it.  @locality main loop */
void bd_daemon_systemd_start_watchdog(bd_daemon_t *d);

#endif
