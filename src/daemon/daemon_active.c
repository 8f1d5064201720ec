/* One deciding instance per group (lock.h): the workers run only while
 * this instance holds the instance lock; losing it stops deciding at once.
 * While active, the inputs pause if the workers do not hold every input
 * partition, and checkpoints are written every checkpoint.interval.s. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "budgetd/base/log.h"
#include "budgetd/daemon/notify.h"

#include "daemon_int.h"

/* How long the workers may leave input partitions to another member while
 * each of them holds its assignment before the inputs are paused: within
 * one rebalance of their own the assignments arrive milliseconds apart. */
#define FOREIGN_MEMBER_GRACE_MS 5000

/* Partitions of @p topic from the brokers' metadata, 0 when unknown. */
static int topic_partitions(bd_daemon_t *d, const char *topic)
{
	int n = 0;
	rd_kafka_topic_t *rkt = bd_kafka_topic_lookup(d->producer, topic, 5000, &n);
	if (rkt)
		rd_kafka_topic_destroy(rkt);
	return n;
}

/* changelog.enabled: the changelog's partitions, which must be the
 * inputs' (partition p of the changelog carries input partition p's
 * state).  Fail closed: deciding does not start when they differ or are
 * not known.  @returns 0 or BD_ECONFIG with @p errstr. */
static int changelog_partitions(bd_daemon_t *d, int *n, char *errstr, size_t errstr_size)
{
	const char *topic = d->cfg->topic[BD_MSG_CHANGELOG];
	*n = topic_partitions(d, topic);
	if (*n > 0 && *n == d->n_parts[0] && *n == d->n_parts[1])
		return 0;
	snprintf(errstr, errstr_size,
		 "changelog.enabled: %s has %d partitions, %s %d and %s %d (0: not known); "
		 "the changelog needs one partition per input partition",
		 topic, *n, d->cfg->topic[BD_MSG_FEATURE], d->n_parts[0],
		 d->cfg->topic[BD_MSG_OUTCOME], d->n_parts[1]);
	return BD_ECONFIG;
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

void bd_daemon_active_stop_workers(bd_daemon_t *d)
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
			       &d->worker_carried, 0, d->registry, d->schema_id, -1,
			       &d->restore.seq, NULL};
	char errstr[1024] = "";
	int err;

	d->active = 1;
	for (int in = 0; in < 2; in++)
		if (!(d->n_parts[in] = topic_partitions(d, cfg->topic[in ? BD_MSG_OUTCOME
									   : BD_MSG_FEATURE])))
			bd_warn("no partition count for %s: the check that this instance's "
				"workers hold every input partition is off",
				cfg->topic[in ? BD_MSG_OUTCOME : BD_MSG_FEATURE]);
	/* before anything is solved or decided: the state the last holder
	 * left, from the changelog (daemon_restore.c) */
	if (cfg->changelog_enabled &&
	    ((err = changelog_partitions(d, &env.clog_partitions, errstr, sizeof(errstr))) ||
	     (err = bd_daemon_restore_run(d, env.clog_partitions, &env.clog_epoch, errstr,
					  sizeof(errstr)))))
		goto fail;
	env.clog_end = d->restore.end;
	if ((err = bd_daemon_train_publish_model(d, d->model, NULL))) {
		snprintf(errstr, sizeof(errstr), "cannot publish model %lld: %s",
			 (long long)d->model->version, bd_strerror(err));
		goto fail;
	}
	bd_daemon_solve_all(d, "instance lock acquired", false);
	bd_daemon_solve_publish(d);
	if (!d->snap) {
		err = -ENOMEM;
		goto fail;
	}
	bd_notify_status("starting %d workers", cfg->workers);
	for (int i = 0; i < cfg->workers; i++) {
		if ((err = bd_worker_start(i, &env, d->snap, &d->workers[i], errstr,
					   sizeof(errstr))))
			goto fail;
		d->n_workers++;
	}
	bd_daemon_reload_start_timers(d);
	if (d->restore.newer_model) {
		/* the last holder decided with a model this instance lacks: one
		 * trained on the restored samples replaces the stale own one */
		char why[160];
		snprintf(why, sizeof(why), "taking over: the restored statistics are of model "
			 "%lld, this instance holds %lld", (long long)d->restore.newer_model,
			 (long long)d->model->version);
		const char *whynot = bd_daemon_train_start(d, why);
		if (whynot)
			bd_warn("not training on taking over: %s", whynot);
	}
	if (cfg->checkpoint_dir[0])
		bd_daemon_timer_every(&d->checkpoint_timer, on_checkpoint_timer,
				      (uint64_t)cfg->checkpoint_interval_s * 1000);
	d->assigned_told = 0;
	bd_notify_status("waiting for partitions: 0 of %d workers assigned", d->n_workers);
	bd_daemon_systemd_poll_ready(d);
	bd_info("budgetd started: %d workers, state in %s, brokers %s", cfg->workers,
		cfg->state_dir, d->bootstrap);
	return 0;
fail:
	bd_error("cannot start deciding: %s", errstr[0] ? errstr : bd_strerror(err));
	bd_daemon_active_stop_workers(d);
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
	bd_daemon_active_stop_workers(d);
}

/* @locality the main loop (from the lock's poll). */
void bd_daemon_active_on_lock(void *opaque, bd_lock_state_t state, const char *why)
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
			bd_daemon_shutdown(d);
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
void bd_daemon_active_check_coverage(bd_daemon_t *d)
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
