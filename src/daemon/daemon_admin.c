/* The admin documents (/metrics, /healthz, /readyz, the /api/ documents, the text
 * tables) rendered from the main loop's state every admin.refresh.ms and
 * handed to the server thread; the counters summed and logged. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "budgetd/base/log.h"
#include "budgetd/daemon/status_html.h"

#include "daemon_int.h"

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

/* The report's counters: health, memory, the instance lock, control commands,
 * the workers' counters and input resets. */
static void report_counters(bd_daemon_t *d, bd_report_t *r)
{
	for (int s = 0; s < BD_HEALTH__COUNT; s++)
		r->health_problems[s] = bd_health_count(d->health, (bd_health_src_t)s);
	r->rss_bytes = bd_report_rss_bytes();
	bd_report_process(&r->proc);
	r->have_mem = d->store && bd_store_memory(d->store, &r->mem) == 0;
	r->active = d->active;
	r->inputs_paused = d->inputs_paused;
	r->lock_changes = bd_lock_changes(d->lock);
	r->restore_runs = d->restore.runs;
	r->restore_records = d->restore.records;
	r->restore_batches = d->restore.batches;
	r->restore_skipped = d->restore.skipped;
	r->restore_fenced = d->restore.fenced;
	r->restore_seconds = d->restore.last_seconds;
	r->clog_epoch = d->restore.epoch;
	for (int k = 0; k < BD_DEAD__COUNT; k++)
		r->control_dead += d->control_dead[k];
	bd_daemon_admin_counters_sum(d, &r->counters);
	for (int in = 0; in < 2; in++) {
		r->input_resets[in] = r->counters.input_resets[in];
		r->input_skipped[in] = r->counters.input_skipped[in];
	}
	r->input_resets[2] = d->control_resets;
	r->input_skipped[2] = d->control_skipped;
	r->decisions_expired = d->store ? bd_store_expired(d->store) : 0;
}

/* The workers' latency histograms and their consumer lag into @p lag (room
 * for 2 x topic.partitions). */
static void report_workers(bd_daemon_t *d, bd_report_t *r, bd_report_lag_t *lag)
{
	bd_histo_add_to(&d->solve_histo, &r->solve);
	for (int i = 0; i < d->n_workers; i++) {
		bd_worker_latency(d->workers[i], &r->latency);
		for (int in = 0; in < 2; in++)
			for (int p = 0; p < d->cfg->topic_partitions; p++) {
				int64_t l = bd_worker_lag(d->workers[i], in, p);
				if (l >= 0 && r->n_lag < 2 * d->cfg->topic_partitions)
					lag[r->n_lag++] = (bd_report_lag_t){
						d->cfg->topic[in ? BD_MSG_OUTCOME : BD_MSG_FEATURE],
						p, l};
			}
	}
}

/* The store's properties (NAN where it has none) and each campaign's track. */
static void report_store_tracks(bd_daemon_t *d, double *store_val,
				const bd_report_track_t **tracks)
{
	for (size_t i = 0; i < BD_ARRAY_SIZE(store_props); i++)
		if (!d->store || bd_store_property(d->store, store_props[i], &store_val[i]))
			store_val[i] = NAN;
	for (int i = 0; i < d->campaigns.n; i++)
		for (int t = 0; t < d->n_tracks; t++)
			if (strcmp(d->tracks[t]->campaign_id, d->campaigns.v[i].id) == 0)
				tracks[i] = d->tracks[t];
}

/* The JSON and text documents: each a rendering of the report. */
static const struct {
	bd_admin_doc_t doc;
	void (*render)(const bd_report_t *r, bd_sbuf_t *out);
	int json;
} report_docs[] = {
	{BD_ADMIN_API_STATUS, bd_report_api_status, 1},
	{BD_ADMIN_API_CAMPAIGNS, bd_report_api_campaigns, 1},
	{BD_ADMIN_API_PLANS, bd_report_api_plans, 1},
	{BD_ADMIN_API_CLUSTERS, bd_report_api_clusters, 1},
	{BD_ADMIN_API_MODELS, bd_report_api_models, 1},
	{BD_ADMIN_API_HEALTH, bd_report_api_health, 1},
	{BD_ADMIN_API_CONFIG, bd_report_api_config, 1},
	{BD_ADMIN_TEXT_CAMPAIGNS, bd_report_text_campaigns, 0},
	{BD_ADMIN_TEXT_PLANS, bd_report_text_plans, 0},
	{BD_ADMIN_TEXT_CLUSTERS, bd_report_text_clusters, 0},
	{BD_ADMIN_TEXT_MODELS, bd_report_text_models, 0},
	{BD_ADMIN_TEXT_CONFIG, bd_report_text_config, 0},
	{BD_ADMIN_TEXT_HEALTH, bd_report_text_health, 0},
	{BD_ADMIN_API_EXPERIMENT, bd_report_api_experiment, 1},
	{BD_ADMIN_TEXT_EXPERIMENT, bd_report_text_experiment, 0},
	{BD_ADMIN_API_INSTANCE, bd_report_api_instance, 1},
	{BD_ADMIN_TEXT_INSTANCE, bd_report_text_instance, 0},
};

