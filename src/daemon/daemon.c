/* bd_daemon_run: the start-up steps in order, the health timer, signals
 * and the shutdown order, and the state read back from the store at
 * start-up.  The other parts are daemon_*.c (see daemon_int.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "budgetd/policy/carry.h"
#include "budgetd/base/log.h"
#include "budgetd/daemon/notify.h"
#include "budgetd/base/utf8.h"

#include "daemon_int.h"

int bd_daemon_write(bd_daemon_t *d)
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

/* Logs each change of the health state; stops on a fatal client error.
 * @locality the main loop. */
static void on_health_timer(uv_timer_t *t)
{
	bd_daemon_t *d = t->data;
	int64_t now = (int64_t)(uv_hrtime() / 1000000);
	char why[300];
	/* first: its condition counts in this evaluation */
	bd_daemon_active_check_coverage(d);
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
	bd_daemon_train_check_history(d);
	if (d->kafka_fatal && !d->stopping) {
		d->exit_code = 1;
		bd_daemon_shutdown(d);
	}
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
	/* the uniform arms are derived from their campaigns, never stored */
	if ((err = bd_campaigns_sync_all_arms(&d->campaigns)) ||
	    (err = bd_daemon_solve_plans_sync(d)))
		return err;
	if ((err = bd_clocks_load(&d->clocks, d->store)))
		return err;
	for (int i = 0; i < d->campaigns.n; i++)
		load_plan(d, i);
	bd_info("state: %d campaigns restored", d->campaigns.n);
	return 0;
}

/* Closes every handle init_loop made (the loop then runs out). */
static void close_handles(bd_daemon_t *d)
{
	uv_handle_t *h[] = {
		(uv_handle_t *)&d->solve_timer,	     (uv_handle_t *)&d->pace_timer,
		(uv_handle_t *)&d->train_timer,	     (uv_handle_t *)&d->health_timer,
		(uv_handle_t *)&d->admin_timer,	     (uv_handle_t *)&d->counters_timer,
		(uv_handle_t *)&d->checkpoint_timer, (uv_handle_t *)&d->ready_timer,
		(uv_handle_t *)&d->expiry_timer,
		(uv_handle_t *)&d->watchdog_timer,   (uv_handle_t *)&d->worker_failed,
		(uv_handle_t *)&d->worker_carried,   (uv_handle_t *)&d->sigint,
		(uv_handle_t *)&d->sigterm,	     (uv_handle_t *)&d->sighup,
	};
	for (size_t i = 0; i < BD_ARRAY_SIZE(h); i++)
		uv_close(h[i], NULL);
}

void bd_daemon_shutdown(bd_daemon_t *d)
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
	uv_timer_stop(&d->expiry_timer);
	uv_timer_stop(&d->health_timer);
	uv_timer_stop(&d->admin_timer);
	/* blocks this loop, which has nothing else to do now */
	bd_daemon_active_stop_workers(d);
	bd_daemon_restore_stopped(d);
	/* the workers left their group: a standby may take over now */
	bd_lock_stop(d->lock);
	bd_daemon_admin_counters_log(d, true);
	rd_kafka_flush(d->producer, 10000);
	rd_kafka_poll(d->producer, 0);
	if (bd_daemon_write(d) != 0)
		d->exit_code = 1;
	bd_kafka_waker_stop(&d->control_waker);
	bd_kafka_waker_stop(&d->producer_waker);
	close_handles(d);
}

