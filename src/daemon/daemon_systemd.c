/* systemd (notify.h): READY=1 once every worker holds its partitions,
 * the periodic STATUS= line, WATCHDOG=1 while every loop is alive. */
#include "budgetd/base/log.h"
#include "budgetd/daemon/notify.h"

#include "daemon_int.h"

/* How often the STATUS= summary is refreshed once ready. */
#define STATUS_EVERY_MS 5000

/* How often readiness is checked while the workers wait for partitions. */
#define READY_POLL_MS 100

void bd_daemon_systemd_status(bd_daemon_t *d)
{
	bd_worker_counters_t sum;
	bd_daemon_admin_counters_sum(d, &sum);
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
			bd_daemon_systemd_status(d);
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
	bd_daemon_systemd_status(d);
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

void bd_daemon_systemd_poll_ready(bd_daemon_t *d)
{
	uv_timer_start(&d->ready_timer, on_ready_timer, READY_POLL_MS, READY_POLL_MS);
}

/* systemd arms its watchdog at READY=1; pinging before is harmless and
 * covers a slow partition assignment too */
void bd_daemon_systemd_start_watchdog(bd_daemon_t *d)
{
	if ((d->watchdog_usec = bd_notify_watchdog_usec()) == 0)
		return;
	uint64_t every = d->watchdog_usec / 2000; /* half, in ms */
	if (!every)
		every = 1;
	bd_info("systemd watchdog: %.1f s; WATCHDOG=1 every %llu ms while every loop is alive",
		(double)d->watchdog_usec / 1e6, (unsigned long long)every);
	uv_timer_start(&d->watchdog_timer, on_watchdog_timer, every, every);
}
