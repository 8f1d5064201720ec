#include "config.h" /* PACKAGE_VERSION */
#include "budgetd/daemon/report.h"

#include <errno.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "budgetd/policy/bounds.h"
#include "budgetd/wire/messages.h"

/* ---- the day's track ------------------------------------------------------ */

int bd_report_track_update(bd_report_track_t *t, const bd_campaign_t *c, const bd_estimate_t *e,
			   double spent, int64_t day, double sec_of_day)
{
	const size_t kj = (size_t)e->k * (size_t)e->j;
	if (t->k != e->k || t->j != e->j || !t->r) {
		double *r = calloc(kj, sizeof(double)), *cc = calloc(kj, sizeof(double)),
		       *n = calloc(kj, sizeof(double));
		if (!r || !cc || !n) {
			free(r);
			free(cc);
			free(n);
			return -ENOMEM;
		}
		free(t->r);
		free(t->c);
		free(t->n);
		t->r = r;
		t->c = cc;
		t->n = n;
		t->k = e->k;
		t->j = e->j;
	}
	snprintf(t->campaign_id, sizeof(t->campaign_id), "%s", c->id);
	/* a new day, or the clock went back (before a campaign's first event
	 * its now is the host's clock or its creation time, clock.h; a replay
	 * can start earlier): a new track, so the spend line never runs
	 * backwards in time */
	if (day != t->day ||
	    (t->n_points > 0 && sec_of_day + BD_REPORT_STEP_S < t->point_s[t->n_points - 1])) {
		t->day = day;
		t->n_points = 0;
	}
	t->sec_of_day = sec_of_day;
	t->spent = spent;
	t->pending = e->pending_cost;
	memcpy(t->r, e->r, kj * sizeof(double));
	memcpy(t->c, e->c, kj * sizeof(double));
	memcpy(t->n, e->n, kj * sizeof(double));
	memset(t->today_by_t, 0, sizeof(t->today_by_t));
	for (int j = 0; e->today_by_t && j < e->j && j < BD_MAX_TREATMENTS; j++)
		memcpy(t->today_by_t[j], e->today_by_t + (size_t)j * BD_DAY__COUNT,
		       sizeof(t->today_by_t[j]));
	/* the pace line: past days' traffic by hour, pooled over clusters;
	 * flat before there is any */
	double h[24] = {0}, tot = 0;
	for (int g = 0; g < e->k; g++)
		for (int i = 0; i < 24; i++) {
			h[i] += e->hist[(size_t)g * 24 + i];
			tot += e->hist[(size_t)g * 24 + i];
		}
	t->profile_cum[0] = 0;
	for (int i = 0; i < 24; i++)
		t->profile_cum[i + 1] = t->profile_cum[i] + (tot > 0 ? h[i] / tot : 1.0 / 24);
	/* one point per step of the day; the latest replaces its step's */
	int step = (int)(sec_of_day / BD_REPORT_STEP_S);
	if (t->n_points > 0 && (int)(t->point_s[t->n_points - 1] / BD_REPORT_STEP_S) == step)
		t->n_points--;
	if (t->n_points < BD_REPORT_POINTS) {
		t->point_s[t->n_points] = (float)sec_of_day;
		t->point_spent[t->n_points] = (float)spent;
		t->point_budget[t->n_points] = bd_campaign_budget(c);
		t->n_points++;
	}
	return 0;
}

void bd_report_track_free(bd_report_track_t *t)
{
	if (!t)
		return;
	free(t->r);
	free(t->c);
	free(t->n);
	free(t->exp);
	free(t);
}

double bd_report_pace_target(const bd_report_track_t *t, double budget, double sec_of_day)
{
	double hf = sec_of_day / 3600;
	int h = (int)hf;
	if (h < 0)
		return 0;
	if (h >= 24)
		return budget;
	double share = t->profile_cum[h] + (hf - h) * (t->profile_cum[h + 1] - t->profile_cum[h]);
	return budget * share;
}

/* ---- metrics -------------------------------------------------------------- */