static void on_signal(uv_signal_t *s, int signum)
{
	bd_daemon_t *d = s->data;
	if (signum == SIGHUP) {
		if (d->stopping)
			bd_info("SIGHUP while shutting down: ignored");
		else
			bd_daemon_reload_run(d);
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
	bd_daemon_shutdown(d);
}

static void on_worker_failed(uv_async_t *a)
{
	bd_daemon_t *d = a->data;
	bd_error("a worker stopped on an error; shutting down");
	d->exit_code = 1;
	bd_daemon_shutdown(d);
}

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
	for (size_t i = 0; i < BD_ARRAY_SIZE(d->out_topics); i++)
		if (d->out_topics[i])
			rd_kafka_topic_destroy(d->out_topics[i]);
	if (d->producer)
		rd_kafka_destroy(d->producer);
	bd_outbox_free(d->outbox);
	for (int i = 0; i < d->plans_n; i++)
		bd_plan_unref(d->plans[i]);
	free(d->plans);
	bd_campaigns_free(&d->campaigns);
	bd_snapshot_unref(d->snap);
	bd_clocks_free(&d->clocks); /* after every snapshot that points to them */
	bd_cluster_model_unref(d->model);
	bd_cluster_model_unref(d->next_model);
	bd_cluster_model_unref(d->carry);
	free(d->carry_parts);
	free((void *)d->restore.end);
	bd_codec_free(d->codec);
	bd_registry_free(d->registry); /* after every codec that reads through it */
	bd_buf_free(&d->out);
	bd_store_batch_destroy(d->batch);
	bd_store_close(d->store);
	bd_expiry_free(d->expiry); /* the store's compactions read it until closed */
	bd_broker_stop(d->broker);
	bd_lock_free(d->lock);
	bd_health_free(d->health);
	bd_admin_stop(d->admin);
	for (int i = 0; i < d->n_tracks; i++)
		bd_report_track_free(d->tracks[i]);
	free(d->tracks);
	free(d->bootstrap);
	free(d->workers);
	free(d->cmdlog);
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

/* ---- start-up steps ------------------------------------------------------------ */

/* The loop and every handle the failure path closes, before the first
 * failure.  Signals first, so a stop asked for during start-up ends it
 * cleanly instead of by the default action. */
static void init_loop(bd_daemon_t *d)
{
	uv_timer_t *timers[] = {
		&d->solve_timer,  &d->pace_timer,	 &d->train_timer,
		&d->counters_timer, &d->health_timer, &d->checkpoint_timer,
		&d->admin_timer,  &d->ready_timer,	 &d->watchdog_timer,
		&d->expiry_timer,
	};
	uv_loop_init(&d->loop);
	uv_signal_init(&d->loop, &d->sigint);
	uv_signal_init(&d->loop, &d->sigterm);
	uv_signal_init(&d->loop, &d->sighup);
	d->sigint.data = d->sigterm.data = d->sighup.data = d;
	uv_signal_start(&d->sigint, on_signal, SIGINT);
	uv_signal_start(&d->sigterm, on_signal, SIGTERM);
	uv_signal_start(&d->sighup, on_signal, SIGHUP);
	for (size_t i = 0; i < BD_ARRAY_SIZE(timers); i++) {
		uv_timer_init(&d->loop, timers[i]);
		timers[i]->data = d;
	}
	uv_async_init(&d->loop, &d->worker_failed, on_worker_failed);
	d->worker_failed.data = d;
	uv_async_init(&d->loop, &d->worker_carried, bd_daemon_train_on_carried);
	d->worker_carried.data = d;
	d->started_ms = bd_daemon_wall_ms();
}

/* The health state, and the timers that evaluate and show it: from here,
 * client errors during start-up count too. */
static int start_health(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	if (!(d->health = bd_health_new(d->cfg->health_window_ms))) {
		snprintf(errstr, errstr_size, "out of memory");
		return -ENOMEM;
	}
	uv_timer_start(&d->health_timer, on_health_timer, 500, 500);
	bd_daemon_admin_start_timer(d);
	return 0;
}

/* state.dir opened (created if need be), with the command ids it holds. */
static int open_store(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	int err;
	bd_notify_status("opening state in %s", d->cfg->state_dir);
	if ((err = make_dirs(d->cfg->state_dir, errstr, errstr_size)) ||
	    (err = bd_store_open(d->cfg->state_dir, &d->store, errstr, errstr_size)))
		return err;
	if ((err = bd_expiry_new(&d->expiry))) {
		snprintf(errstr, errstr_size, "out of memory");
		return err;
	}
	bd_cmdids_init(&d->cmdids, d->store);
	return 0;
}

/* bootstrap.servers, or the embedded broker started when it is empty. */
static int find_brokers(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	int err;
	if (d->cfg->bootstrap_servers[0]) {
		d->bootstrap = strdup(d->cfg->bootstrap_servers);
	} else {
		if ((err = bd_broker_start(d->cfg, &d->broker, errstr, errstr_size)))
			return err;
		d->bootstrap = strdup(bd_broker_bootstraps(d->broker));
		/* tests and the demo read this line */
		if (d->bootstrap) {
			printf("bootstrap=%s\n", d->bootstrap);
			fflush(stdout);
		}
	}
	if (!d->bootstrap) {
		snprintf(errstr, errstr_size, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* With schema.registry.url: the schema ids from the registry, before any
 * codec is made (every codec writes them).  The outputs are registered,
 * the inputs looked up; a registry that does not answer stops the start. */
static int registry_ids(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	bd_config_t *cfg = d->cfg;
	unsigned out = 1u << BD_MSG_DECISION | 1u << BD_MSG_PLAN | 1u << BD_MSG_MODEL |
		       1u << BD_MSG_DEADLETTER | (cfg->changelog_enabled ? 1u << BD_MSG_CHANGELOG : 0);
	unsigned in = 1u << BD_MSG_FEATURE | 1u << BD_MSG_OUTCOME | 1u << BD_MSG_CONTROL;
	int err, ids[BD_MSG__COUNT];
	for (int k = 0; k < BD_MSG__COUNT; k++)
		d->schema_id[k] = (uint32_t)(ids[k] = cfg->schema_id[k]);
	if (!cfg->schema_registry_url[0])
		return 0;
	bd_notify_status("asking the schema registry for the schema ids");
	if ((err = bd_registry_from_config(cfg, &d->registry, errstr, errstr_size)))
		return err;
	if ((err = bd_registry_schema_ids(d->registry, cfg->topic, out, in,
					  cfg->schema_registry_auto_register, ids, errstr, errstr_size)))
		return err;
	for (int k = 0; k < BD_MSG__COUNT; k++)
		d->schema_id[k] = (uint32_t)ids[k];
	return 0;
}

/* The codec, the main thread's batch, and what the store holds: model,
 * campaigns, plans, clocks. */
static int restore_state(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	const bd_config_t *cfg = d->cfg;
	int err;
	if ((err = registry_ids(d, errstr, errstr_size)) ||
	    (err = bd_codec_new(d->schema_id, bd_config_output_format(cfg), &d->codec, errstr,
				errstr_size)))
		return err;
	bd_codec_set_registry(d->codec, d->registry);
	if ((err = bd_cluster_model_initial(cfg->features_dim, cfg->clusters, &d->model)) ||
	    !(d->batch = bd_store_batch_new(d->store)) ||
	    !(d->cmdlog = calloc(1, sizeof(*d->cmdlog)))) {
		snprintf(errstr, errstr_size, "out of memory");
		return -ENOMEM;
	}
	if ((err = load_state(d)))
		snprintf(errstr, errstr_size, "cannot load state: %s", bd_strerror(err));
	return err;
}

/* Everything ready to decide; the workers start once this instance holds
 * the instance lock (bd_daemon_active_on_lock). */
static int wait_for_lock(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	const bd_config_t *cfg = d->cfg;
	int err;
	if (!(d->workers = calloc((size_t)cfg->workers, sizeof(*d->workers)))) {
		snprintf(errstr, errstr_size, "out of memory");
		return -ENOMEM;
	}
	bd_health_set_src_window(d->health, BD_HEALTH_INPUT,
				 (int64_t)cfg->health_skip_window_s * 1000);
	if ((err = bd_lock_start(cfg, d->bootstrap, &d->loop, d->health,
				 bd_daemon_active_on_lock, d, &d->lock, errstr, errstr_size)))
		return err;
	d->started = 1;
	bd_notify_status("waiting for the instance lock (group %s)", bd_lock_group(d->lock));
	bd_daemon_systemd_poll_ready(d);
	bd_daemon_systemd_start_watchdog(d);
	bd_info("state in %s, brokers %s: waiting for the instance lock of group %s",
		cfg->state_dir, d->bootstrap, bd_lock_group(d->lock));
	return 0;
}

/* After a failed or stopped start-up: the handles closed, the clients'
 * wakers and the lock stopped, the close callbacks run. */
static void close_early(bd_daemon_t *d)
{
	close_handles(d);
	if (d->control_waker.q)
		bd_kafka_waker_stop(&d->control_waker);
	if (d->producer_waker.q)
		bd_kafka_waker_stop(&d->producer_waker);
	bd_lock_stop(d->lock);
	uv_run(&d->loop, UV_RUN_DEFAULT); /* runs the close callbacks */
}

/* ---- run ------------------------------------------------------------------------ */

int bd_daemon_run(bd_config_t *cfg, const bd_config_source_t *src)
{
	bd_daemon_t d = {.cfg = cfg, .src = src, .stale_worker = -1, .control_reset_from = -1,
			 .restore = {.epoch = -1}};
	char errstr[1024] = "";
	int err;

	bd_clock_rule_from_config(&d.clock_rule, cfg);
	init_loop(&d);
	/* the admin endpoint first, so /healthz and /readyz answer during a
	 * slow start */
	if ((err = bd_daemon_admin_start(&d, errstr, sizeof(errstr))) ||
	    (err = start_health(&d, errstr, sizeof(errstr))) ||
	    (err = open_store(&d, errstr, sizeof(errstr))) ||
	    (err = find_brokers(&d, errstr, sizeof(errstr))) ||
	    (err = restore_state(&d, errstr, sizeof(errstr))))
		goto fail;
	bd_notify_status("replaying control topic %s", cfg->topic[BD_MSG_CONTROL]);
	if ((err = bd_daemon_control_start(&d, errstr, sizeof(errstr))) ||
	    (err = bd_daemon_control_catch_up(&d, errstr, sizeof(errstr))))
		goto fail;
	bd_daemon_expiry_start(&d); /* the campaigns are known */
	uv_run(&d.loop, UV_RUN_NOWAIT);
	if (d.signals) {
		bd_info("stopped before the workers started");
		goto stop_early;
	}
	if ((err = wait_for_lock(&d, errstr, sizeof(errstr))))
		goto fail;
	uv_run(&d.loop, UV_RUN_NOWAIT);
	if (d.signals && !d.stopping)
		bd_daemon_shutdown(&d); /* asked while the workers were starting */
	uv_run(&d.loop, UV_RUN_DEFAULT);
	uv_loop_close(&d.loop);
	daemon_free(&d);
	bd_info("budgetd stopped");
	return d.exit_code;

fail:
	bd_error("%s", errstr[0] ? errstr : bd_strerror(err));
	d.exit_code = 1;
stop_early:
	close_early(&d);
	daemon_free(&d);
	uv_loop_close(&d.loop);
	return d.exit_code;
}
