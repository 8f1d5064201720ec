#include "budgetd/daemon.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "budgetd/admin.h"
#include "budgetd/broker.h"
#include "budgetd/campaign.h"
#include "budgetd/carry.h"
#include "budgetd/clock.h"
#include "budgetd/cluster.h"
#include "budgetd/cmdids.h"
#include "budgetd/estimate.h"
#include "budgetd/kafka.h"
#include "budgetd/lock.h"
#include "budgetd/log.h"
#include "budgetd/messages.h"
#include "budgetd/notify.h"
#include "budgetd/outbox.h"
#include "budgetd/pacer.h"
#include "budgetd/plan.h"
#include "budgetd/report.h"
#include "budgetd/snapshot.h"
#include "budgetd/solver.h"
#include "budgetd/stats.h"
#include "budgetd/status_html.h"
#include "budgetd/store.h"
#include "budgetd/trainer.h"
#include "budgetd/utf8.h"
#include "budgetd/worker.h"


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
	int64_t train_version;
	bd_trainer_params_t train_params;
	bd_trainer_result_t train_res;
	/* train.on.history: historical samples counted by the workers as last
	 * seen, when that count last moved, and the count when the last
	 * training run started (what a run has already had) */
	uint64_t hist_seen, hist_at_run, hist_moved_ns;
	/* the carry-over (carry.h): a trained version waits in next_model
	 * while the workers carry their statistics to it; carry is the version
	 * whose cells they keep complete once promoted (NULL: none yet) */
	bd_cluster_model_t *next_model, *carry;
	char next_info[256]; /* its training figures, for the promotion line */
	uint64_t carry_t0;
	uint16_t *carry_parts; /* the partitions to carry over before the swap */
	int n_carry_parts;
	uv_async_t worker_failed, worker_carried;
	bd_store_t *store;
	bd_broker_t *broker;
	char *bootstrap;
	rd_kafka_t *control, *producer;
	rd_kafka_queue_t *control_q, *producer_q;
	bd_kafka_waker_t control_waker, producer_waker;
	bd_codec_t *codec;
	bd_outbox_t *outbox;
	bd_store_batch_t *batch;
	bd_buf_t out;
	bd_campaigns_t campaigns;
	bd_plan_t **plans; /* parallel to campaigns.v, capacity campaigns.cap */
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
	int64_t started_ms;
	char health_why[300];
	bd_worker_counters_t joined;
	uv_timer_t counters_timer;
	uv_timer_t checkpoint_timer; /* checkpoint.dir */
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
};

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Campaign @p c's "now": its own clock under the rule (clock.h). */
static int64_t campaign_now(bd_daemon_t *d, const bd_campaign_t *c)
{
	const bd_clock_t *clk = bd_clocks_get(&d->clocks, c->id);
	return bd_clock_now(&d->clock_rule, clk ? bd_clock_read(clk) : 0, c->created_ms,
			    wall_ms());
}

/* ---- snapshots ------------------------------------------------------------ */

static void publish_snapshot(bd_daemon_t *d)
{
	bd_snapshot_t *s = bd_snapshot_new(++d->snap_version, &d->campaigns,
					   d->plans, d->model);
	if (s && bd_snapshot_attach_clocks(s, &d->clocks) != 0) {
		bd_snapshot_unref(s);
		s = NULL;
	}
	if (!s) {
		bd_error("out of memory building a snapshot; workers keep the old one");
		return;
	}
	bd_snapshot_set_carry(s, d->next_model ? d->next_model : d->carry);
	bd_snapshot_unref(d->snap);
	d->snap = s;
	for (int i = 0; i < d->n_workers; i++)
		bd_worker_post_snapshot(d->workers[i], s);
}

/* Keeps d->plans parallel to d->campaigns after an insert at @p idx. */
static int plans_sync(bd_daemon_t *d, const char *inserted_id)
{
	bd_plan_t **np = calloc((size_t)(d->campaigns.cap ? d->campaigns.cap : 1),
				sizeof(*np));
	if (!np)
		return -ENOMEM;
	/* plans are matched by campaign id, so order changes are harmless */
	for (int i = 0; i < d->campaigns.n; i++) {
		for (int o = 0; o < d->campaigns.n; o++)
			if (d->plans && d->plans[o] &&
			    strcmp(d->plans[o]->campaign_id, d->campaigns.v[i].id) == 0) {
				np[i] = d->plans[o];
				d->plans[o] = NULL;
				break;
			}
	}
	(void)inserted_id;
	free(d->plans);
	d->plans = np;
	return 0;
}

/* ---- writes through the main thread's batch ------------------------------- */

static int write_batch(bd_daemon_t *d)
{
	char errstr[512];
	int err;
	bd_outbox_prepare(d->outbox, d->batch);
	err = bd_store_batch_write(d->store, d->batch, errstr, sizeof(errstr));
	if (err) {
		bd_error("%s", errstr);
		bd_outbox_discard(d->outbox);
		return err;
	}
	bd_outbox_produce(d->outbox);
	return 0;
}

/* ---- solving ----------------------------------------------------------------- */

/* What one campaign's solve reads from the statistics. */
typedef struct gather_s {
	int active; /* this campaign is being solved */
	int64_t now, day;
	bd_estimate_params_t ep;
	bd_estimate_t est;
	double dayv[BD_DAY__COUNT];
} gather_t;

typedef struct scan_s {
	bd_daemon_t *d;
	gather_t *g; /* parallel to d->campaigns.v */
} scan_t;

static int gather_cb(const char *key, size_t klen, const char *val, size_t vlen,
		     void *opaque)
{
	scan_t *sc = opaque;
	bd_daemon_t *d = sc->d;
	bd_stats_key_t k;
	double x[BD_STAT__COUNT] = {0};
	size_t n = vlen / sizeof(double);

	if (bd_stats_key_parse(key, klen, &k) != 0)
		return 0;
	const bd_campaign_t *c = bd_campaigns_find(&d->campaigns, k.campaign);
	if (!c)
		return 0;
	gather_t *g = &sc->g[c - d->campaigns.v];
	if (!g->active)
		return 0;
	if (n > BD_STAT__COUNT)
		n = BD_STAT__COUNT;
	memcpy(x, val, n * sizeof(double));
	if (k.kind == BD_STATS_DAY && k.day == g->day) {
		for (int i = 0; i < BD_DAY__COUNT; i++)
			g->dayv[i] += x[i];
	} else if (k.kind == BD_STATS_DELAY) {
		bd_estimate_add_delay(&g->est, x, (int)n);
	} else if (k.kind == BD_STATS_CELL && k.model_version == d->model->version) {
		bd_estimate_add_cell(&g->est, &g->ep, k.cluster, k.treatment, k.hour, x,
				     (int)n);
	}
	return 0;
}

static int gather_init(bd_daemon_t *d, int ci, gather_t *g)
{
	const bd_campaign_t *c = &d->campaigns.v[ci];
	const bd_config_t *cfg = d->cfg;
	/* the campaign's own clock: no other campaign's events move its day */
	int64_t now = campaign_now(d, c);
	double sec_of_day;

	memset(g, 0, sizeof(*g));
	g->now = now;
	g->day = bd_campaign_day(c, now, &sec_of_day);
	g->ep = (bd_estimate_params_t){
		.now_ms = now,
		.mature_before_hour = (now - (int64_t)cfg->solve_maturity_s * 1000) / 3600000,
		.today_first_hour = (now - (int64_t)(sec_of_day * 1000)) / 3600000,
		.sec_of_day = sec_of_day,
		.tz_offset_s = c->tz_offset_s,
		.shrinkage = cfg->solve_shrinkage,
		.min_matured = BD_PACER_WARMUP,
		.tail_s = cfg->solve_maturity_s,
		.halflife_h = cfg->solve_halflife_h,
		.shrink_uplift = cfg->solve_shrink_uplift,
		.concave = cfg->solve_concave,
		.order_value_prior = cfg->solve_order_value_prior,
	};
	int err = bd_estimate_init(&g->est, d->model->k, c->n_treatments);
	g->active = err == 0;
	return err;
}

/* The status track of campaign @p id, created on first use. */
static bd_report_track_t *track_for(bd_daemon_t *d, const char *id)
{
	for (int i = 0; i < d->n_tracks; i++)
		if (strcmp(d->tracks[i]->campaign_id, id) == 0)
			return d->tracks[i];
	bd_report_track_t **v = realloc(d->tracks, sizeof(*v) * (size_t)(d->n_tracks + 1));
	if (!v)
		return NULL;
	d->tracks = v;
	if (!(v[d->n_tracks] = calloc(1, sizeof(**v))))
		return NULL;
	v[d->n_tracks]->day = -1;
	snprintf(v[d->n_tracks]->campaign_id, sizeof(v[0]->campaign_id), "%s", id);
	return v[d->n_tracks++];
}

/* Records how a solve of campaign @p c ended (solve_gathered's @p err,
 * @p fail the reason): a failure is counted, logged when its reason
 * changes (not at every pass) and keeps the campaign failing (solve_health)
 * until a plan is published again. */
static void solve_result(const bd_campaign_t *c, bd_report_track_t *tr, int err,
			 const char *fail)
{
	char why[256];
	if (err == 1)
		return; /* on pace: nothing new either way */
	if (err == 0) {
		if (tr && tr->solve_error[0]) {
			bd_info("campaign %s: solved again (it failed: %s)", c->id, tr->solve_error);
			tr->solve_error[0] = '\0';
		}
		return;
	}
	snprintf(why, sizeof(why), "%s", fail[0] ? fail : bd_strerror(err));
	if (tr && strcmp(tr->solve_error, why) == 0) {
		tr->solve_failures++;
		return;
	}
	bd_error("campaign %s: solve failed: %s (its last good plan stays)", c->id, why);
	if (tr) {
		tr->solve_failures++;
		snprintf(tr->solve_error, sizeof(tr->solve_error), "%s", why);
	}
}

/* Degraded while some campaign's solves fail (the first one names it). */
static void solve_health(bd_daemon_t *d)
{
	char why[BD_ID_MAX + 300];
	for (int i = 0; i < d->n_tracks; i++)
		if (d->tracks[i]->solve_error[0]) {
			snprintf(why, sizeof(why), "campaign %s: solve failed: %s",
				 d->tracks[i]->campaign_id, d->tracks[i]->solve_error);
			bd_health_set(d->health, BD_HEALTH_SOLVE, why);
			return;
		}
	bd_health_set(d->health, BD_HEALTH_SOLVE, NULL);
}

/* Logs that campaign @p id is off pace for @p why, at info once when a state
 * begins (a drift, no plan for the day, a plan without a forecast) and at
 * debug while it lasts: with no traffic the plan has no forecast at every
 * pace check, and that is one state, not a line every pace.check.ms. */