static void family(bd_sbuf_t *o, const char *name, const char *type, const char *help)
{
	bd_sbuf_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(bd_sbuf_t *o, const char *name, const char *lk, const char *lv, double v)
{
	bd_sbuf_cat(o, name);
	if (lk) {
		bd_sbuf_printf(o, "{%s=\"", lk);
		bd_sbuf_prom_label(o, lv);
		bd_sbuf_cat(o, "\"}");
	}
	bd_sbuf_cat(o, " ");
	bd_sbuf_prom_num(o, v);
	bd_sbuf_cat(o, "\n");
}

/* A per-campaign gauge over every campaign that has @p get's value. */
typedef double (*campaign_get)(const bd_report_t *r, int i);

static void per_campaign(const bd_report_t *r, bd_sbuf_t *o, const char *name, const char *help,
			 campaign_get get)
{
	family(o, name, "gauge", help);
	for (int i = 0; i < r->campaigns->n; i++) {
		double v = get(r, i);
		if (!isnan(v))
			sample(o, name, "campaign", r->campaigns->v[i].id, v);
	}
}

/* The budget the row's spend is held to: a campaign with a uniform arm
 * paces its share, the arm's row the rest (so BudgetdOverspend compares
 * like with like). */
static double get_budget(const bd_report_t *r, int i)
{
	return bd_campaign_budget(&r->campaigns->v[i]);
}

static double get_paused(const bd_report_t *r, int i)
{
	return r->campaigns->v[i].paused;
}

static double get_spent(const bd_report_t *r, int i)
{
	return r->tracks[i] ? r->tracks[i]->spent : NAN;
}

static double get_pace(const bd_report_t *r, int i)
{
	const bd_report_track_t *t = r->tracks[i];
	return t ? bd_report_pace_target(t, bd_campaign_budget(&r->campaigns->v[i]), t->sec_of_day)
		 : NAN;
}

static double get_lambda(const bd_report_t *r, int i)
{
	return r->plans[i] ? r->plans[i]->lambda : NAN;
}

static double get_plan_age(const bd_report_t *r, int i)
{
	/* ts_ms is on the campaign's clock */
	int64_t now = r->campaign_now ? r->campaign_now[i] : r->now_ms;
	return r->plans[i] ? (double)(now - r->plans[i]->ts_ms) / 1000 : NAN;
}

static double get_plan_version(const bd_report_t *r, int i)
{
	return r->plans[i] ? (double)r->plans[i]->version : NAN;
}

static double get_expected_spend(const bd_report_t *r, int i)
{
	return r->plans[i] ? r->plans[i]->expected_spend : NAN;
}

static double get_remaining(const bd_report_t *r, int i)
{
	return r->plans[i] ? r->plans[i]->remaining_budget : NAN;
}

static double get_uplift_uniform(const bd_report_t *r, int i)
{
	return r->plans[i] ? r->plans[i]->uplift_uniform : NAN;
}

static double get_uplift_uniform_se(const bd_report_t *r, int i)
{
	return r->plans[i] ? r->plans[i]->uplift_uniform_se : NAN;
}

static double get_uplift_control(const bd_report_t *r, int i)
{
	return r->plans[i] ? r->plans[i]->uplift_control : NAN;
}

static double get_cost_cal(const bd_report_t *r, int i)
{
	return r->plans[i] ? r->plans[i]->cost_cal : NAN;
}

static double get_gated(const bd_report_t *r, int i)
{
	const bd_plan_t *p = r->plans[i];
	return p ? (p->solver && strcmp(p->solver, "uniform-gate") == 0) : NAN;
}

/* A gauge or counter of one sample, unless @p v is unknown (NAN). */
static void single(bd_sbuf_t *o, const char *name, const char *type, const char *help, double v)
{
	if (isnan(v))
		return;
	family(o, name, type, help);
	sample(o, name, NULL, NULL, v);
}

/* The process_* metrics of Prometheus' client libraries (their names, so
 * dashboards made for any exporter work). */
static void metrics_std_process(const bd_report_t *r, bd_sbuf_t *o)
{
	const bd_report_process_t *p = &r->proc;
	single(o, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent "
	       "in seconds", p->cpu_seconds);
	single(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes",
	       r->rss_bytes);
	single(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes",
	       p->virtual_bytes);
	single(o, "process_open_fds", "gauge", "Number of open file descriptors", p->open_fds);
	single(o, "process_max_fds", "gauge", "Maximum number of open file descriptors",
	       p->max_fds);
	single(o, "process_start_time_seconds", "gauge", "Start time of the process since unix "
	       "epoch in seconds", (double)r->started_ms / 1000);
}

/* The process: its version, since when, ready, degraded. */
static void metrics_process(const bd_report_t *r, bd_sbuf_t *o)
{
	metrics_std_process(r, o);
	family(o, "budgetd_build_info", "gauge", "Version of the running budgetd");
	bd_sbuf_printf(o, "budgetd_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	family(o, "budgetd_start_time_seconds", "gauge", "Unix time the daemon started");
	sample(o, "budgetd_start_time_seconds", NULL, NULL, (double)r->started_ms / 1000);
	family(o, "budgetd_ready", "gauge",
	       "1 once state is restored and every worker has its partitions");
	sample(o, "budgetd_ready", NULL, NULL, r->ready);
	family(o, "budgetd_degraded", "gauge",
	       "1 while a broker, delivery or store problem is recent (health.window.ms)");
	sample(o, "budgetd_degraded", NULL, NULL, r->degraded);
	family(o, "budgetd_health_problems_total", "counter", "Problems noted, by source");
	for (int i = 0; i < BD_HEALTH__COUNT; i++)
		sample(o, "budgetd_health_problems_total", "source",
		       bd_health_src_name((bd_health_src_t)i), (double)r->health_problems[i]);
}

/* The instance lock and the inputs: who decides, paused, offset resets. */
static void metrics_instance(const bd_report_t *r, bd_sbuf_t *o)
{
	family(o, "budgetd_active", "gauge",
	       "1 while this instance holds its group's instance lock and decides, 0 while it "
	       "stands by");
	sample(o, "budgetd_active", NULL, NULL, r->active);
	family(o, "budgetd_inputs_paused", "gauge",
	       "1 while the inputs are paused: the workers' assignments stopped covering every "
	       "input partition (another member in the group)");
	sample(o, "budgetd_inputs_paused", NULL, NULL, r->inputs_paused);
	family(o, "budgetd_lock_changes_total", "counter",
	       "Times this instance acquired or lost the instance lock");
	sample(o, "budgetd_lock_changes_total", NULL, NULL, (double)r->lock_changes);
	family(o, "budgetd_restores_total", "counter",
	       "Restores from the changelog made on taking the instance lock");
	sample(o, "budgetd_restores_total", NULL, NULL, (double)r->restore_runs);
	family(o, "budgetd_restore_records_total", "counter",
	       "Changelog records those restores read");
	sample(o, "budgetd_restore_records_total", NULL, NULL, (double)r->restore_records);
	family(o, "budgetd_restore_batches_total", "counter",
	       "Batches of other writers those restores applied to the store");
	sample(o, "budgetd_restore_batches_total", NULL, NULL, (double)r->restore_batches);
	family(o, "budgetd_restore_skipped_total", "counter",
	       "Records those restores skipped: the store's own batches, held already");
	sample(o, "budgetd_restore_skipped_total", NULL, NULL, (double)r->restore_skipped);
	family(o, "budgetd_restore_fenced_total", "counter",
	       "Records those restores did not apply: of an owner epoch older than one before "
	       "them (an instance that lost the lock and still wrote)");
	sample(o, "budgetd_restore_fenced_total", NULL, NULL, (double)r->restore_fenced);
	family(o, "budgetd_restore_seconds", "gauge", "How long the last restore took");
	sample(o, "budgetd_restore_seconds", NULL, NULL, r->restore_seconds);
	family(o, "budgetd_changelog_epoch", "gauge",
	       "The owner epoch this instance's changelog records carry (-1: none yet)");
	sample(o, "budgetd_changelog_epoch", NULL, NULL, (double)r->clog_epoch);
	static const bd_msg_kind_t in_topic[3] = {BD_MSG_FEATURE, BD_MSG_OUTCOME, BD_MSG_CONTROL};
	family(o, "budgetd_input_resets_total", "counter",
	       "Offset resets: the offset to read next was no longer on the broker "
	       "(retention, a lost log), by input topic");
	for (int i = 0; i < 3; i++)
		sample(o, "budgetd_input_resets_total", "topic", r->cfg->topic[in_topic[i]],
		       (double)r->input_resets[i]);
	family(o, "budgetd_input_skipped_total", "counter",
	       "Input offsets skipped by offset resets (lost before budgetd read them), by "
	       "input topic");
	for (int i = 0; i < 3; i++)
		sample(o, "budgetd_input_skipped_total", "topic", r->cfg->topic[in_topic[i]],
		       (double)r->input_skipped[i]);
}

/* Messages in and out; decisions taken. */
static void metrics_events(const bd_report_t *r, bd_sbuf_t *o)
{
	const bd_worker_counters_t *c = &r->counters;

	family(o, "budgetd_events_in_total", "counter", "Messages read, by input topic");
	sample(o, "budgetd_events_in_total", "topic", r->cfg->topic[BD_MSG_FEATURE],
	       (double)c->features);
	sample(o, "budgetd_events_in_total", "topic", r->cfg->topic[BD_MSG_OUTCOME],
	       (double)c->outcomes);
	sample(o, "budgetd_events_in_total", "topic", r->cfg->topic[BD_MSG_CONTROL],
	       (double)r->control_in);
	family(o, "budgetd_events_out_total", "counter", "Messages produced, by output topic");
	sample(o, "budgetd_events_out_total", "topic", r->cfg->topic[BD_MSG_DECISION],
	       (double)(c->decisions + c->republished));
	sample(o, "budgetd_events_out_total", "topic", r->cfg->topic[BD_MSG_PLAN],
	       (double)r->plans_out);
	sample(o, "budgetd_events_out_total", "topic", r->cfg->topic[BD_MSG_MODEL],
	       (double)r->models_out);
	sample(o, "budgetd_events_out_total", "topic", r->cfg->topic[BD_MSG_DEADLETTER],
	       (double)c->dead_letters);
	family(o, "budgetd_decisions_total", "counter", "Decisions taken (first time)");
	sample(o, "budgetd_decisions_total", NULL, NULL, (double)c->decisions);
}

/* Dead letters by reason; control commands; decode errors. */
static void metrics_dead_letters(const bd_report_t *r, bd_sbuf_t *o)
{
	const bd_worker_counters_t *c = &r->counters;

	family(o, "budgetd_dead_letters_total", "counter",
	       "Inputs sent to the dead-letter topic, by reason (control commands included)");
	for (int k = 0; k < BD_DEAD__COUNT; k++)
		sample(o, "budgetd_dead_letters_total", "reason", bd_dead_reason_name(k),
		       (double)c->dead[k]);
	family(o, "budgetd_control_dead_letters_total", "counter",
	       "Control commands sent to the dead-letter topic");
	sample(o, "budgetd_control_dead_letters_total", NULL, NULL, (double)r->control_dead);
	family(o, "budgetd_control_duplicates_total", "counter",
	       "Control commands ignored because their command_id was applied before (each is "
	       "also a dead letter duplicate)");
	sample(o, "budgetd_control_duplicates_total", NULL, NULL, (double)r->control_dups);
	family(o, "budgetd_decode_errors_total", "counter",
	       "Inputs that did not decode (framing, schema, Avro body), by reason");
	for (int k = 0; k < BD_DEAD__COUNT; k++) {
		const char *n = bd_dead_reason_name(k);
		if (!strcmp(n, "wire") || !strcmp(n, "schema") || !strcmp(n, "decode"))
			sample(o, "budgetd_decode_errors_total", "reason", n, (double)c->dead[k]);
	}
}

/* The work done: state batches, winsorized outcomes, decision latency, solve time. */
static void metrics_work(const bd_report_t *r, bd_sbuf_t *o)
{
	const bd_worker_counters_t *c = &r->counters;

	family(o, "budgetd_batches_total", "counter", "State batches written (one per poll cycle)");
	sample(o, "budgetd_batches_total", NULL, NULL, (double)c->batches);
	family(o, "budgetd_outcomes_winsorized_total", "counter",
	       "Outcomes whose value the statistics counted at their campaign's winsor_value");
	sample(o, "budgetd_outcomes_winsorized_total", NULL, NULL, (double)c->winsorized);
	family(o, "budgetd_changelog_records_total", "counter",
	       "Changelog records produced (changelog.enabled; one per partition a batch touched)");
	sample(o, "budgetd_changelog_records_total", NULL, NULL, (double)c->clog_records);
	family(o, "budgetd_changelog_bytes_total", "counter", "Bytes of those records");
	sample(o, "budgetd_changelog_bytes_total", NULL, NULL, (double)c->clog_bytes);
	family(o, "budgetd_changelog_failures_total", "counter",
	       "Changelog records lost for good: not produced or not delivered (counted; their "
	       "batch's outputs go out without them, a restore misses them)");
	sample(o, "budgetd_changelog_failures_total", NULL, NULL, (double)c->clog_failures);
	family(o, "budgetd_decisions_expired_total", "counter",
	       "Stored decision records (and pending marks) deleted by compactions once older than "
	       "decision.retention.s plus an hour by their campaign's clock");
	sample(o, "budgetd_decisions_expired_total", NULL, NULL, (double)r->decisions_expired);

	family(o, "budgetd_decision_latency_seconds", "histogram",
	       "From a feature event's Kafka timestamp to its decision's hand-off to the producer");
	bd_histo_render(&r->latency, "budgetd_decision_latency_seconds", NULL, o);
	family(o, "budgetd_solve_seconds", "histogram",
	       "One solve pass over every campaign (statistics scan, estimates, solver, write)");
	bd_histo_render(&r->solve, "budgetd_solve_seconds", NULL, o);
}

/* Per-campaign gauges: budget, spend, pace and the latest plan. */
static void metrics_campaigns(const bd_report_t *r, bd_sbuf_t *o)
{
	per_campaign(r, o, "budgetd_campaign_budget",
		     "Daily budget the campaign paces (less its uniform arm's share)", get_budget);
	per_campaign(r, o, "budgetd_campaign_paused", "1 while paused", get_paused);
	per_campaign(r, o, "budgetd_campaign_spend", "Spend today: realised + expected pending",
		     get_spent);
	per_campaign(r, o, "budgetd_campaign_pace_target",
		     "Where spend should be now: budget x share of the day's traffic so far",
		     get_pace);
	per_campaign(r, o, "budgetd_campaign_remaining_budget", "Remaining at the latest plan",
		     get_remaining);
	per_campaign(r, o, "budgetd_campaign_expected_spend",
		     "The latest plan's expected spend for the rest of the day",
		     get_expected_spend);
	per_campaign(r, o, "budgetd_campaign_lambda",
		     "Shadow price of the budget (value per unit of cost at the margin)",
		     get_lambda);
	per_campaign(r, o, "budgetd_campaign_uplift_over_uniform",
		     "The plan's estimated value over uniform allocation at the same spend, rest of the day",
		     get_uplift_uniform);
	per_campaign(r, o, "budgetd_campaign_uplift_over_uniform_se",
		     "Standard error of budgetd_campaign_uplift_over_uniform", get_uplift_uniform_se);
	per_campaign(r, o, "budgetd_campaign_uplift_over_control",
		     "The plan's estimated value over control for everyone, rest of the day",
		     get_uplift_control);
	per_campaign(r, o, "budgetd_campaign_cost_calibration",
		     "Today's realised cost (matured hours) over what the cells' estimates said should "
		     "have arrived, shrunk toward 1: the latest plan's costs were scaled by it",
		     get_cost_cal);
	per_campaign(r, o, "budgetd_campaign_gated",
		     "1 while uniform allocation is served because the plan's uplift over it is not "
		     "significantly positive (solve.gate.z)", get_gated);
	per_campaign(r, o, "budgetd_plan_age_seconds",
		     "Event time since the campaign's plan was solved", get_plan_age);
	per_campaign(r, o, "budgetd_plan_version", "Version of the campaign's plan",
		     get_plan_version);
}

/* Per-campaign counters: failed solves, guarded decisions. */
static void metrics_campaign_counters(const bd_report_t *r, bd_sbuf_t *o)
{
	family(o, "budgetd_solve_failures_total", "counter",
	       "Failed solves of the campaign (its last good plan stays)");
	for (int i = 0; i < r->campaigns->n; i++)
		sample(o, "budgetd_solve_failures_total", "campaign", r->campaigns->v[i].id,
		       r->tracks[i] ? (double)r->tracks[i]->solve_failures : 0);
	family(o, "budgetd_budget_guard_decisions_total", "counter",
	       "Decisions the budget guard turned to control: their plan had committed its "
	       "remaining budget (guard.tolerance)");
	for (int i = 0; i < r->campaigns->n; i++)
		sample(o, "budgetd_budget_guard_decisions_total", "campaign", r->campaigns->v[i].id,
		       r->tracks[i] ? (double)atomic_load_explicit(&r->tracks[i]->guarded,
								   memory_order_relaxed)
				    : 0);
}

/* Today's totals of each campaign by treatment (labels campaign and
 * treatment, the treatment's name): what its decisions bought so far. */
static void metrics_campaign_today(const bd_report_t *r, bd_sbuf_t *o)
{
	static const struct {
		int field;
		const char *name, *help;
	} fams[] = {
		{BD_DAY_DECISIONS, "budgetd_campaign_decisions_today",
		 "Decisions of the campaign's day so far, by treatment"},
		{BD_DAY_OUTCOMES, "budgetd_campaign_outcomes_today",
		 "Outcomes joined to today's decisions, by treatment"},
		{BD_DAY_ORDERS, "budgetd_campaign_orders_today",
		 "Orders those outcomes reported, by treatment"},
		{BD_DAY_VALUE, "budgetd_campaign_value_today",
		 "Value (GMV) those outcomes reported, by treatment, in the campaign's currency"},
		{BD_DAY_COST, "budgetd_campaign_cost_today",
		 "Cost (incentive paid) those outcomes reported, by treatment, in the campaign's "
		 "currency"},
	};
	for (size_t f = 0; f < BD_ARRAY_SIZE(fams); f++) {
		family(o, fams[f].name, "gauge", fams[f].help);
		for (int i = 0; i < r->campaigns->n; i++) {
			const bd_campaign_t *c = &r->campaigns->v[i];
			const bd_report_track_t *t = r->tracks[i];
			for (int j = 0; t && j < c->n_treatments && j < t->j; j++) {
				bd_sbuf_printf(o, "%s{campaign=\"", fams[f].name);
				bd_sbuf_prom_label(o, c->id);
				bd_sbuf_cat(o, "\",treatment=\"");
				bd_sbuf_prom_label(o, c->treatment_name[j]);
				bd_sbuf_cat(o, "\"} ");
				bd_sbuf_prom_num(o, t->today_by_t[j][fams[f].field]);
				bd_sbuf_cat(o, "\n");
			}
		}
	}
}

/* The cluster model in use. */
static void metrics_model(const bd_report_t *r, bd_sbuf_t *o)
{
	family(o, "budgetd_model_version", "gauge", "Cluster model in use");
	sample(o, "budgetd_model_version", NULL, NULL, r->model ? (double)r->model->version : 0);
	family(o, "budgetd_model_clusters", "gauge", "Clusters (K) of the model in use");
	sample(o, "budgetd_model_clusters", NULL, NULL, r->model ? r->model->k : 0);
	family(o, "budgetd_model_teacher_agreement", "gauge",
	       "Held-out agreement of the distilled classifier with its teacher");
	sample(o, "budgetd_model_teacher_agreement", NULL, NULL,
	       r->model ? r->model->agreement : 0);
}

/* Consumer lag by input partition. */
static void metrics_lag(const bd_report_t *r, bd_sbuf_t *o)
{
	family(o, "budgetd_consumer_lag", "gauge",
	       "Messages behind the high watermark, by input partition (librdkafka's cached "
	       "watermark)");
	for (int i = 0; i < r->n_lag; i++) {
		/* topic names are settings: escaped like every label */
		bd_sbuf_cat(o, "budgetd_consumer_lag{topic=\"");
		bd_sbuf_prom_label(o, r->lag[i].topic);
		bd_sbuf_printf(o, "\",partition=\"%d\"} %lld\n", r->lag[i].partition,
			       (long long)r->lag[i].lag);
	}
}

/* Memory by holder; RocksDB memtables and properties. */
static void metrics_memory(const bd_report_t *r, bd_sbuf_t *o)
{
	family(o, "budgetd_memory_bytes", "gauge",
	       "Memory by holder: the process' resident set; RocksDB's memtables (every "
	       "column family), block cache and table readers");
	if (!isnan(r->rss_bytes))
		sample(o, "budgetd_memory_bytes", "what", "rss", r->rss_bytes);
	if (r->have_mem) {
		sample(o, "budgetd_memory_bytes", "what", "rocksdb_memtables", r->mem.memtables);
		sample(o, "budgetd_memory_bytes", "what", "rocksdb_block_cache",
		       r->mem.block_cache);
		sample(o, "budgetd_memory_bytes", "what", "rocksdb_table_readers",
		       r->mem.table_readers);
		family(o, "budgetd_rocksdb_memtable_bytes", "gauge",
		       "RocksDB memtables by column family");
		for (int i = 0; i < BD_CF__COUNT; i++)
			sample(o, "budgetd_rocksdb_memtable_bytes", "cf",
			       bd_store_cf_name((bd_cf_t)i), r->mem.memtable_cf[i]);
		family(o, "budgetd_rocksdb_sst_bytes", "gauge",
		       "RocksDB's SST files on disk by column family");
		for (int i = 0; i < BD_CF__COUNT; i++)
			sample(o, "budgetd_rocksdb_sst_bytes", "cf",
			       bd_store_cf_name((bd_cf_t)i), r->mem.sst_cf[i]);
	}
	/* one family per property: each has its own unit */
	static const struct {
		const char *prop, *name, *help;
	} props[] = {
		{"rocksdb.estimate-num-keys", "budgetd_rocksdb_estimated_keys",
		 "RocksDB's estimate of its keys (rocksdb.estimate-num-keys)"},
		{"rocksdb.total-sst-files-size", "budgetd_rocksdb_sst_files_bytes",
		 "RocksDB's SST files (rocksdb.total-sst-files-size)"},
		{"rocksdb.cur-size-all-mem-tables", "budgetd_rocksdb_memtables_bytes",
		 "RocksDB's memtables, immutable ones included (rocksdb.cur-size-all-mem-tables)"},
		{"rocksdb.estimate-live-data-size", "budgetd_rocksdb_live_data_bytes",
		 "RocksDB's estimate of its live data (rocksdb.estimate-live-data-size)"},
		{"rocksdb.num-running-compactions", "budgetd_rocksdb_running_compactions",
		 "RocksDB compactions running (rocksdb.num-running-compactions)"},
		{"rocksdb.num-running-flushes", "budgetd_rocksdb_running_flushes",
		 "RocksDB memtable flushes running (rocksdb.num-running-flushes)"},
		{"rocksdb.block-cache-usage", "budgetd_rocksdb_block_cache_bytes",
		 "RocksDB's block cache in use (rocksdb.block-cache-usage)"},
	};
	for (int i = 0; i < r->n_store; i++)
		for (size_t k = 0; k < BD_ARRAY_SIZE(props); k++)
			if (strcmp(r->store_name[i], props[k].prop) == 0)
				single(o, props[k].name, "gauge", props[k].help,
				       r->store_value[i]);
}

void bd_report_metrics(const bd_report_t *r, bd_sbuf_t *o)
{
	metrics_process(r, o);
	metrics_instance(r, o);
	metrics_events(r, o);
	metrics_dead_letters(r, o);
	metrics_work(r, o);
	metrics_campaigns(r, o);
	metrics_campaign_counters(r, o);
	metrics_campaign_today(r, o);
	metrics_model(r, o);
	metrics_lag(r, o);
	metrics_memory(r, o);
	bd_report_metrics_experiment(r, o);
}

double bd_report_rss_bytes(void)
{
	unsigned long long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	int n = f ? fscanf(f, "%llu %llu", &size, &resident) : 0;
	if (f)
		fclose(f);
	long page = sysconf(_SC_PAGESIZE);
	return n == 2 && page > 0 ? (double)resident * (double)page : NAN;
}

void bd_report_process(bd_report_process_t *p)
{
	struct rusage ru;
	struct rlimit rl;
	unsigned long long size = 0;
	long page = sysconf(_SC_PAGESIZE);
	FILE *f = fopen("/proc/self/statm", "r");
	DIR *dir = opendir("/proc/self/fd");

	*p = (bd_report_process_t){NAN, NAN, NAN, NAN};
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		p->cpu_seconds = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
				 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (f && fscanf(f, "%llu", &size) == 1 && page > 0)
		p->virtual_bytes = (double)size * (double)page;
	if (f)
		fclose(f);
	if (dir) {
		int n = 0;
		for (struct dirent *e; (e = readdir(dir));)
			n += e->d_name[0] != '.';
		p->open_fds = n - 1; /* not the directory's own descriptor */
		closedir(dir);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		p->max_fds = (double)rl.rlim_cur;
}

/* ---- JSON ------------------------------------------------------------------ */


/* A number that may be unknown (NAN: "not estimated"): left out, never
 * written as null, which a reader takes for a number gone bad. */
static void kv_opt_num(bd_sbuf_t *o, const char *k, double v)
{
	if (isfinite(v))
		bd_sbuf_json_kv_num(o, k, v, 1);
}

static void num_array(bd_sbuf_t *o, const double *v, int n)
{
	bd_sbuf_cat(o, "[");
	for (int i = 0; i < n; i++) {
		if (i)
			bd_sbuf_cat(o, ",");
		bd_sbuf_json_num(o, v[i]);
	}
	bd_sbuf_cat(o, "]");
}

static void campaign_json(const bd_report_t *r, int i, bd_sbuf_t *o)
{
	const bd_campaign_t *c = &r->campaigns->v[i];
	const bd_report_track_t *t = r->tracks[i];
	bd_sbuf_cat(o, "{");
	bd_sbuf_json_kv_str(o, "id", c->id, 0);
	bd_sbuf_json_kv_num(o, "daily_budget", c->daily_budget, 1);
	bd_sbuf_printf(o, ",\"paused\":%s", c->paused ? "true" : "false");
	bd_sbuf_json_kv_num(o, "exploration", c->exploration, 1);
	bd_sbuf_json_kv_num(o, "holdout", c->holdout, 1);
	if (c->had_uniform_arm)
		bd_sbuf_json_kv_num(o, "uniform_arm", c->uniform_arm, 1);
	if (c->arm)
		bd_sbuf_json_kv_str(o, "arm_of", c->arm_of, 1);
	/* the budget this campaign paces: its own less its uniform arm's */
	bd_sbuf_json_kv_num(o, "budget_paced", bd_campaign_budget(c), 1);
	bd_sbuf_json_kv_num(o, "tz_offset_s", c->tz_offset_s, 1);
	bd_sbuf_json_kv_num(o, "budget_changes", (double)c->budget_changes, 1);
	bd_sbuf_json_kv_num(o, "updated_ms", (double)c->updated_ms, 1);
	if (r->campaign_now)
		bd_sbuf_json_kv_num(o, "clock_ms", (double)r->campaign_now[i], 1);
	bd_sbuf_cat(o, ",\"treatments\":[");
	for (int j = 0; j < c->n_treatments; j++) {
		bd_sbuf_printf(o, "%s{\"id\":%d,", j ? "," : "", j);
		bd_sbuf_json_kv_str(o, "name", c->treatment_name[j], 0);
		bd_sbuf_json_kv_num(o, "nominal_cost", c->nominal_cost[j], 1);
		bd_sbuf_cat(o, "}");
	}
	bd_sbuf_cat(o, "]");
	bd_bounds_t bd;
	bd_bounds_of(c, r->cfg, &bd);
	bd_sbuf_json_kv_num(o, "max_value", bd.max_value, 1);
	bd_sbuf_json_kv_num(o, "max_cost", bd.max_cost, 1);
	bd_sbuf_json_kv_num(o, "winsor_value", bd.winsor_value, 1);
	bd_sbuf_json_kv_str(o, "solve_error", t ? t->solve_error : "", 1);
	bd_sbuf_json_kv_num(o, "spent_today", t ? t->spent : NAN, 1);
	/* spent_today = realised_today + pending_cost: the cost outcomes
	 * reported, and the expected cost of decisions still without one */
	bd_sbuf_json_kv_num(o, "realised_today", t ? t->spent - t->pending : NAN, 1);
	bd_sbuf_json_kv_num(o, "pending_cost", t ? t->pending : NAN, 1);
	bd_sbuf_json_kv_num(o, "pace_target",
			    t ? bd_report_pace_target(t, bd_campaign_budget(c), t->sec_of_day) : NAN, 1);
	bd_sbuf_json_kv_num(o, "sec_of_day", t ? t->sec_of_day : NAN, 1);
	bd_sbuf_json_kv_num(o, "plan_version", r->plans[i] ? (double)r->plans[i]->version : NAN, 1);
	bd_sbuf_json_kv_num(o, "lambda", r->plans[i] ? r->plans[i]->lambda : NAN, 1);
	/* the day so far by treatment, as the *_today gauges */
	bd_sbuf_cat(o, ",\"today\":[");
	for (int j = 0; t && j < c->n_treatments && j < t->j; j++) {
		const double *d = t->today_by_t[j];
		bd_sbuf_printf(o, "%s{\"treatment\":%d", j ? "," : "", j);
		bd_sbuf_json_kv_num(o, "decisions", d[BD_DAY_DECISIONS], 1);
		bd_sbuf_json_kv_num(o, "outcomes", d[BD_DAY_OUTCOMES], 1);
		bd_sbuf_json_kv_num(o, "orders", d[BD_DAY_ORDERS], 1);
		bd_sbuf_json_kv_num(o, "value", d[BD_DAY_VALUE], 1);
		bd_sbuf_json_kv_num(o, "cost", d[BD_DAY_COST], 1);
		bd_sbuf_cat(o, "}");
	}
	bd_sbuf_cat(o, "]}");
}

void bd_report_api_campaigns(const bd_report_t *r, bd_sbuf_t *o)
{
	bd_sbuf_cat(o, "{\"campaigns\":[");
	for (int i = 0; i < r->campaigns->n; i++) {
		if (i)
			bd_sbuf_cat(o, ",");
		campaign_json(r, i, o);
	}
	bd_sbuf_cat(o, "]}\n");
}

static void plan_json(const bd_plan_t *p, bd_sbuf_t *o)
{
	bd_sbuf_cat(o, "{");
	bd_sbuf_json_kv_str(o, "campaign", p->campaign_id, 0);
	bd_sbuf_json_kv_num(o, "version", (double)p->version, 1);
	bd_sbuf_json_kv_num(o, "model_version", (double)p->model_version, 1);
	bd_sbuf_json_kv_num(o, "ts_ms", (double)p->ts_ms, 1);
	bd_sbuf_json_kv_str(o, "solver", p->solver ? p->solver : "", 1);
	bd_sbuf_json_kv_num(o, "daily_budget", p->daily_budget, 1);
	bd_sbuf_json_kv_num(o, "remaining_budget", p->remaining_budget, 1);
	bd_sbuf_json_kv_num(o, "lambda", p->lambda, 1);
	bd_sbuf_json_kv_num(o, "expected_spend", p->expected_spend, 1);
	bd_sbuf_json_kv_num(o, "expected_value", p->expected_value, 1);
	bd_sbuf_json_kv_num(o, "explore", p->explore, 1);
	/* the plan's estimated uplift over the rest of the day, with its
	 * standard error (the interval is the reader's: estimate +- z se);
	 * absent while not estimated (a warm-up or restored plan) */
	kv_opt_num(o, "uplift_over_uniform", p->uplift_uniform);
	kv_opt_num(o, "uplift_over_uniform_se", p->uplift_uniform_se);
	kv_opt_num(o, "uplift_over_control", p->uplift_control);
	kv_opt_num(o, "uplift_over_control_se", p->uplift_control_se);
	kv_opt_num(o, "value_max_spend", p->value_max_spend);
	kv_opt_num(o, "cost_calibration", p->cost_cal);
	if (p->traffic_profile)
		bd_sbuf_json_kv_str(o, "traffic_profile", p->traffic_profile, 1);
	bd_sbuf_json_kv_str(o, "note", p->note, 1);
	bd_sbuf_json_kv_num(o, "k", p->k, 1);
	bd_sbuf_json_kv_num(o, "j", p->j, 1);
	bd_sbuf_cat(o, ",\"share\":");
	num_array(o, p->share, p->k);
	bd_sbuf_cat(o, ",\"prob\":[");
	for (int g = 0; g < p->k; g++) {
		if (g)
			bd_sbuf_cat(o, ",");
		num_array(o, p->prob + (size_t)g * p->j, p->j);
	}
	bd_sbuf_cat(o, "],\"curve_budget\":");
	num_array(o, p->curve_budget, p->n_curve);
	bd_sbuf_cat(o, ",\"curve_value\":");
	num_array(o, p->curve_value, p->n_curve);
	bd_sbuf_cat(o, "}");
}

void bd_report_api_plans(const bd_report_t *r, bd_sbuf_t *o)
{
	int first = 1;
	bd_sbuf_cat(o, "{\"plans\":[");
	for (int i = 0; i < r->campaigns->n; i++) {
		if (!r->plans[i])
			continue;
		if (!first)
			bd_sbuf_cat(o, ",");
		first = 0;
		plan_json(r->plans[i], o);
	}
	bd_sbuf_cat(o, "]}\n");
}

void bd_report_api_clusters(const bd_report_t *r, bd_sbuf_t *o)
{
	int first = 1;
	bd_sbuf_printf(o, "{\"model_version\":%lld,\"k\":%d,\"campaigns\":[",
		       r->model ? (long long)r->model->version : 0LL, r->model ? r->model->k : 0);
	for (int i = 0; i < r->campaigns->n; i++) {
		const bd_report_track_t *t = r->tracks[i];
		if (!t || !t->r)
			continue;
		if (!first)
			bd_sbuf_cat(o, ",");
		first = 0;
		bd_sbuf_cat(o, "{");
		bd_sbuf_json_kv_str(o, "campaign", t->campaign_id, 0);
		bd_sbuf_cat(o, ",\"clusters\":[");
		for (int g = 0; g < t->k; g++) {
			bd_sbuf_printf(o, "%s{\"cluster\":%d,\"share\":", g ? "," : "", g);
			bd_sbuf_json_num(o, r->plans[i] && g < r->plans[i]->k ? r->plans[i]->share[g]
									   : NAN);
			bd_sbuf_cat(o, ",\"value\":");
			num_array(o, t->r + (size_t)g * t->j, t->j);
			bd_sbuf_cat(o, ",\"cost\":");
			num_array(o, t->c + (size_t)g * t->j, t->j);
			bd_sbuf_cat(o, ",\"decisions\":");
			num_array(o, t->n + (size_t)g * t->j, t->j);
			bd_sbuf_cat(o, "}");
		}
		bd_sbuf_cat(o, "]}");
	}
	bd_sbuf_cat(o, "]}\n");
}

void bd_report_api_models(const bd_report_t *r, bd_sbuf_t *o)
{
	const bd_cluster_model_t *m = r->model;
	bd_sbuf_cat(o, "{\"models\":[");
	if (m) {
		bd_sbuf_printf(o, "{\"version\":%lld,", (long long)m->version);
		bd_sbuf_json_kv_str(o, "kind", m->kind ? m->kind : "", 0);
		bd_sbuf_json_kv_num(o, "dim", m->dim, 1);
		bd_sbuf_json_kv_num(o, "k", m->k, 1);
		bd_sbuf_json_kv_num(o, "layers", m->n_layers, 1);
		bd_sbuf_json_kv_num(o, "agreement", m->agreement, 1);
		bd_sbuf_cat(o, ",\"in_use\":true}");
	}
	bd_sbuf_cat(o, "]}\n");
}

void bd_report_api_health(const bd_report_t *r, bd_sbuf_t *o)
{
	bd_sbuf_printf(o, "{\"ready\":%s,\"status\":\"%s\"", r->ready ? "true" : "false",
		       r->degraded ? "degraded" : "ok");
	bd_sbuf_json_kv_str(o, "reason", r->degraded && r->why ? r->why : "", 1);
	bd_sbuf_cat(o, ",\"problems\":{");
	for (int s = 0; s < BD_HEALTH__COUNT; s++)
		bd_sbuf_printf(o, "%s\"%s\":%llu", s ? "," : "",
			       bd_health_src_name((bd_health_src_t)s),
			       (unsigned long long)r->health_problems[s]);
	bd_sbuf_cat(o, "}}\n");
}

/* Writes the name of feature @p i (features.names, else "fI") into @p buf. */
static void feature_name(const char *names, int i, char *buf, size_t size)
{
	const char *p = names ? names : "";
	for (int k = 0; k < i && p; k++)
		p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
	size_t n = p ? strcspn(p, ",") : 0;
	while (n > 0 && (p[0] == ' ' || p[0] == '\t'))
		p++, n--;
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (n == 0 || n >= size)
		snprintf(buf, size, "f%d", i);
	else
		snprintf(buf, size, "%.*s", (int)n, p);
}

#define DESCRIBE_TOP 3

/* Each cluster of the model described by the DESCRIBE_TOP features that
 * move a user toward it the most (bd_cluster_feature_effects), largest
 * first: [[{"feature": NAME, "effect": E}, ...], ...]. */
static void clusters_described(const bd_report_t *r, bd_sbuf_t *o)
{
	const bd_cluster_model_t *m = r->model;
	double *eff = m && m->k >= 2 ? calloc((size_t)m->k * (size_t)m->dim, sizeof(double)) : NULL;
	bd_sbuf_cat(o, ",\"clusters_described\":[");
	if (eff && bd_cluster_feature_effects(m, eff) == 0) {
		for (int g = 0; g < m->k; g++) {
			const double *e = eff + (size_t)g * (size_t)m->dim;
			int top[DESCRIBE_TOP], n = 0;
			for (int t = 0; t < DESCRIBE_TOP && t < m->dim; t++) {
				int best = -1;
				for (int i = 0; i < m->dim; i++) {
					int used = 0;
					for (int u = 0; u < n; u++)
						used |= top[u] == i;
					if (!used && (best < 0 || fabs(e[i]) > fabs(e[best])))
						best = i;
				}
				top[n++] = best;
			}
			bd_sbuf_cat(o, g ? ",[" : "[");
			for (int t = 0; t < n; t++) {
				char name[64];
				feature_name(r->cfg ? r->cfg->features_names : "", top[t], name,
					     sizeof(name));
				bd_sbuf_cat(o, t ? ",{" : "{");
				bd_sbuf_json_kv_str(o, "feature", name, 0);
				bd_sbuf_json_kv_num(o, "effect", e[top[t]], 1);
				bd_sbuf_cat(o, "}");
			}
			bd_sbuf_cat(o, "]");
		}
	}
	bd_sbuf_cat(o, "]");
	free(eff);
}

void bd_report_api_status(const bd_report_t *r, bd_sbuf_t *o)
{
	bd_sbuf_printf(o, "{\"now_ms\":%lld,\"ready\":%s,\"status\":\"%s\"",
		       (long long)r->now_ms, r->ready ? "true" : "false",
		       r->degraded ? "degraded" : "ok");
	bd_sbuf_json_kv_str(o, "bootstrap", r->bootstrap ? r->bootstrap : "", 1);
	bd_sbuf_json_kv_str(o, "reason", r->degraded && r->why ? r->why : "", 1);
	bd_sbuf_json_kv_num(o, "model_version", r->model ? (double)r->model->version : NAN, 1);
	/* who decides, and what the restores from the changelog did */
	bd_sbuf_printf(o, ",\"instance\":{\"active\":%s", r->active ? "true" : "false");
	bd_sbuf_json_kv_num(o, "changelog_epoch", (double)r->clog_epoch, 1);
	bd_report_json_restores(r, o);
	bd_sbuf_cat(o, "}");
	clusters_described(r, o);
	bd_sbuf_cat(o, ",\"campaigns\":[");
	for (int i = 0; i < r->campaigns->n; i++) {
		const bd_campaign_t *c = &r->campaigns->v[i];
		const bd_report_track_t *t = r->tracks[i];
		if (i)
			bd_sbuf_cat(o, ",");
		bd_sbuf_cat(o, "{\"campaign\":");
		campaign_json(r, i, o);
		/* spend through the day (and the budget at that time) and the
		 * pace line at each hour */
		bd_sbuf_cat(o, ",\"track\":[");
		for (int k = 0; t && k < t->n_points; k++)
			bd_sbuf_printf(o, "%s[%.0f,%.6g,%.10g]", k ? "," : "", (double)t->point_s[k],
				       (double)t->point_spent[k], t->point_budget[k]);
		bd_sbuf_cat(o, "],\"pace\":[");
		for (int h = 0; h <= 24; h++)
			bd_sbuf_printf(o, "%s[%d,%.6g]", h ? "," : "", h * 3600,
				       t ? bd_campaign_budget(c) * t->profile_cum[h]
					 : bd_campaign_budget(c) * h / 24.0);
		bd_sbuf_cat(o, "],\"plan\":");
		if (r->plans[i])
			plan_json(r->plans[i], o);
		else
			bd_sbuf_cat(o, "null");
		bd_sbuf_cat(o, ",\"experiment\":");
		bd_report_experiment_json(r, i, o);
		bd_sbuf_cat(o, "}");
	}
	bd_sbuf_cat(o, "]}\n");
}

typedef struct cfg_json_s {
	bd_sbuf_t *o;
	int n;
} cfg_json_t;

static void cfg_cb(const char *key, const char *value, const char *def, const char *doc,
		   void *opaque)
{
	cfg_json_t *cj = opaque;
	bd_sbuf_cat(cj->o, cj->n++ ? ",{" : "{");
	bd_sbuf_json_kv_str(cj->o, "key", key, 0);
	bd_sbuf_json_kv_str(cj->o, "value", value, 1);
	bd_sbuf_json_kv_str(cj->o, "default", def, 1);
	bd_sbuf_json_kv_str(cj->o, "doc", doc, 1);
	bd_sbuf_cat(cj->o, "}");
}

void bd_report_api_config(const bd_report_t *r, bd_sbuf_t *o)
{
	cfg_json_t cj = {o, 0};
	bd_sbuf_cat(o, "{\"settings\":[");
	bd_config_each(r->cfg, cfg_cb, &cj);
	bd_sbuf_cat(o, "]}\n");
}

/* ---- text tables (budgetctl's default output) ------------------------------ */

static const char *fmt_num(char *buf, size_t n, double v)
{
	if (isnan(v))
		snprintf(buf, n, "-");
	else
		snprintf(buf, n, "%.2f", v);
	return buf;
}

void bd_report_text_campaigns(const bd_report_t *r, bd_sbuf_t *o)
{
	char a[32], b[32], c2[32], l[32];
	bd_sbuf_printf(o, "%-24s %12s %12s %12s %8s %10s %6s %s\n", "CAMPAIGN", "BUDGET", "SPENT",
		       "PACE", "PLAN", "LAMBDA", "STATE", "TREATMENTS");
	for (int i = 0; i < r->campaigns->n; i++) {
		const bd_campaign_t *c = &r->campaigns->v[i];
		const bd_report_track_t *t = r->tracks[i];
		bd_sbuf_cell(o, c->id, 24, 1);
		bd_sbuf_printf(o, " %12.2f %12s %12s %8lld %10s %6s ", bd_campaign_budget(c),
			       fmt_num(a, sizeof(a), t ? t->spent : NAN),
			       fmt_num(b, sizeof(b),
				       t ? bd_report_pace_target(t, bd_campaign_budget(c), t->sec_of_day)
					 : NAN),
			       r->plans[i] ? (long long)r->plans[i]->version : 0LL,
			       fmt_num(l, sizeof(l), r->plans[i] ? r->plans[i]->lambda : NAN),
			       c->paused ? "paused" : "active");
		for (int j = 0; j < c->n_treatments; j++) {
			bd_sbuf_cat(o, j ? ", " : "");
			bd_sbuf_text(o, c->treatment_name[j]);
			bd_sbuf_printf(o, "(%s)", fmt_num(c2, sizeof(c2), c->nominal_cost[j]));
		}
		bd_sbuf_cat(o, "\n");
	}
}

void bd_report_text_plans(const bd_report_t *r, bd_sbuf_t *o)
{
	for (int i = 0; i < r->campaigns->n; i++) {
		const bd_plan_t *p = r->plans[i];
		const bd_campaign_t *c = &r->campaigns->v[i];
		if (!p)
			continue;
		bd_sbuf_cat(o, "campaign ");
		bd_sbuf_text(o, p->campaign_id);
		bd_sbuf_printf(o, ": plan %lld (%s, model %lld): remaining %.2f of %.2f, "
				  "expected spend %.2f, value %.2f, lambda %.4f, explore %.3f\n",
			       (long long)p->version, p->solver ? p->solver : "",
			       (long long)p->model_version, p->remaining_budget, p->daily_budget,
			       p->expected_spend, p->expected_value, p->lambda,
			       p->explore >= 0 ? p->explore : c->exploration); /* <0: the campaign's */
		if (isfinite(p->uplift_uniform))
			bd_sbuf_printf(o, "  uplift over uniform %.2f (se %.2f), over control %.2f "
					  "(se %.2f)\n", p->uplift_uniform, p->uplift_uniform_se,
				       p->uplift_control, p->uplift_control_se);
		if (p->note[0])
			bd_sbuf_printf(o, "  %s\n", p->note);
		bd_sbuf_printf(o, "  %-8s %7s", "CLUSTER", "SHARE");
		for (int j = 0; j < p->j; j++) {
			bd_sbuf_cat(o, " ");
			bd_sbuf_cell(o, j < c->n_treatments ? c->treatment_name[j] : "?", 12, 0);
		}
		bd_sbuf_cat(o, "\n");
		for (int g = 0; g < p->k; g++) {
			bd_sbuf_printf(o, "  %-8d %7.3f", g, p->share[g]);
			for (int j = 0; j < p->j; j++)
				bd_sbuf_printf(o, " %12.3f", p->prob[(size_t)g * p->j + j]);
			bd_sbuf_cat(o, "\n");
		}
	}
}

void bd_report_text_clusters(const bd_report_t *r, bd_sbuf_t *o)
{
	bd_sbuf_printf(o, "model %lld, K=%d; per cluster and treatment: estimated value / cost "
			  "per request (decisions)\n",
		       r->model ? (long long)r->model->version : 0LL, r->model ? r->model->k : 0);
	for (int i = 0; i < r->campaigns->n; i++) {
		const bd_report_track_t *t = r->tracks[i];
		const bd_campaign_t *c = &r->campaigns->v[i];
		if (!t || !t->r)
			continue;
		bd_sbuf_cat(o, "campaign ");
		bd_sbuf_text(o, c->id);
		bd_sbuf_printf(o, "\n  %-8s", "CLUSTER");
		for (int j = 0; j < t->j; j++) {
			bd_sbuf_cat(o, " ");
			bd_sbuf_cell(o, j < c->n_treatments ? c->treatment_name[j] : "?", 24, 0);
		}
		bd_sbuf_cat(o, "\n");
		for (int g = 0; g < t->k; g++) {
			bd_sbuf_printf(o, "  %-8d", g);
			for (int j = 0; j < t->j; j++) {
				size_t x = (size_t)g * t->j + j;
				char cell[64];
				snprintf(cell, sizeof(cell), "%.3f / %.3f (%.0f)", t->r[x], t->c[x],
					 t->n[x]);
				bd_sbuf_printf(o, " %24s", cell);
			}
			bd_sbuf_cat(o, "\n");
		}
	}
}

void bd_report_text_models(const bd_report_t *r, bd_sbuf_t *o)
{
	const bd_cluster_model_t *m = r->model;
	bd_sbuf_printf(o, "%-8s %-14s %5s %4s %7s %10s\n", "VERSION", "KIND", "DIM", "K", "LAYERS",
		       "AGREEMENT");
	if (m)
		bd_sbuf_printf(o, "%-8lld %-14s %5d %4d %7d %10.4f  (in use)\n", (long long)m->version,
			       m->kind ? m->kind : "", m->dim, m->k, m->n_layers, m->agreement);
}

void bd_report_text_health(const bd_report_t *r, bd_sbuf_t *o)
{
	bd_sbuf_printf(o, "status:   %s%s\nready:    %s\nproblems:",
		       r->degraded ? "degraded: " : "ok", r->degraded && r->why ? r->why : "",
		       r->ready ? "yes" : "no");
	for (int s = 0; s < BD_HEALTH__COUNT; s++)
		bd_sbuf_printf(o, "%s %s %llu", s ? "," : "", bd_health_src_name((bd_health_src_t)s),
			       (unsigned long long)r->health_problems[s]);
	bd_sbuf_cat(o, " (since start)\n");
}

static void cfg_text_cb(const char *key, const char *value, const char *def, const char *doc,
			void *opaque)
{
	(void)doc;
	bd_sbuf_printf(opaque, "%-28s = %-28s%s%s\n", key, value,
		       strcmp(value, def) && *def ? "  # default: " : "",
		       strcmp(value, def) && *def ? def : "");
}

void bd_report_text_config(const bd_report_t *r, bd_sbuf_t *o)
{
	bd_config_each(r->cfg, cfg_text_cb, o);
}