/* Renders every document of @p r and hands each to the server thread. */
static void admin_publish_all(bd_daemon_t *d, const bd_report_t *r)
{
	static const char json[] = "application/json", text[] = "text/plain; charset=utf-8";
	bd_sbuf_t b = BD_SBUF_INIT;

	bd_report_metrics(r, &b);
	admin_put(d, BD_ADMIN_METRICS, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
	if (d->degraded)
		bd_sbuf_printf(&b, "degraded: %s\n", d->health_why);
	else
		bd_sbuf_cat(&b, "ok\n");
	admin_put(d, BD_ADMIN_HEALTHZ, d->degraded ? 503 : 200, text, &b);
	bd_sbuf_cat(&b, r->ready ? "ready\n" : "not ready\n");
	admin_put(d, BD_ADMIN_READYZ, r->ready ? 200 : 503, text, &b);
	for (size_t i = 0; i < BD_ARRAY_SIZE(report_docs); i++) {
		report_docs[i].render(r, &b);
		admin_put(d, report_docs[i].doc, 200, report_docs[i].json ? json : text, &b);
	}
	bd_cmdlog_json(d->cmdlog, &b);
	admin_put(d, BD_ADMIN_API_COMMANDS, 200, json, &b);
	bd_cmdlog_text(d->cmdlog, &b);
	admin_put(d, BD_ADMIN_TEXT_COMMANDS, 200, text, &b);
}

/* Renders every admin document from the main loop's state and hands them to
 * the server thread.  @locality the main loop. */
void bd_daemon_admin_refresh(bd_daemon_t *d)
{
	const int nc = d->campaigns.n;
	const bd_report_track_t **tracks = calloc((size_t)(nc ? nc : 1), sizeof(*tracks));
	int64_t *clock_now = calloc((size_t)(nc ? nc : 1), sizeof(*clock_now)), latest = 0;
	bd_report_lag_t *lag = calloc((size_t)(2 * d->cfg->topic_partitions + 1), sizeof(*lag));
	double store_val[BD_ARRAY_SIZE(store_props)];

	if (!d->admin || !tracks || !lag || !clock_now)
		goto out;
	for (int i = 0; i < nc; i++)
		if ((clock_now[i] = bd_daemon_campaign_now(d, &d->campaigns.v[i])) > latest)
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
		r.now_ms = bd_daemon_wall_ms();
	/* host:pid, what tells the instances of a group apart */
	char host[256] = "?", id[300];
	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "?");
	snprintf(id, sizeof(id), "%s:%ld", host, (long)getpid());
	r.instance_id = id;
	report_counters(d, &r);
	report_workers(d, &r, lag);
	report_store_tracks(d, store_val, tracks);
	admin_publish_all(d, &r);
out:
	free(tracks);
	free(clock_now);
	free(lag);
}

static void on_admin_timer(uv_timer_t *t)
{
	bd_daemon_admin_refresh(t->data);
}

void bd_daemon_admin_start_timer(bd_daemon_t *d)
{
	bd_daemon_timer_every(&d->admin_timer, on_admin_timer,
			      (uint64_t)d->cfg->admin_refresh_ms);
}

int bd_daemon_admin_start(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	const char *listen = d->cfg->admin_listen;
	bd_sbuf_t page = BD_SBUF_INIT; /* the status page never changes */
	int err;

	if (!listen[0])
		return 0;
	if ((err = bd_admin_start(listen, &d->admin, errstr, errstr_size)))
		return err;
	bd_info("admin endpoint on http://%s (port %d)", listen, bd_admin_port(d->admin));
	bd_sbuf_cat(&page, bd_status_html);
	admin_put(d, BD_ADMIN_STATUS, 200, "text/html; charset=utf-8", &page);
	return 0;
}

/* Every worker's counters (running and joined) plus the control consumer's
 * dead letters: what a metrics endpoint will serve. */
void bd_daemon_admin_counters_sum(const bd_daemon_t *d, bd_worker_counters_t *sum)
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
void bd_daemon_admin_counters_log(bd_daemon_t *d, bool always)
{
	bd_worker_counters_t sum;
	char line[512];
	bd_daemon_admin_counters_sum(d, &sum);
	uint64_t seen = sum.features + sum.outcomes + sum.dead_letters;
	if (!always && seen == d->counters_logged)
		return;
	d->counters_logged = seen;
	bd_worker_counters_format(&sum, line, sizeof(line));
	bd_info("counters: %s", line);
}

static void on_counters_timer(uv_timer_t *t)
{
	bd_daemon_admin_counters_log(t->data, false);
}

void bd_daemon_admin_start_counters(bd_daemon_t *d)
{
	bd_daemon_timer_every(&d->counters_timer, on_counters_timer,
			      (uint64_t)d->cfg->log_counters_s * 1000);
}