static void log_off_pace(bd_report_track_t *tr, const char *id, const char *why)
{
	/* a drift's sentence carries its figures: the state is its kind */
	const char *state = strncmp(why, "spent ", 6) == 0 ? "drift" : why;
	if (tr && strncmp(tr->off_pace, state, sizeof(tr->off_pace) - 1) == 0) {
		bd_debug("campaign %s: off pace (%s): re-solving", id, why);
		return;
	}
	if (tr)
		snprintf(tr->off_pace, sizeof(tr->off_pace), "%s", state);
	bd_info("campaign %s: off pace (%s): re-solving", id, why);
}

/* Solves campaign @p ci from its gathered statistics for the rest of its
 * day and publishes the plan.  Nothing non-finite is published: a solve
 * whose estimates, spend or plan hold one fails, and the last good plan
 * stays.  @returns 0 (new plan), 1 (on pace: the old plan stays) or an
 * error. */
static int solve_gathered(bd_daemon_t *d, int ci, gather_t *g, const char *why,
			  bool drift_only)
{
	const bd_campaign_t *c = &d->campaigns.v[ci];
	const bd_config_t *cfg = d->cfg;
	const int K = d->model->k, J = c->n_treatments;
	bd_plan_t *p = NULL, *old = d->plans[ci];
	char fail[256] = "";
	int err;

	bd_estimate_finish(&g->est, &g->ep);
	/* requests already waiting in the features topic: the rest of the
	 * day has at least these (a backlog after a stall must not be
	 * decided at a budget per request meant for the day's last few) */
	for (int i = 0; i < d->n_workers; i++)
		for (int q = 0; q < cfg->topic_partitions; q++) {
			int64_t l = bd_worker_lag(d->workers[i], 0, q);
			if (l > 0)
				g->est.waiting += (double)l;
		}
	/* Spend = realised cost + the expected cost of today's decisions
	 * still waiting for their outcomes. */
	double spent = g->dayv[BD_DAY_COST] + g->est.pending_cost;
	bd_report_track_t *tr = track_for(d, c->id);
	if ((err = bd_estimate_check(&g->est, fail, sizeof(fail))))
		goto out;
	if (!isfinite(spent)) {
		snprintf(fail, sizeof(fail), "spend today is %g (realised cost %g)", spent,
			 g->dayv[BD_DAY_COST]);
		err = BD_EINVAL;
		goto out;
	}
	if (!tr || bd_report_track_update(tr, c, &g->est, spent, g->day, g->ep.sec_of_day))
		bd_warn("campaign %s: out of memory for the status track", c->id);
	char why_off[160] = "";
	if (drift_only && !bd_pacer_off_pace(cfg, old, &g->est, spent, g->day, why_off,
					     sizeof(why_off))) {
		if (tr)
			tr->off_pace[0] = '\0';
		err = 1; /* on pace: keep the plan */
		goto out;
	}
	if (drift_only)
		log_off_pace(tr, c->id, why_off);
	err = -ENOMEM;
	if (!(p = bd_plan_new_uniform(c->id, K, J)))
		goto out;
	p->model_version = d->model->version;
	p->ts_ms = g->now;
	p->version = (old ? old->version : 0) + 1;
	if (tr)
		p->guard->campaign_guarded = &tr->guarded;
	if ((err = bd_pacer_plan(cfg, c, &g->est, spent, g->day, p)) ||
	    (err = bd_plan_check(p, fail, sizeof(fail))))
		goto out;

	/* persist (plans CF + outbox) in one batch, then hand it over */
	bd_plan_msg_t msg;
	bd_plan_to_msg(p, &msg);
	if ((err = bd_encode_plan(d->codec, &msg, &d->out)))
		goto out;
	bd_store_batch_put(d->batch, BD_CF_PLANS, c->id, strlen(c->id), d->out.data,
			   d->out.len);
	if ((err = bd_outbox_add(d->outbox, d->batch, BD_OUTBOX_GLOBAL, BD_MSG_PLAN,
				 c->id, strlen(c->id), d->out.data, d->out.len)) ||
	    (err = write_batch(d)))
		goto out;
	bd_debug("campaign %s: plan %lld (%s, %s): spent %.2f, remaining %.2f over ~%.0f "
		 "requests, lambda %.4f, explore %.3f",
		 c->id, (long long)p->version, p->solver, why, spent, p->remaining_budget,
		 p->pace_nrem, p->lambda, p->explore);
	d->plans[ci] = p;
	p = NULL;
	bd_plan_unref(old);
	d->n_plans_out++;
	err = 0;
out:
	solve_result(c, tr, err, fail);
	bd_plan_unref(p);
	return err;
}

/* Solves campaign @p ci, or every campaign when @p ci < 0, from ONE scan of
 * the statistics; publishes a snapshot when a plan changed.
 * @returns whether it did.  @locality the main loop. */
static int solve(bd_daemon_t *d, int ci, const char *why, bool drift_only)
{
	const int n = d->campaigns.n;
	if (!d->active)
		return 0; /* a standby publishes no plans: its statistics are not the truth */
	scan_t sc = {d, calloc((size_t)(n ? n : 1), sizeof(gather_t))};
	int changed = 0, err = -ENOMEM;
	uint64_t t0 = uv_hrtime();

	if (!sc.g)
		goto out;
	for (int i = 0; i < n; i++)
		if ((ci < 0 || i == ci) && (err = gather_init(d, i, &sc.g[i])))
			goto out;
	const uint8_t none[1] = {0};
	if ((err = bd_store_scan(d->store, BD_CF_STATS, none, 0, gather_cb, &sc)))
		goto out;
	for (int i = 0; i < n; i++)
		if (sc.g[i].active && solve_gathered(d, i, &sc.g[i], why, drift_only) == 0)
			changed = 1;
	solve_health(d);
	err = 0;
out:
	if (err)
		bd_error("solve (%s): %s", why, bd_strerror(err));
	for (int i = 0; sc.g && i < n; i++)
		if (sc.g[i].active)
			bd_estimate_free(&sc.g[i].est);
	free(sc.g);
	if (changed)
		publish_snapshot(d);
	bd_histo_observe(&d->solve_histo, (double)(uv_hrtime() - t0) / 1e9);
	return changed;
}

static void solve_all(bd_daemon_t *d, const char *why, bool drift_only)
{
	(void)solve(d, -1, why, drift_only);
}

static void check_carried(bd_daemon_t *d);

static void on_solve_timer(uv_timer_t *t)
{
	bd_daemon_t *d = t->data;
	check_carried(d); /* a carry-over waiting for partitions nobody holds */
	solve_all(d, "timer", false);
	bd_outbox_retry(d->outbox);
}

/* Between solves: re-solve only the campaigns whose spend or traffic left
 * the pace by more than pace.band. */
static void on_pace_timer(uv_timer_t *t)
{
	solve_all(t->data, "pace", true);
}

/* ---- training ------------------------------------------------------------------ */

static int publish_model(bd_daemon_t *d, const bd_cluster_model_t *m,
			 const bd_trainer_result_t *r);

/* @locality libuv's thread pool */
static void train_work(uv_work_t *req)
{
	bd_daemon_t *d = req->data;
	d->train_err = bd_trainer_run(d->store, &d->train_params, d->train_version,
				      &d->train_res);
}

/* How long the swap waits for partitions no worker holds (a group still
 * settling after a restart; another instance in the group) before it goes
 * ahead: those are carried over when they are assigned. */
#define CARRY_WAIT_NS (60 * 1000000000ULL)

/* The first partition with state that no worker has carried to @p v yet,
 * or -1. */
static int uncarried(const bd_daemon_t *d, int64_t v)
{
	for (int i = 0; i < d->n_carry_parts; i++) {
		int64_t best = -1;
		for (int w = 0; w < d->n_workers; w++) {
			int64_t c = bd_worker_carried(d->workers[w], d->carry_parts[i]);
			best = c > best ? c : best;
		}
		if (best < v)
			return d->carry_parts[i];
	}
	return -1;
}

/* Swaps the trained version in once the workers have carried every
 * partition with state over to it (carry.h): from then on its cells hold
 * the whole day.  @locality the main loop */
static void check_carried(bd_daemon_t *d)
{
	bd_cluster_model_t *m = d->next_model;
	int part;

	if (!m || d->stopping)
		return;
	if ((part = uncarried(d, m->version)) >= 0) {
		if (uv_hrtime() - d->carry_t0 < CARRY_WAIT_NS)
			return;
		bd_warn("model %lld: partition %d (and maybe others) not carried over after "
			"%.0f s: no worker holds it; it is carried when it is assigned, and "
			"until then its decisions waiting for outcomes are missing from the "
			"model's statistics", (long long)m->version, part,
			(double)CARRY_WAIT_NS / 1e9);
	}
	bd_info("model %lld promoted: %s; statistics carried over in %.0f ms",
		(long long)m->version, d->next_info,
		(double)(uv_hrtime() - d->carry_t0) / 1e6);
	bd_cluster_model_unref(d->model);
	bd_cluster_model_unref(d->carry);
	d->model = m;
	d->carry = bd_cluster_model_ref(m);
	d->next_model = NULL;
	free(d->carry_parts);
	d->carry_parts = NULL;
	d->n_carry_parts = 0;
	solve_all(d, "new model", false);
	publish_snapshot(d);
}

static void on_worker_carried(uv_async_t *a)
{
	check_carried(a->data);
}

/* @locality the main loop: the trained version is stored and published, then
 * the workers carry their statistics over (carry.h), then it is swapped in */
static void train_done(uv_work_t *req, int status)
{
	bd_daemon_t *d = req->data;
	bd_trainer_result_t *r = &d->train_res;

	d->training = 0;
	if (status == UV_ECANCELED || d->stopping)
		goto out;
	if (d->train_err) {
		bd_error("training failed: %s", bd_strerror(d->train_err));
		goto out;
	}
	if (!r->accepted) {
		bd_warn("model %lld not promoted: %s (%d samples, %.1f s); version %lld stays",
			(long long)d->train_version, r->why, r->samples, r->seconds,
			(long long)d->model->version);
		goto out;
	}
	r->model->agreement = r->student.agreement;
	/* stored with the model: after a restart its version is the one whose
	 * statistics the workers keep complete */
	bd_carry_put_target(d->batch, r->model->version);
	if (publish_model(d, r->model, r) != 0) {
		bd_error("model %lld could not be stored; not promoted",
			 (long long)r->model->version);
		goto out;
	}
	snprintf(d->next_info, sizeof(d->next_info),
		 "%d samples, held-out losses conversion %.4f value %.4f cost %.4f, student "
		 "agreement %.3f, clusters %d..%d users (floor %d, %d re-seeded), %d samples "
		 "in its statistics, trained in %.1f s",
		 r->samples, r->rep.holdout_conv, r->rep.holdout_value, r->rep.holdout_cost,
		 r->student.agreement, r->min_cluster, r->max_cluster, r->floor, r->reseeded,
		 r->rebuilt, r->seconds);
	if (r->reseeded)
		bd_info("model %lld: %d small clusters re-seeded from the largest (floor %d "
			"users on the training set)", (long long)r->model->version, r->reseeded,
			r->floor);
	bd_info("model %lld trained (%s); the workers carry the statistics over",
		(long long)r->model->version, d->next_info);
	d->next_model = r->model; /* the old version decides until the swap */
	r->model = NULL;
	d->carry_parts = r->parts;
	d->n_carry_parts = r->n_parts;
	r->parts = NULL;
	d->carry_t0 = uv_hrtime();
	publish_snapshot(d);
	check_carried(d); /* (nothing to carry: at once) */
out:
	bd_trainer_result_free(r);
}

static void start_training(bd_daemon_t *d, const char *why)
{
	const bd_config_t *cfg = d->cfg;
	if (d->training || d->stopping || !d->active)
		return;
	if (d->next_model) {
		bd_info("not training (%s): model %lld is being carried over", why,
			(long long)d->next_model->version);
		return;
	}
	/* a number no run used before, recorded first: a run that wrote
	 * statistics and died never shares its version with the next one */
	d->train_version = bd_carry_next_version(d->store, d->batch, d->model->version);
	if (write_batch(d) != 0) {
		bd_error("not training (%s): the version number could not be stored", why);
		return;
	}
	d->train_params = (bd_trainer_params_t){
		.k = cfg->clusters, .dim = cfg->features_dim, .epochs = cfg->train_epochs,
		.min_samples = cfg->train_min_samples, .max_samples = cfg->train_max_samples,
		.student_hidden = cfg->train_student_hidden,
		.hidden = cfg->train_hidden, .rep_dim = cfg->train_rep_dim,
		.w_conv = cfg->train_w_conv, .w_value = cfg->train_w_value,
		.w_cost = cfg->train_w_cost, .huber = cfg->train_huber,
		.min_agreement = cfg->train_min_agreement,
		.clip = cfg->train_feature_clip,
		.min_cluster_share = cfg->train_min_cluster_share,
		.min_cluster_users = cfg->train_min_cluster_users,
		/* the seed is the version: runs are reproducible per version */
		.seed = (uint64_t)d->train_version,
	};
	d->train_req.data = d;
	if (uv_queue_work(&d->loop, &d->train_req, train_work, train_done) == 0) {
		d->training = 1;
		d->hist_at_run = d->hist_seen; /* this run trains on them */
		bd_info("training model %lld (%s)", (long long)d->train_version, why);
	}
}

static void on_train_timer(uv_timer_t *t)
{
	start_training(t->data, "schedule");
}

static void counters_sum(const bd_daemon_t *d, bd_worker_counters_t *sum);

/* train.on.history: a log of earlier decisions fed on the outcomes topic
 * (historical samples) is trained on as soon as it has been fed, so that a
 * campaign bootstrapped from it decides with a model from its first
 * request instead of waiting for the schedule.  Trains once at least
 * train.min.samples historical samples arrived since the last run started
 * and none for train.history.quiet.ms (the log is fed, and the workers
 * have written it to the sample log the trainer reads).  The count is the
 * workers' since this start: a log fed before a restart was trained on
 * then, or is left to RETRAIN and the schedule.  @locality the main loop */
static void check_history(bd_daemon_t *d)
{
	const bd_config_t *cfg = d->cfg;
	bd_worker_counters_t sum;
	uint64_t now = uv_hrtime();
	char why[96];

	counters_sum(d, &sum);
	if (sum.historical != d->hist_seen) {
		d->hist_seen = sum.historical;
		d->hist_moved_ns = now;
	}
	if (!cfg->train_on_history || d->training || d->next_model || d->stopping ||
	    d->hist_seen - d->hist_at_run < (uint64_t)cfg->train_min_samples ||
	    now - d->hist_moved_ns < (uint64_t)cfg->train_history_quiet_ms * 1000000ULL)
		return;
	snprintf(why, sizeof(why), "history: %llu historical samples since the last run",
		 (unsigned long long)(d->hist_seen - d->hist_at_run));
	start_training(d, why);
}

/* ---- control commands ------------------------------------------------------ */

static void control_dead_letter(bd_daemon_t *d, const rd_kafka_message_t *m,
				bd_dead_reason_t why, const char *detail)
{
	const char *reason = bd_dead_reason_name(why);
	bd_dead_letter_t dl = {
		.topic = rd_kafka_topic_name(m->rkt), .partition = m->partition,
		.offset = m->offset, .ts_ms = wall_ms(), .reason = reason,
		.detail = detail, .key = m->key,
		.key_len = bd_dead_keep(why, m->key_len), .payload = m->payload,
		.payload_len = bd_dead_keep(why, m->len),
	};
	d->control_dead[why]++;
	bd_warn("control %d@%lld rejected: %s: %s", m->partition,
		(long long)m->offset, reason, detail);
	if (bd_encode_dead_letter(d->codec, &dl, &d->out) != 0 ||
	    bd_outbox_add(d->outbox, d->batch, BD_OUTBOX_GLOBAL, BD_MSG_DEADLETTER,
			  m->key, dl.key_len, d->out.data, d->out.len) != 0)
		bd_error("cannot dead-letter control %d@%lld", m->partition,
			 (long long)m->offset);
}

/* A command whose id was applied before is ignored (the schema says so:
 * a producer's retry must not apply it twice), dead-lettered as a
 * duplicate and counted.  @returns 1 if @p cmd is new, 0 if it was
 * dead-lettered, <0 on a store error (logged). */
static int command_seen(bd_daemon_t *d, const rd_kafka_message_t *m,
			const bd_control_command_t *cmd)
{
	char errstr[256], q[BD_UTF8_QUOTE_ID], qc[BD_UTF8_QUOTE_ID];
	uint64_t seq = 0;
	int err = bd_cmdids_seen(&d->cmdids, cmd->command_id, &seq);
	if (err < 0) {
		bd_error("control %d@%lld: cannot read the remembered command ids: %s",
			 m->partition, (long long)m->offset, bd_strerror(err));
		return err;
	}
	if (err == 1)
		return 1;
	snprintf(errstr, sizeof(errstr),
		 "command_id '%s' was applied before; ignored (%s %s; command %llu of "
		 "those remembered)",
		 bd_utf8_quote(q, sizeof(q), cmd->command_id), bd_action_name(cmd->action),
		 bd_utf8_quote(qc, sizeof(qc), cmd->campaign_id), (unsigned long long)seq + 1);
	d->n_control_dups++;
	control_dead_letter(d, m, BD_DEAD_DUPLICATE, errstr);
	return 0;
}

static void on_control_message(bd_daemon_t *d, rd_kafka_message_t *m)
{
	bd_control_command_t cmd;
	bd_campaign_t *c;
	char errstr[512];
	uint8_t rec[sizeof(bd_campaign_t) + 8];
	int err, effect, n_before = d->campaigns.n;
	/* for the log: how long the command took to reach us, and to a plan */
	const int64_t t_in = wall_ms(), t_sent = rd_kafka_message_timestamp(m, NULL);

	d->n_control_in++;

	if (bd_dead_oversized(m->key_len, m->len, d->cfg->input_max_bytes, errstr,
			      sizeof(errstr))) {
		/* not decoded: see the workers' oversized() */
		err = BD_EINVAL;
		control_dead_letter(d, m, BD_DEAD_OVERSIZED, errstr);
		goto done;
	}
	err = bd_decode_control(d->codec, m->payload, m->len, &cmd, errstr,
				sizeof(errstr));
	if (err) {
		control_dead_letter(d, m, bd_decode_dead_reason(err), errstr);
		goto done;
	}
	if ((err = command_seen(d, m, &cmd)) != 1) {
		if (err < 0) {
			d->exit_code = 1;
			return;
		}
		err = BD_EDUP;
		goto done;
	}
	err = bd_campaigns_apply(&d->campaigns, &cmd, d->cfg->exploration, &effect,
				 &c, errstr, sizeof(errstr));
	if (err) {
		control_dead_letter(d, m, err == BD_EUNKNOWN ? BD_DEAD_UNKNOWN_CAMPAIGN
							    : BD_DEAD_INVALID, errstr);
		goto done;
	}
	if (d->campaigns.n != n_before && plans_sync(d, cmd.campaign_id) != 0) {
		bd_error("out of memory");
		d->exit_code = 1;
		return;
	}
	int len = bd_campaign_pack(c, rec, sizeof(rec));
	bd_store_batch_put(d->batch, BD_CF_CAMPAIGNS, c->id, strlen(c->id), rec,
			   (size_t)len);
	/* the id with the effect, in one batch: a replay is exact */
	if (bd_cmdids_remember(&d->cmdids, d->batch, cmd.command_id,
			       d->cfg->control_ids_max) != 0) {
		bd_error("control %d@%lld: cannot read the remembered command ids",
			 m->partition, (long long)m->offset);
		d->exit_code = 1;
		return;
	}
	bd_info("control: %s %s (budget %.2f, %d treatments%s)",
		bd_action_name(cmd.action), c->id, c->daily_budget,
		c->n_treatments, c->paused ? ", paused" : "");
	if (effect & BD_EFFECT_RETRAIN)
		start_training(d, "RETRAIN command");
done:
	bd_store_batch_offset(d->batch, rd_kafka_topic_name(m->rkt), m->partition,
			      m->offset + 1);
	if (write_batch(d) != 0) {
		bd_cmdids_init(&d->cmdids, d->store); /* read back what is stored */
		d->exit_code = 1;
		return;
	}
	if (!err) {
		/* re-solve at once: a budget change takes effect within a
		 * solve, not at the next timer tick */
		int ci = (int)(bd_campaigns_find(&d->campaigns, cmd.campaign_id) -
			       d->campaigns.v);
		/* the workers need the changed campaign even if no plan came */
		if (!solve(d, ci, "control", false))
			publish_snapshot(d);
		const int64_t t_out = wall_ms();
		bd_info("control: %s %s: plan written %lld ms after the command arrived, "
			"%lld ms after it was sent",
			bd_action_name(cmd.action), cmd.campaign_id, (long long)(t_out - t_in),
			t_sent > 0 ? (long long)(t_out - t_sent) : -1LL);
	}
}

/* Assigns partition 0 of the control topic at @p offset, its messages to
 * d->control_q (assign points them at the consumer's own queue first).
 * @locality the main loop. */
static int control_assign(bd_daemon_t *d, int64_t offset)
{
	const char *ctopic = d->cfg->topic[BD_MSG_CONTROL];
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, ctopic, 0)->offset = offset;
	int err = rd_kafka_assign(d->control, tp) ? BD_EKAFKA : 0;
	rd_kafka_topic_partition_list_destroy(tp);
	if (err)
		return err;
	rd_kafka_queue_t *pq = rd_kafka_queue_get_partition(d->control, ctopic, 0);
	if (pq) {
		rd_kafka_queue_forward(pq, d->control_q);
		rd_kafka_queue_destroy(pq);
	}
	return 0;
}

/* The control offset to read is not on the broker (auto.offset.reset=error,
 * as the workers' offset_lost): said, counted, noted, and the topic read on
 * from the start of its log; control_reset_done tells the range skipped.
 * @locality the main loop. */
static void control_offset_lost(bd_daemon_t *d, const rd_kafka_message_t *m)
{
	const char *topic = d->cfg->topic[BD_MSG_CONTROL];
	int64_t from = m->offset >= 0 ? m->offset : bd_store_offset_get(d->store, topic, 0);
	bd_warn("control topic %s/0: offset %lld is not on the broker (%s); reading on from "
		"the start of its log", topic, (long long)from, rd_kafka_message_errstr(m));
	bd_health_note(d->health, BD_HEALTH_INPUT, "%s/0: offset %lld is not on the broker",
		       topic, (long long)from);
	d->control_resets++;
	if (d->control_reset_from < 0 && from >= 0)
		d->control_reset_from = from;
	if (control_assign(d, RD_KAFKA_OFFSET_BEGINNING))
		bd_error("control topic %s/0: cannot assign it again", topic);
}

/* The first control message after control_offset_lost. */
static void control_reset_done(bd_daemon_t *d, const rd_kafka_message_t *m)
{
	const char *topic = d->cfg->topic[BD_MSG_CONTROL];
	int64_t from = d->control_reset_from;
	d->control_reset_from = -1;
	if (m->offset > from) {
		d->control_skipped += (uint64_t)(m->offset - from);
		bd_error("control topic %s/0: offsets %lld..%lld SKIPPED (%lld offsets): gone from "
			 "the broker before budgetd read them (retention, or a lost log); reading "
			 "on at %lld", topic, (long long)from, (long long)(m->offset - 1),
			 (long long)(m->offset - from), (long long)m->offset);
		bd_health_note(d->health, BD_HEALTH_INPUT,
			       "%s/0: offsets %lld..%lld skipped (gone from the broker)", topic,
			       (long long)from, (long long)(m->offset - 1));
	} else if (m->offset < from) {
		bd_warn("control topic %s/0: the log now ends before offset %lld (truncated or "
			"made anew): reading it again from %lld", topic, (long long)from,
			(long long)m->offset);
		bd_health_note(d->health, BD_HEALTH_INPUT, "%s/0: the log went back from %lld to %lld",
			       topic, (long long)from, (long long)m->offset);
	}
}

/* One message or event of the control queue.  @returns 1 for a command
 * (applied or dead-lettered).  @locality the main loop. */
static int control_consume(bd_daemon_t *d, rd_kafka_message_t *m)
{
	if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
		control_offset_lost(d, m);
		return 0;
	}
	if (m->err) {
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			bd_warn("control consumer: %s", rd_kafka_message_errstr(m));
		return 0;
	}
	if (d->control_reset_from >= 0)
		control_reset_done(d, m);
	on_control_message(d, m);
	return 1;
}

static void on_control(uv_poll_t *h, int status, int events)
{
	bd_kafka_waker_t *wk = h->data;
	bd_daemon_t *d = wk->data;
	rd_kafka_message_t *m;
	bd_kafka_waker_drain(wk);
	while ((m = rd_kafka_consume_queue(d->control_q, 0))) {
		(void)control_consume(d, m);
		rd_kafka_message_destroy(m);
	}
}

static void on_producer(uv_poll_t *h, int status, int events)
{
	bd_kafka_waker_t *wk = h->data;
	bd_kafka_waker_drain(wk);
	rd_kafka_poll(((bd_daemon_t *)wk->data)->producer, 0);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	bd_daemon_t *d = opaque;
	if (m->err)
		bd_health_note(d->health, BD_HEALTH_OUTPUT, "delivery to %s failed: %s",
			       rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
	bd_outbox_on_delivery(d->outbox, m);
}

/* @locality the main loop (served by the producer and control polls). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	bd_daemon_t *d = opaque;
	if (bd_kafka_on_error(d->health, rk, err, reason))
		d->kafka_fatal = 1;
}

static void begin_shutdown(bd_daemon_t *d);
static void check_coverage(bd_daemon_t *d);

/* Logs each change of the health state; stops on a fatal client error.
 * @locality the main loop. */
static void on_health_timer(uv_timer_t *t)
{
	bd_daemon_t *d = t->data;
	int64_t now = (int64_t)(uv_hrtime() / 1000000);
	char why[300];
	check_coverage(d); /* first: its condition counts in this evaluation */
	int deg = bd_health_eval(d->health, now, why, sizeof(why));

	if (deg && !d->degraded) {
		d->degraded_since_ms = now;
		bd_warn("health: degraded: %s", why);
	} else if (!deg && d->degraded) {
		bd_info("health: ok again after %.1f s degraded",
			(double)(now - d->degraded_since_ms) / 1000);
	}
	d->degraded = deg;
	if (deg)
		snprintf(d->health_why, sizeof(d->health_why), "%s", why);
	check_history(d);
	if (d->kafka_fatal && !d->stopping) {
		d->exit_code = 1;
		begin_shutdown(d);
	}
}

/* ---- start-up pieces ------------------------------------------------------- */

/* ---- the admin endpoint ------------------------------------------------------ */


static const char *const store_props[] = {
	"rocksdb.estimate-num-keys",	  "rocksdb.total-sst-files-size",
	"rocksdb.cur-size-all-mem-tables", "rocksdb.estimate-live-data-size",
	"rocksdb.num-running-compactions", "rocksdb.num-running-flushes",
	"rocksdb.block-cache-usage",
};

static void admin_put(bd_daemon_t *d, bd_admin_doc_t doc, int status, const char *type,
		      bd_sbuf_t *b)
{
	size_t len;
	if (bd_sbuf_failed(b)) {
		bd_sbuf_free(b);
		bd_warn("admin: out of memory rendering %s", bd_admin_doc_path(doc));
		return;
	}
	char *body = bd_sbuf_take(b, &len);
	bd_admin_publish(d->admin, doc, status, type, body, len);
}

/* Renders every admin document from the main loop's state and hands them to
 * the server thread.  @locality the main loop. */
static void admin_refresh(bd_daemon_t *d)
{
	static const char json[] = "application/json", text[] = "text/plain; charset=utf-8";
	const int nc = d->campaigns.n;
	const bd_report_track_t **tracks = calloc((size_t)(nc ? nc : 1), sizeof(*tracks));
	int64_t *clock_now = calloc((size_t)(nc ? nc : 1), sizeof(*clock_now)), latest = 0;
	bd_report_lag_t *lag = calloc((size_t)(2 * d->cfg->topic_partitions + 1), sizeof(*lag));
	double store_val[BD_ARRAY_SIZE(store_props)];
	bd_sbuf_t b = BD_SBUF_INIT;

	if (!d->admin || !tracks || !lag || !clock_now)
		goto out;
	for (int i = 0; i < nc; i++)
		if ((clock_now[i] = campaign_now(d, &d->campaigns.v[i])) > latest)
			latest = clock_now[i];
	bd_report_t r = {
		.cfg = d->cfg, .now_ms = latest, .campaign_now = clock_now,
		.started_ms = d->started_ms, .ready = d->ready && d->active && !d->stopping,
		.degraded = d->degraded, .why = d->health_why, .bootstrap = d->bootstrap,
		.campaigns = &d->campaigns, .plans = d->plans, .tracks = tracks,
		.model = d->model, .lag = lag, .n_store = (int)BD_ARRAY_SIZE(store_props),
		.store_name = store_props, .store_value = store_val,
		.control_in = d->n_control_in, .control_dups = d->n_control_dups,
		.plans_out = d->n_plans_out,
		.models_out = d->n_models_out,
	};
	if (r.now_ms <= 0)
		r.now_ms = wall_ms();
	for (int s = 0; s < BD_HEALTH__COUNT; s++)
		r.health_problems[s] = bd_health_count(d->health, (bd_health_src_t)s);
	r.rss_bytes = bd_report_rss_bytes();
	r.have_mem = d->store && bd_store_memory(d->store, &r.mem) == 0;
	r.active = d->active;
	r.inputs_paused = d->inputs_paused;
	r.lock_changes = bd_lock_changes(d->lock);
	for (int k = 0; k < BD_DEAD__COUNT; k++)
		r.control_dead += d->control_dead[k];
	counters_sum(d, &r.counters);
	for (int in = 0; in < 2; in++) {
		r.input_resets[in] = r.counters.input_resets[in];
		r.input_skipped[in] = r.counters.input_skipped[in];
	}
	r.input_resets[2] = d->control_resets;
	r.input_skipped[2] = d->control_skipped;
	bd_histo_add_to(&d->solve_histo, &r.solve);
	for (int i = 0; i < d->n_workers; i++) {
		bd_worker_latency(d->workers[i], &r.latency);
		for (int in = 0; in < 2; in++)
			for (int p = 0; p < d->cfg->topic_partitions; p++) {
				int64_t l = bd_worker_lag(d->workers[i], in, p);
				if (l >= 0 && r.n_lag < 2 * d->cfg->topic_partitions)
					lag[r.n_lag++] = (bd_report_lag_t){
						d->cfg->topic[in ? BD_MSG_OUTCOME : BD_MSG_FEATURE],
						p, l};
			}
	}
	for (size_t i = 0; i < BD_ARRAY_SIZE(store_props); i++)
		if (!d->store || bd_store_property(d->store, store_props[i], &store_val[i]))
			store_val[i] = NAN;
	for (int i = 0; i < nc; i++)
		for (int t = 0; t < d->n_tracks; t++)
			if (strcmp(d->tracks[t]->campaign_id, d->campaigns.v[i].id) == 0)
				tracks[i] = d->tracks[t];

	bd_report_metrics(&r, &b);
	admin_put(d, BD_ADMIN_METRICS, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
	if (d->degraded)
		bd_sbuf_printf(&b, "degraded: %s\n", d->health_why);
	else
		bd_sbuf_cat(&b, "ok\n");
	admin_put(d, BD_ADMIN_HEALTHZ, d->degraded ? 503 : 200, text, &b);
	bd_sbuf_cat(&b, r.ready ? "ready\n" : "not ready\n");
	admin_put(d, BD_ADMIN_READYZ, r.ready ? 200 : 503, text, &b);
	bd_report_api_status(&r, &b);
	admin_put(d, BD_ADMIN_API_STATUS, 200, json, &b);
	bd_report_api_campaigns(&r, &b);
	admin_put(d, BD_ADMIN_API_CAMPAIGNS, 200, json, &b);
	bd_report_api_plans(&r, &b);
	admin_put(d, BD_ADMIN_API_PLANS, 200, json, &b);
	bd_report_api_clusters(&r, &b);
	admin_put(d, BD_ADMIN_API_CLUSTERS, 200, json, &b);
	bd_report_api_models(&r, &b);
	admin_put(d, BD_ADMIN_API_MODELS, 200, json, &b);
	bd_report_api_health(&r, &b);
	admin_put(d, BD_ADMIN_API_HEALTH, 200, json, &b);
	bd_report_api_config(&r, &b);
	admin_put(d, BD_ADMIN_API_CONFIG, 200, json, &b);
	bd_report_text_campaigns(&r, &b);
	admin_put(d, BD_ADMIN_TEXT_CAMPAIGNS, 200, text, &b);
	bd_report_text_plans(&r, &b);
	admin_put(d, BD_ADMIN_TEXT_PLANS, 200, text, &b);
	bd_report_text_clusters(&r, &b);
	admin_put(d, BD_ADMIN_TEXT_CLUSTERS, 200, text, &b);
	bd_report_text_models(&r, &b);
	admin_put(d, BD_ADMIN_TEXT_MODELS, 200, text, &b);
	bd_report_text_config(&r, &b);
	admin_put(d, BD_ADMIN_TEXT_CONFIG, 200, text, &b);
	bd_report_text_health(&r, &b);
	admin_put(d, BD_ADMIN_TEXT_HEALTH, 200, text, &b);
out:
	free(tracks);
	free(clock_now);
	free(lag);
}

static void on_admin_timer(uv_timer_t *t)
{
	admin_refresh(t->data);
}

static int load_campaigns_cb(const char *key, size_t klen, const char *val,
			     size_t vlen, void *opaque)
{
	bd_daemon_t *d = opaque;
	bd_campaign_t c;
	char q[BD_UTF8_QUOTE_ID], id[BD_ID_MAX];
	if (bd_campaign_unpack(&c, val, vlen) != 0) {
		snprintf(id, sizeof(id), "%.*s", (int)(klen < BD_ID_MAX ? klen : BD_ID_MAX - 1), key);
		bd_warn("campaign record '%s' is damaged; skipped", bd_utf8_quote(q, sizeof(q), id));
		return 0;
	}
	/* a release before the UTF-8 checks created campaigns from any bytes:
	 * no event can name such a campaign any more (encoding), and its
	 * plans would not decode */
	if (!bd_utf8_valid(c.id, strlen(c.id), NULL)) {
		bd_warn("campaign '%s': its id is not valid UTF-8 (an older release took it); "
			"not loaded", bd_utf8_quote(q, sizeof(q), c.id));
		return 0;
	}
	if (d->campaigns.n == d->campaigns.cap) {
		int cap = d->campaigns.cap ? 2 * d->campaigns.cap : 8;
		bd_campaign_t *v = realloc(d->campaigns.v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		d->campaigns.v = v;
		d->campaigns.cap = cap;
	}
	d->campaigns.v[d->campaigns.n++] = c; /* the scan is in key order */
	return 0;
}

static int last_model_cb(const char *key, size_t klen, const char *val, size_t vlen,
			 void *opaque)
{
	bd_daemon_t *d = opaque;
	bd_cluster_model_t *m;
	char errstr[256];
	if (bd_decode_model(d->codec, val, vlen, &m, errstr, sizeof(errstr)) != 0) {
		bd_warn("stored model is damaged (%s); skipped", errstr);
		return 0;
	}
	if (m->dim != d->cfg->features_dim || m->k != d->cfg->clusters) {
		bd_warn("stored model %lld has dim %d and K %d, the configuration %d and %d; "
			"not used", (long long)m->version, m->dim, m->k, d->cfg->features_dim,
			d->cfg->clusters);
		bd_cluster_model_unref(m);
		return 0;
	}
	/* keys are big-endian versions: the last one seen is the newest */
	bd_cluster_model_unref(d->model);
	d->model = m;
	return 0;
}

/* Campaign @p ci's last published plan from the store, if it has one that
 * fits the model and the campaign: its workers decide with it until the
 * first solve.  A plan that does not (damaged, another K after a
 * configuration change) is said and left out: the first solve makes one. */
static void load_plan(bd_daemon_t *d, int ci)
{
	const bd_campaign_t *c = &d->campaigns.v[ci];
	char *val = NULL, errstr[256], q[BD_UTF8_QUOTE_ID];
	size_t vlen = 0;
	bd_plan_msg_t m;
	bd_plan_t *p = NULL;

	if (bd_store_get(d->store, BD_CF_PLANS, c->id, strlen(c->id), &val, &vlen) != 0)
		return;
	if (bd_decode_plan(d->codec, val, vlen, &m, errstr, sizeof(errstr)) == 0 &&
	    bd_plan_from_msg(&m, d->model->k, c->n_treatments, &p, errstr,
			     sizeof(errstr)) == 0 &&
	    strcmp(p->campaign_id, c->id) != 0) {
		snprintf(errstr, sizeof(errstr), "it is campaign '%s''s",
			 bd_utf8_quote(q, sizeof(q), p->campaign_id));
		bd_plan_unref(p);
		p = NULL;
	}
	free(val);
	if (!p) {
		bd_warn("campaign %s: its stored plan is not restored (%s); the first solve "
			"makes one", bd_utf8_quote(q, sizeof(q), c->id), errstr);
		return;
	}
	d->plans[ci] = p;
}

static int load_state(bd_daemon_t *d)
{
	uint8_t none[0];
	int err = bd_store_scan(d->store, BD_CF_MODELS, none, 0, last_model_cb, d);
	if (err)
		return err;
	if (d->model->version > 0)
		bd_info("model %lld restored (%s, K=%d)", (long long)d->model->version,
			d->model->kind, d->model->k);
	/* its statistics are carried over (carry.h) if it was promoted so */
	if (d->model->version > 0 && bd_carry_get_target(d->store) == d->model->version)
		d->carry = bd_cluster_model_ref(d->model);
	err = bd_store_scan(d->store, BD_CF_CAMPAIGNS, none, 0, load_campaigns_cb, d);
	if (err)
		return err;
	if ((err = plans_sync(d, NULL)))
		return err;
	if ((err = bd_clocks_load(&d->clocks, d->store)))
		return err;
	for (int i = 0; i < d->campaigns.n; i++)
		load_plan(d, i);
	bd_info("state: %d campaigns restored", d->campaigns.n);
	return 0;
}

static int start_kafka(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf;
	const char *ctopic = d->cfg->topic[BD_MSG_CONTROL];
	int err;

	/* producer for plans and control dead letters */
	if (!(conf = bd_kafka_conf_new(d->cfg, d->bootstrap, errstr, errstr_size)))
		return BD_ECONFIG;
	if ((err = bd_kafka_conf_set(conf, "client.id", "budgetd-main", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_set(conf, "partitioner", "murmur2_random", errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return err;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, d);
	if (!(d->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return BD_EKAFKA;
	}
	/* the control consumer: every instance reads every command, so it
	 * assigns the partitions itself (no group) at the stored offset */
	if (!(conf = bd_kafka_conf_new(d->cfg, d->bootstrap, errstr, errstr_size)))
		return BD_ECONFIG;
	if ((err = bd_kafka_conf_set(conf, "client.id", "budgetd-control", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size)) ||
	    /* a lost offset is reported (control_offset_lost), not skipped */
	    (err = bd_kafka_conf_set(conf, "auto.offset.reset", "error", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_set(conf, "group.id", "budgetd-control-unused", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_default(conf, d->cfg, "fetch.wait.max.ms", "10", errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return err;
	}
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, d);
	if (!(d->control = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return BD_EKAFKA;
	}
	d->outbox = bd_outbox_new(d->store, d->producer, d->cfg->topic);
	if (!d->outbox)
		return -ENOMEM;
	d->control_q = rd_kafka_queue_new(d->control);
	d->producer_q = rd_kafka_queue_get_main(d->producer);
	int64_t off = bd_store_offset_get(d->store, ctopic, 0);
	if ((err = control_assign(d, off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING))) {
		snprintf(errstr, errstr_size, "cannot assign %s/0", ctopic);
		return err;
	}
	/* The control waker starts after the catch-up (catch_up_control):
	 * running during it, it would apply the commands itself and the
	 * catch-up would wait for messages already taken. */
	d->control_waker.data = d->producer_waker.data = d;
	if ((err = bd_kafka_waker_start(&d->producer_waker, &d->loop,
					d->producer_q, on_producer))) {
		snprintf(errstr, errstr_size, "libuv: %s", uv_strerror(err));
		return err;
	}
	return bd_outbox_recover(d->outbox, BD_OUTBOX_GLOBAL);
}

/* Applies the control topic up to its end before any worker starts, so no
 * feature event of a campaign created while we were down is dead-lettered
 * as "unknown campaign". */
static int catch_up_control(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	const char *topic = d->cfg->topic[BD_MSG_CONTROL];
	int64_t lo = 0, hi = 0, next = bd_store_offset_get(d->store, topic, 0);
	double deadline = (double)wall_ms() + 60000;
	int n = 0;

	if (rd_kafka_query_watermark_offsets(d->control, topic, 0, &lo, &hi, 30000)) {
		snprintf(errstr, errstr_size, "cannot read the end of %s/0", topic);
		return BD_EKAFKA;
	}
	if (next < lo)
		next = lo;
	while (next < hi && (double)wall_ms() < deadline && !d->exit_code) {
		uv_run(&d->loop, UV_RUN_NOWAIT); /* a stop request during start-up */
		if (d->signals)
			return 0;
		rd_kafka_message_t *m = rd_kafka_consume_queue(d->control_q, 500);
		if (!m)
			continue;
		if (control_consume(d, m)) {
			next = m->offset + 1;
			n++;
		}
		rd_kafka_message_destroy(m);
	}
	if (next < hi) {
		snprintf(errstr, errstr_size, "control topic %s/0: stuck at offset %lld of %lld",
			 topic, (long long)next, (long long)hi);
		return BD_EKAFKA;
	}
	bd_info("control topic caught up: %d commands applied, offset %lld", n,
		(long long)next);
	if (d->exit_code)
		return BD_ESTORE;
	/* from now on commands arrive through the loop */
	int err = bd_kafka_waker_start(&d->control_waker, &d->loop, d->control_q, on_control);
	if (err)
		snprintf(errstr, errstr_size, "libuv: %s", uv_strerror(err));
	return err;
}

/* Publishes @p m on the models topic once per version: the record in the
 * models column family says it was (outbox: delivered at least once). */
static int publish_model(bd_daemon_t *d, const bd_cluster_model_t *m,
			 const bd_trainer_result_t *r)
{
	static const char *const names[] = {
		"samples", "holdout_conversion_loss", "holdout_value_loss", "holdout_cost_loss",
		"epochs", "inertia", "student_train_agreement", "min_cluster", "max_cluster",
		"seconds", "cluster_floor", "reseeded_clusters", "statistics_samples",
	};
	double values[BD_ARRAY_SIZE(names)];
	if (r)
		memcpy(values, (double[]){r->samples, r->rep.holdout_conv, r->rep.holdout_value,
					  r->rep.holdout_cost, r->rep.epochs, r->inertia,
					  r->student.train_agreement, r->min_cluster,
					  r->max_cluster, r->seconds, r->floor, r->reseeded,
					  r->rebuilt},
		       sizeof(values));
	uint8_t key[8];
	char *val = NULL;
	size_t vlen = 0;
	bd_model_layer_msg_t layers[BD_CLUSTER_MAX_LAYERS];
	int err;

	bd_be64(key, (uint64_t)m->version);
	if (bd_store_get(d->store, BD_CF_MODELS, key, sizeof(key), &val, &vlen) == 0) {
		free(val);
		return 0;
	}
	for (int l = 0; l < m->n_layers; l++)
		layers[l] = (bd_model_layer_msg_t){
			m->layer[l].rows, m->layer[l].cols,
			m->layer[l].act == BD_ACT_RELU ? "relu" : "none",
			m->layer[l].w, m->layer[l].b};
	bd_model_msg_t msg = {
		.model_version = m->version, .ts_ms = wall_ms(), .kind = m->kind,
		.clusters = m->k, .dim = m->dim, .feature_mean = m->mean,
		.feature_scale = m->scale, .n_layers = m->n_layers, .layers = layers,
		.agreement = m->agreement,
		.n_metrics = r ? (int)BD_ARRAY_SIZE(names) : 0,
		.metric_names = names,
		.metric_values = values,
	};
	if ((err = bd_encode_model(d->codec, &msg, &d->out)))
		return err;
	bd_store_batch_put(d->batch, BD_CF_MODELS, key, sizeof(key), d->out.data, d->out.len);
	if ((err = bd_outbox_add(d->outbox, d->batch, BD_OUTBOX_GLOBAL, BD_MSG_MODEL, "model",
				 5, d->out.data, d->out.len)))
		return err;
	bd_info("model %lld (%s, K=%d) published on %s", (long long)m->version, m->kind,
		m->k, d->cfg->topic[BD_MSG_MODEL]);
	d->n_models_out++;
	return write_batch(d);
}

/* ---- counters ----------------------------------------------------------------- */

/* Every worker's counters (running and joined) plus the control consumer's
 * dead letters: what a metrics endpoint will serve. */
static void counters_sum(const bd_daemon_t *d, bd_worker_counters_t *sum)
{
	bd_worker_counters_t c;
	*sum = d->joined;
	for (int i = 0; i < d->n_workers; i++) {
		bd_worker_counters(d->workers[i], &c);
		bd_worker_counters_add(sum, &c);
	}
	for (int r = 0; r < BD_DEAD__COUNT; r++) {
		sum->dead[r] += d->control_dead[r];
		sum->dead_letters += d->control_dead[r];
	}
}

/* Logs the counters, when they changed since the last time unless
 * @p always.  Counts only: payloads never go to the log. */
static void counters_log(bd_daemon_t *d, bool always)
{
	bd_worker_counters_t sum;
	char line[512];
	counters_sum(d, &sum);
	uint64_t seen = sum.features + sum.outcomes + sum.dead_letters;
	if (!always && seen == d->counters_logged)
		return;
	d->counters_logged = seen;
	bd_worker_counters_format(&sum, line, sizeof(line));
	bd_info("counters: %s", line);
}

static void on_counters_timer(uv_timer_t *t)
{
	counters_log(t->data, false);
}

/* A backup every checkpoint.interval.s: a consistent checkpoint (state with
 * the offsets it reflects), the newest checkpoint.keep kept.  Hard links on
 * one file system: milliseconds on this thread.  A failure is logged and
 * tried again next time; deciding goes on. */
static void on_checkpoint_timer(uv_timer_t *t)
{
	bd_daemon_t *d = t->data;
	char dir[4096], path[4200], errstr[1024];
	uint64_t t0 = uv_hrtime();
	bd_config_checkpoint_dir(d->cfg, dir, sizeof(dir));
	if (bd_store_checkpoint_rotate(d->store, dir, d->cfg->checkpoint_keep, path,
				       sizeof(path), errstr, sizeof(errstr)) != 0)
		bd_error("checkpoint failed: %s", errstr);
	else
		bd_info("checkpoint written: %s (%.0f ms)", path,
			(double)(uv_hrtime() - t0) / 1e6);
}

/* ---- systemd: readiness, status, watchdog ------------------------------------ */

/* How often the STATUS= summary is refreshed once ready. */
#define STATUS_EVERY_MS 5000
/* How often readiness is checked while the workers wait for partitions. */
#define READY_POLL_MS 100

static void status_summary(bd_daemon_t *d)
{
	bd_worker_counters_t sum;
	counters_sum(d, &sum);
	bd_notify_status("%s: %d workers, %d campaigns, model %lld; features=%llu "
			 "outcomes=%llu decisions=%llu dead letters=%llu; %s",
			 d->active ? "running" : "standby", d->n_workers, d->campaigns.n, (long long)d->model->version,
			 (unsigned long long)sum.features, (unsigned long long)sum.outcomes,
			 (unsigned long long)sum.decisions,
			 (unsigned long long)sum.dead_letters,
			 d->degraded ? "degraded" : "healthy");
}

/* Until every worker holds its first assignment: READY=1 once they do
 * (systemd then starts the units ordered after us, and its watchdog);
 * afterwards the periodic STATUS= line.  The workers publish assignment
 * as an atomic flag, polled here: cheaper than another async handle per
 * worker, and start-up is not timed to 100 ms.  @locality the main loop. */
static void on_ready_timer(uv_timer_t *t)
{
	bd_daemon_t *d = t->data;
	int assigned = 0;

	if (d->ready || d->stopping || !d->active) {
		if (d->sd_ready) {
			status_summary(d);
			uv_timer_set_repeat(t, STATUS_EVERY_MS); /* a standby's too */
		}
		return;
	}
	for (int i = 0; i < d->n_workers; i++)
		assigned += bd_worker_assigned(d->workers[i]);
	if (assigned < d->n_workers) {
		if (assigned != d->assigned_told) /* a line per change, not per poll */
			bd_notify_status("waiting for partitions: %d of %d workers assigned",
					 assigned, d->n_workers);
		d->assigned_told = assigned;
		return;
	}
	d->ready = 1;
	if (!d->sd_ready)
		bd_notify_ready();
	d->sd_ready = 1;
	bd_info("ready: every worker holds its partitions (READY=1)");
	status_summary(d);
	uv_timer_set_repeat(t, STATUS_EVERY_MS);
}

/* WATCHDOG=1 at half systemd's interval, only while every loop is alive:
 * this timer running shows the main loop is; each worker's heartbeat shows
 * its own.  A silent worker stops the pings, and systemd restarts us.
 * @locality the main loop. */
static void on_watchdog_timer(uv_timer_t *t)
{
	bd_daemon_t *d = t->data;
	uint64_t beats[64], now = uv_hrtime();
	/* a tick may come late by a flush interval under load; never call a
	 * loop stuck sooner than half the watchdog interval */
	uint64_t max_age = d->watchdog_usec * 1000 / 2,
		 slack = (uint64_t)d->cfg->flush_interval_ms * 3 * 1000000;
	int n = d->n_workers < 64 ? d->n_workers : 64;

	if (max_age < slack)
		max_age = slack;
	for (int i = 0; i < n; i++)
		beats[i] = bd_worker_heartbeat(d->workers[i]);
	int stale = bd_notify_stale_beat(beats, n, now, max_age);
	if (stale >= 0) {
		if (d->stale_worker != stale)
			bd_error("watchdog: worker %d's loop silent for %.1f s; not telling "
				 "systemd we are alive", stale,
				 (double)(now - beats[stale]) / 1e9);
		d->stale_worker = stale;
		return;
	}
	if (d->stale_worker >= 0)
		bd_warn("watchdog: worker %d's loop is alive again", d->stale_worker);
	d->stale_worker = -1;
	bd_notify_watchdog();
}

/* ---- one deciding instance per group (lock.h) ------------------------------------ */

static void start_timers(bd_daemon_t *d);

/* How long the workers may leave input partitions to another member while
 * each of them holds its assignment before the inputs are paused: within
 * one rebalance of their own the assignments arrive milliseconds apart. */
#define FOREIGN_MEMBER_GRACE_MS 5000

/* Partitions of @p topic from the brokers' metadata, 0 when unknown. */
static int topic_partitions(bd_daemon_t *d, const char *topic)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(d->producer, topic, NULL);
	int n = 0;
	if (!rkt)
		return 0;
	if (rd_kafka_metadata(d->producer, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (int i = 0; i < md->topic_cnt; i++)
			if (!md->topics[i].err && strcmp(md->topics[i].topic, topic) == 0)
				n = md->topics[i].partition_cnt;
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_topic_destroy(rkt);
	return n;
}

static void stop_workers(bd_daemon_t *d)
{
	for (int i = 0; i < d->n_workers; i++)
		bd_worker_stop(d->workers[i]);
	/* joining blocks this loop: the workers drain and write first */
	for (int i = 0; i < d->n_workers; i++) {
		bd_worker_counters_t last;
		/* after the join: a failure while draining counts too */
		if (bd_worker_join(d->workers[i], &last))
			d->exit_code = 1;
		bd_worker_counters_add(&d->joined, &last);
	}
	d->n_workers = 0;
}

/* The lock is ours: the state as of now is solved, the workers start and
 * join the group.  @locality the main loop. */
static int go_active(bd_daemon_t *d)
{
	const bd_config_t *cfg = d->cfg;
	bd_worker_env_t env = {cfg, d->bootstrap, d->store, &d->worker_failed, d->health,
			       &d->worker_carried};
	char errstr[1024] = "";
	int err;

	d->active = 1;
	if ((err = publish_model(d, d->model, NULL))) {
		snprintf(errstr, sizeof(errstr), "cannot publish model %lld: %s",
			 (long long)d->model->version, bd_strerror(err));
		goto fail;
	}
	solve_all(d, "instance lock acquired", false);
	publish_snapshot(d);
	if (!d->snap) {
		err = -ENOMEM;
		goto fail;
	}
	for (int in = 0; in < 2; in++)
		if (!(d->n_parts[in] = topic_partitions(d, cfg->topic[in ? BD_MSG_OUTCOME
									   : BD_MSG_FEATURE])))
			bd_warn("no partition count for %s: the check that this instance's "
				"workers hold every input partition is off",
				cfg->topic[in ? BD_MSG_OUTCOME : BD_MSG_FEATURE]);
	bd_notify_status("starting %d workers", cfg->workers);
	for (int i = 0; i < cfg->workers; i++) {
		if ((err = bd_worker_start(i, &env, d->snap, &d->workers[i], errstr,
					   sizeof(errstr))))
			goto fail;
		d->n_workers++;
	}
	start_timers(d);
	if (cfg->checkpoint_dir[0])
		uv_timer_start(&d->checkpoint_timer, on_checkpoint_timer,
			       (uint64_t)cfg->checkpoint_interval_s * 1000,
			       (uint64_t)cfg->checkpoint_interval_s * 1000);
	d->assigned_told = 0;
	bd_notify_status("waiting for partitions: 0 of %d workers assigned", d->n_workers);
	uv_timer_start(&d->ready_timer, on_ready_timer, READY_POLL_MS, READY_POLL_MS);
	bd_info("budgetd started: %d workers, state in %s, brokers %s", cfg->workers,
		cfg->state_dir, d->bootstrap);
	return 0;
fail:
	bd_error("cannot start deciding: %s", errstr[0] ? errstr : bd_strerror(err));
	stop_workers(d);
	d->active = 0;
	return err ? err : BD_ESTORE;
}

/* The lock is gone: nothing more is decided (the workers' inputs pause at
 * once, before their drain), the workers leave the group, and the
 * instance waits to get the lock again.  @locality the main loop. */
static void go_standby(bd_daemon_t *d)
{
	for (int i = 0; i < d->n_workers; i++)
		bd_worker_suspend(d->workers[i], 1);
	uv_timer_stop(&d->solve_timer);
	uv_timer_stop(&d->pace_timer);
	uv_timer_stop(&d->train_timer);
	uv_timer_stop(&d->checkpoint_timer);
	d->active = 0;
	d->ready = 0;
	d->inputs_paused = 0;
	d->incomplete_since_ms = 0;
	stop_workers(d);
}

/* @locality the main loop (from the lock's poll). */
static void on_lock(void *opaque, bd_lock_state_t state, const char *why)
{
	bd_daemon_t *d = opaque;
	char msg[1200];

	if (d->stopping)
		return;
	if (state == BD_LOCK_HELD) {
		bd_health_set(d->health, BD_HEALTH_INSTANCE, NULL);
		bd_info("instance lock acquired (%s): this instance decides", why);
		if (!d->active && go_active(d) != 0) {
			d->exit_code = 1;
			begin_shutdown(d);
		}
		return;
	}
	if (d->active) {
		bd_error("instance lock lost (%s): another instance may decide now; this one "
			 "stops deciding at once and stands by", why);
		go_standby(d);
	}
	snprintf(msg, sizeof(msg),
		 state == BD_LOCK_STANDBY
			 ? "standby: another instance holds the instance lock of group %s and "
			   "decides; this one decides nothing and takes over when that one leaves "
			   "the group"
			 : "standby: the instance lock of group %s was lost; rejoining its group",
		 bd_lock_group(d->lock));
	bd_warn("%s", msg);
	bd_health_set(d->health, BD_HEALTH_INSTANCE, msg);
	/* systemd: started (a standby is what it should be), not deciding */
	if (!d->sd_ready)
		bd_notify_ready();
	d->sd_ready = 1;
	bd_notify_status("%s", msg);
}

/* The belt to the lock's braces: while this instance decides, its workers
 * must hold every input partition.  If, with each worker holding its
 * assignment, some partition is someone else's for FOREIGN_MEMBER_GRACE_MS
 * (a member in the group without the lock: an older budgetd, another
 * client), nothing is decided here until the workers hold them all again:
 * two deciders would each pace the whole budget.  @locality the main loop. */
static void check_coverage(bd_daemon_t *d)
{
	int64_t now = (int64_t)(uv_hrtime() / 1000000);
	int held = 0, total = 0;
	char msg[600];

	if (!d->active || d->stopping || !d->n_workers)
		return;
	for (int i = 0; i < d->n_workers; i++)
		if (!bd_worker_assigned(d->workers[i]))
			return; /* a rebalance of their own: everything revoked */
	for (int in = 0; in < 2; in++)
		for (int p = 0; p < d->n_parts[in] && p < BD_WORKER_MAX_PARTITIONS; p++) {
			int own = 0;
			for (int i = 0; i < d->n_workers && !own; i++)
				own = bd_worker_owns(d->workers[i], in, p);
			total++;
			held += own;
		}
	if (held == total) {
		d->incomplete_since_ms = 0;
		if (d->inputs_paused) {
			d->inputs_paused = 0;
			for (int i = 0; i < d->n_workers; i++)
				bd_worker_suspend(d->workers[i], 0);
			bd_health_set(d->health, BD_HEALTH_INSTANCE, NULL);
			bd_info("the workers hold every input partition again: inputs resumed");
		}
		return;
	}
	if (!d->incomplete_since_ms)
		d->incomplete_since_ms = now;
	if (d->inputs_paused || now - d->incomplete_since_ms < FOREIGN_MEMBER_GRACE_MS)
		return;
	d->inputs_paused = 1;
	for (int i = 0; i < d->n_workers; i++)
		bd_worker_suspend(d->workers[i], 1);
	snprintf(msg, sizeof(msg),
		 "inputs paused: this instance's workers hold %d of %d input partitions; another "
		 "member is in group %s without the instance lock (an older budgetd, or another "
		 "client?) and two deciders would each pace the whole budget",
		 held, total, d->cfg->group_id);
	bd_error("%s", msg);
	bd_health_set(d->health, BD_HEALTH_INSTANCE, msg);
}

/* ---- reload (SIGHUP) ----------------------------------------------------------- */

typedef struct reload_s {
	int applied, at_restart;
	bool timers, health, log_level;
} reload_t;

static void on_change(void *opaque, const char *name, const char *was, const char *now,
		      bd_config_change_t what)
{
	reload_t *r = opaque;
	if (what == BD_CONFIG_AT_RESTART) {
		r->at_restart++;
		if (strcmp(name, "kafka.*") == 0) /* values may be secrets */
			bd_warn("reload: a kafka.* setting changed: takes effect at restart");
		else
			bd_warn("reload: %s changed: takes effect at restart (running '%s', "
				"configured '%s')", name, was, now);
		return;
	}
	if (what == BD_CONFIG_NOT_APPLIED) {
		bd_error("reload: %s: out of memory; stays '%s'", name, was);
		return;
	}
	r->applied++;
	bd_info("reload: %s = %s (was %s)", name, now, was);
	if (strncmp(name, "health.", 7) == 0)
		r->health = true;
	else if (strcmp(name, "log.level") == 0)
		r->log_level = true;
	else if (strstr(name, ".interval.") || strstr(name, ".check.") ||
		 strcmp(name, "log.counters.s") == 0)
		r->timers = true;
}

/* Timers started with the configuration's intervals (again on reload). */
static void start_timers(bd_daemon_t *d)
{
	const bd_config_t *cfg = d->cfg;
	if (cfg->train_interval_s > 0)
		uv_timer_start(&d->train_timer, on_train_timer,
			       (uint64_t)cfg->train_interval_s * 1000,
			       (uint64_t)cfg->train_interval_s * 1000);
	else
		uv_timer_stop(&d->train_timer);
	uv_timer_start(&d->solve_timer, on_solve_timer, (uint64_t)cfg->solve_interval_ms,
		       (uint64_t)cfg->solve_interval_ms);
	uv_timer_start(&d->pace_timer, on_pace_timer, (uint64_t)cfg->pace_check_ms,
		       (uint64_t)cfg->pace_check_ms);
	if (cfg->log_counters_s > 0)
		uv_timer_start(&d->counters_timer, on_counters_timer,
			       (uint64_t)cfg->log_counters_s * 1000,
			       (uint64_t)cfg->log_counters_s * 1000);
	else
		uv_timer_stop(&d->counters_timer);
}

/* Builds the configuration again from the -c file and the -X overrides and
 * applies what can change live; a configuration that does not parse or
 * validate changes nothing.  The main loop owns every live setting, so no
 * worker sees one change under it.  @locality the main loop. */
static void reload(bd_daemon_t *d)
{
	bd_config_t next;
	char errstr[1024];
	reload_t r = {0};
	const char *file = d->src && d->src->file ? d->src->file : NULL;

	if (d->sd_ready)
		bd_notify_reloading();
	bd_info("SIGHUP: reloading the configuration (%s)",
		file ? file : "no -c file: -X settings only");
	if (!d->src || bd_config_build(&next, d->src, errstr, sizeof(errstr)) != 0) {
		bd_warn("reload failed: %s; the running configuration stays",
			d->src ? errstr : "no configuration source");
		if (d->sd_ready)
			bd_notify_status("reload failed: %s", d->src ? errstr : "no source");
		goto out;
	}
	bd_config_reload(d->cfg, &next, on_change, &r);
	bd_config_free(&next);
	if (r.log_level)
		bd_log_level = bd_log_level_parse(d->cfg->log_level);
	if (r.health) {
		bd_health_set_window(d->health, d->cfg->health_window_ms);
		bd_health_set_src_window(d->health, BD_HEALTH_INPUT,
					 (int64_t)d->cfg->health_skip_window_s * 1000);
	}
	/* before start-up finishes, the timers start later with these values */
	if (r.timers && d->started && !d->stopping)
		start_timers(d);
	bd_info("reload done: %d settings applied, %d take effect at restart", r.applied,
		r.at_restart);
out:
	/* READY=1 ends the reload even when it failed: we run on as before */
	if (d->sd_ready) {
		bd_notify_ready();
		status_summary(d);
	}
}

/* ---- signals and shutdown ---------------------------------------------------- */

static void begin_shutdown(bd_daemon_t *d)
{
	if (d->stopping)
		return;
	d->stopping = 1;
	/* first: systemd then waits TimeoutStopSec for the drain below, which
	 * blocks this loop (no watchdog pings from here on) */
	bd_notify_stopping();
	bd_notify_status("shutting down: draining workers");
	uv_timer_stop(&d->ready_timer);
	uv_timer_stop(&d->watchdog_timer);
	bd_info("shutting down: draining workers");
	uv_timer_stop(&d->solve_timer);
	uv_timer_stop(&d->pace_timer);
	uv_timer_stop(&d->health_timer);
	uv_timer_stop(&d->admin_timer);
	stop_workers(d); /* blocks this loop, which has nothing else to do now */
	/* the workers left their group: a standby may take over now */
	bd_lock_stop(d->lock);
	counters_log(d, true);
	rd_kafka_flush(d->producer, 10000);
	rd_kafka_poll(d->producer, 0);
	if (write_batch(d) != 0)
		d->exit_code = 1;
	bd_kafka_waker_stop(&d->control_waker);
	bd_kafka_waker_stop(&d->producer_waker);
	uv_close((uv_handle_t *)&d->solve_timer, NULL);
	uv_close((uv_handle_t *)&d->pace_timer, NULL);
	uv_close((uv_handle_t *)&d->train_timer, NULL);
	uv_close((uv_handle_t *)&d->health_timer, NULL);
	uv_close((uv_handle_t *)&d->admin_timer, NULL);
	uv_close((uv_handle_t *)&d->counters_timer, NULL);
	uv_close((uv_handle_t *)&d->checkpoint_timer, NULL);
	uv_close((uv_handle_t *)&d->ready_timer, NULL);
	uv_close((uv_handle_t *)&d->watchdog_timer, NULL);
	uv_close((uv_handle_t *)&d->worker_failed, NULL);
	uv_close((uv_handle_t *)&d->worker_carried, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sighup, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
	bd_daemon_t *d = s->data;
	if (signum == SIGHUP) {
		if (d->stopping)
			bd_info("SIGHUP while shutting down: ignored");
		else
			reload(d);
		return;
	}
	if (++d->signals == 1 && !d->started) {
		/* start-up checks d->signals between its steps */
		bd_info("stop requested during start-up");
		return;
	}
	if (d->signals > 1) {
		/* "Quit now": every written batch is consistent, so skipping the
		 * drain loses nothing; unwritten input is read again. */
		bd_warn("second signal: exiting at once");
		_exit(130);
	}
	begin_shutdown(d);
}

static void on_worker_failed(uv_async_t *a)
{
	bd_daemon_t *d = a->data;
	bd_error("a worker stopped on an error; shutting down");
	d->exit_code = 1;
	begin_shutdown(d);
}

/* ---- run ---------------------------------------------------------------- */

static void daemon_free(bd_daemon_t *d)
{
	if (d->control) {
		rd_kafka_consumer_close(d->control);
		if (d->control_q)
			rd_kafka_queue_destroy(d->control_q);
		rd_kafka_destroy(d->control);
	}
	if (d->producer_q)
		rd_kafka_queue_destroy(d->producer_q);
	if (d->producer)
		rd_kafka_destroy(d->producer);
	bd_outbox_free(d->outbox);
	for (int i = 0; i < d->campaigns.n; i++)
		if (d->plans)
			bd_plan_unref(d->plans[i]);
	free(d->plans);
	bd_campaigns_free(&d->campaigns);
	bd_snapshot_unref(d->snap);
	bd_clocks_free(&d->clocks); /* after every snapshot that points to them */
	bd_cluster_model_unref(d->model);
	bd_cluster_model_unref(d->next_model);
	bd_cluster_model_unref(d->carry);
	free(d->carry_parts);
	bd_codec_free(d->codec);
	bd_buf_free(&d->out);
	bd_store_batch_destroy(d->batch);
	bd_store_close(d->store);
	bd_broker_stop(d->broker);
	bd_lock_free(d->lock);
	bd_health_free(d->health);
	bd_admin_stop(d->admin);
	for (int i = 0; i < d->n_tracks; i++)
		bd_report_track_free(d->tracks[i]);
	free(d->tracks);
	free(d->bootstrap);
	free(d->workers);
}

static int make_dirs(const char *path, char *errstr, size_t errstr_size)
{
	char buf[4096];
	if ((errno = bd_store_mkdirs(path, buf, sizeof(buf))) != 0)
		goto fail;
	/* RocksDB's own message for a file in the way names neither the
	 * setting nor the path */
	struct stat sb;
	if (stat(buf, &sb) != 0)
		goto fail;
	if (!S_ISDIR(sb.st_mode)) {
		errno = ENOTDIR;
		goto fail;
	}
	if (access(buf, W_OK) != 0)
		goto fail;
	return 0;
fail:
	snprintf(errstr, errstr_size, "state.dir: cannot create or write %.900s: %s",
		 buf, strerror(errno));
	return BD_ECONFIG;
}

int bd_daemon_run(bd_config_t *cfg, const bd_config_source_t *src)
{
	bd_daemon_t d = {.cfg = cfg, .src = src, .stale_worker = -1, .control_reset_from = -1};
	char errstr[1024] = "";
	int err;

	bd_clock_rule_from_config(&d.clock_rule, cfg);
	uv_loop_init(&d.loop);
	/* Signals first, so a stop asked for during start-up ends it cleanly
	 * instead of by the default action. */
	uv_signal_init(&d.loop, &d.sigint);
	uv_signal_init(&d.loop, &d.sigterm);
	uv_signal_init(&d.loop, &d.sighup);
	d.sigint.data = d.sigterm.data = d.sighup.data = &d;
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sighup, on_signal, SIGHUP);
	uv_timer_init(&d.loop, &d.solve_timer);
	d.solve_timer.data = &d;
	uv_timer_init(&d.loop, &d.pace_timer);
	d.pace_timer.data = &d;
	uv_timer_init(&d.loop, &d.train_timer);
	d.train_timer.data = &d;
	uv_timer_init(&d.loop, &d.counters_timer);
	d.counters_timer.data = &d;
	uv_timer_init(&d.loop, &d.health_timer);
	d.health_timer.data = &d;
	uv_timer_init(&d.loop, &d.checkpoint_timer);
	d.checkpoint_timer.data = &d;
	uv_timer_init(&d.loop, &d.admin_timer);
	d.admin_timer.data = &d;
	uv_timer_init(&d.loop, &d.ready_timer);
	d.ready_timer.data = &d;
	uv_timer_init(&d.loop, &d.watchdog_timer);
	d.watchdog_timer.data = &d;
	/* every handle the failure path closes exists before the first failure */
	uv_async_init(&d.loop, &d.worker_failed, on_worker_failed);
	d.worker_failed.data = &d;
	uv_async_init(&d.loop, &d.worker_carried, on_worker_carried);
	d.worker_carried.data = &d;
	d.started_ms = wall_ms();
	/* first, so /healthz and /readyz answer during a slow start */
	if (cfg->admin_listen[0]) {
		if ((err = bd_admin_start(cfg->admin_listen, &d.admin, errstr, sizeof(errstr))))
			goto fail;
		bd_info("admin endpoint on http://%s (port %d)", cfg->admin_listen,
			bd_admin_port(d.admin));
		bd_sbuf_t page = BD_SBUF_INIT; /* the status page never changes */
		bd_sbuf_cat(&page, bd_status_html);
		admin_put(&d, BD_ADMIN_STATUS, 200, "text/html; charset=utf-8", &page);
	}
	if (!(d.health = bd_health_new(cfg->health_window_ms))) {
		err = -ENOMEM;
		goto fail;
	}
	/* from here: client errors during start-up count too */
	uv_timer_start(&d.health_timer, on_health_timer, 500, 500);
	uv_timer_start(&d.admin_timer, on_admin_timer, (uint64_t)cfg->admin_refresh_ms,
		       (uint64_t)cfg->admin_refresh_ms);
	bd_notify_status("opening state in %s", cfg->state_dir);
	if ((err = make_dirs(cfg->state_dir, errstr, sizeof(errstr))) ||
	    (err = bd_store_open(cfg->state_dir, &d.store, errstr, sizeof(errstr))))
		goto fail;
	bd_cmdids_init(&d.cmdids, d.store);
	if (!cfg->bootstrap_servers[0]) {
		if ((err = bd_broker_start(cfg, &d.broker, errstr, sizeof(errstr))))
			goto fail;
		d.bootstrap = strdup(bd_broker_bootstraps(d.broker));
		/* tests and the demo read this line */
		printf("bootstrap=%s\n", d.bootstrap);
		fflush(stdout);
	} else {
		d.bootstrap = strdup(cfg->bootstrap_servers);
	}
	if ((err = bd_codec_new((const uint32_t *)cfg->schema_id,
				bd_config_output_format(cfg), &d.codec, errstr,
				sizeof(errstr))))
		goto fail;
	if ((err = bd_cluster_model_initial(cfg->features_dim, cfg->clusters, &d.model)) ||
	    !(d.batch = bd_store_batch_new(d.store))) {
		snprintf(errstr, sizeof(errstr), "out of memory");
		err = -ENOMEM;
		goto fail;
	}
	if ((err = load_state(&d))) {
		snprintf(errstr, sizeof(errstr), "cannot load state: %s", bd_strerror(err));
		goto fail;
	}
	bd_notify_status("replaying control topic %s", cfg->topic[BD_MSG_CONTROL]);
	if ((err = start_kafka(&d, errstr, sizeof(errstr))) ||
	    (err = catch_up_control(&d, errstr, sizeof(errstr))))
		goto fail;
	uv_run(&d.loop, UV_RUN_NOWAIT);
	if (d.signals) {
		bd_info("stopped before the workers started");
		goto stop_early;
	}
	d.workers = calloc((size_t)cfg->workers, sizeof(*d.workers));
	if (!d.workers) {
		err = -ENOMEM;
		snprintf(errstr, sizeof(errstr), "out of memory");
		goto fail;
	}
	bd_health_set_src_window(d.health, BD_HEALTH_INPUT, (int64_t)cfg->health_skip_window_s * 1000);
	/* the workers start once this instance holds the lock (on_lock) */
	if ((err = bd_lock_start(cfg, d.bootstrap, &d.loop, d.health, on_lock, &d, &d.lock,
				 errstr, sizeof(errstr))))
		goto fail;
	d.started = 1;
	bd_notify_status("waiting for the instance lock (group %s)", bd_lock_group(d.lock));
	uv_timer_start(&d.ready_timer, on_ready_timer, READY_POLL_MS, READY_POLL_MS);
	/* systemd arms its watchdog at READY=1; pinging from here is harmless
	 * and covers a slow partition assignment too */
	if ((d.watchdog_usec = bd_notify_watchdog_usec()) > 0) {
		uint64_t every = d.watchdog_usec / 2000; /* half, in ms */
		bd_info("systemd watchdog: %.1f s; WATCHDOG=1 every %llu ms while every "
			"loop is alive", (double)d.watchdog_usec / 1e6,
			(unsigned long long)(every ? every : 1));
		uv_timer_start(&d.watchdog_timer, on_watchdog_timer, every ? every : 1,
			       every ? every : 1);
	}
	bd_info("state in %s, brokers %s: waiting for the instance lock of group %s",
		cfg->state_dir, d.bootstrap, bd_lock_group(d.lock));
	uv_run(&d.loop, UV_RUN_NOWAIT);
	if (d.signals && !d.stopping)
		begin_shutdown(&d); /* asked while the workers were starting */
	uv_run(&d.loop, UV_RUN_DEFAULT);
	uv_loop_close(&d.loop);
	daemon_free(&d);
	bd_info("budgetd stopped");
	return d.exit_code;

fail:
	bd_error("%s", errstr[0] ? errstr : bd_strerror(err));
	d.exit_code = 1;
stop_early:
	uv_close((uv_handle_t *)&d.worker_failed, NULL);
	uv_close((uv_handle_t *)&d.worker_carried, NULL);
	uv_close((uv_handle_t *)&d.solve_timer, NULL);
	uv_close((uv_handle_t *)&d.pace_timer, NULL);
	uv_close((uv_handle_t *)&d.train_timer, NULL);
	uv_close((uv_handle_t *)&d.health_timer, NULL);
	uv_close((uv_handle_t *)&d.admin_timer, NULL);
	uv_close((uv_handle_t *)&d.counters_timer, NULL);
	uv_close((uv_handle_t *)&d.checkpoint_timer, NULL);
	uv_close((uv_handle_t *)&d.ready_timer, NULL);
	uv_close((uv_handle_t *)&d.watchdog_timer, NULL);
	uv_close((uv_handle_t *)&d.sigint, NULL);
	uv_close((uv_handle_t *)&d.sigterm, NULL);
	uv_close((uv_handle_t *)&d.sighup, NULL);
	if (d.control_waker.q)
		bd_kafka_waker_stop(&d.control_waker);
	if (d.producer_waker.q)
		bd_kafka_waker_stop(&d.producer_waker);
	bd_lock_stop(d.lock);
	uv_run(&d.loop, UV_RUN_DEFAULT); /* runs the close callbacks */
	daemon_free(&d);
	uv_loop_close(&d.loop);
	return d.exit_code;
}
