/* report.c: every document the admin endpoint serves (the Prometheus
 * metrics, the JSON API, budgetctl's text tables) rendered from one fixed
 * state and compared byte for byte with its golden file in
 * tests/data/report/.  A difference is a changed promise to a reader
 * (a dashboard, an alert rule, budgetctl, the status page): make it on
 * purpose, then rewrite the goldens with REGEN=1 (tests/README.md) and let
 * the diff show it.
 *
 * The state has three campaigns: one with a plan, a day's track and
 * estimates; one paused, whose id needs escaping in every format (quote,
 * backslash, newline-free UTF-8); one with neither plan nor track (every
 * per-plan number absent or "-").  The configuration's listing is not a
 * golden (it changes with every new setting and docs_sync.sh pins it);
 * its format is checked line by line. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/daemon/report.h"
#include "budgetd/policy/estimate.h"

#include "config.h" /* PACKAGE_VERSION */

#define N_CAMPAIGNS 3
#define K 2
#define J 3

typedef struct fixture_s {
	bd_config_t cfg;
	bd_campaign_t camp[N_CAMPAIGNS];
	bd_campaigns_t campaigns;
	bd_plan_t *plan[N_CAMPAIGNS];
	bd_report_track_t *track[N_CAMPAIGNS];
	int64_t campaign_now[N_CAMPAIGNS];
	bd_cluster_model_t *model;
	bd_report_lag_t lag[2];
	const char *store_name[7];
	double store_value[7];
	bd_report_t r;
} fixture_t;

static void campaign(bd_campaign_t *c, const char *id, double budget, int paused)
{
	static const char *names[J] = {"control", "coupon 2", "coupon 5"};
	static const double costs[J] = {0, 2, 5};
	memset(c, 0, sizeof(*c));
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->n_treatments = J;
	for (int j = 0; j < J; j++) {
		snprintf(c->treatment_name[j], sizeof(c->treatment_name[j]), "%s", names[j]);
		c->nominal_cost[j] = costs[j];
	}
	c->daily_budget = budget;
	c->exploration = 0.05;
	c->tz_offset_s = 3600;
	c->paused = paused;
	c->created_ms = 1767225600000LL; /* 2026-01-01 */
	c->updated_ms = 1767229200000LL;
	c->budget_changes = 2;
	c->max_value = NAN; /* the configured default */
	c->max_cost = 40;
	c->winsor_value = NAN;
}

static bd_plan_t *plan(const char *id)
{
	bd_plan_t *p = bd_plan_new_uniform(id, K, J);
	assert_non_null(p);
	p->version = 7;
	p->model_version = 3;
	p->ts_ms = 1767261600000LL; /* 10:00 */
	p->solver = "lagrangian";
	p->daily_budget = 1000;
	p->remaining_budget = 612.5;
	p->lambda = 1.8125;
	p->expected_spend = 600.25;
	p->expected_value = 2400.75;
	p->explore = 0.05;
	p->uplift_uniform = 120.5;
	p->uplift_uniform_se = 30.25;
	p->uplift_control = 800;
	p->cost_cal = 0.875;
	p->traffic_profile = "log";
	p->uplift_control_se = 45.5;
	p->value_max_spend = NAN; /* left out of the JSON */
	snprintf(p->note, sizeof(p->note), "the budget binds");
	static const double prob[K * J] = {0.5, 0.25, 0.25, 0.125, 0.375, 0.5};
	memcpy(p->prob, prob, sizeof(prob));
	p->share[0] = 0.625;
	p->share[1] = 0.375;
	assert_int_equal(bd_plan_curve_alloc(p, 3), 0);
	for (int i = 0; i < 3; i++) {
		p->curve_budget[i] = 250.0 * (i + 1);
		p->curve_value[i] = 1000.0 * (i + 1) - 100.0 * i * i;
	}
	return p;
}

/* the day's track through bd_report_track_update, as the daemon's pace
 * check makes it: two checks in one step (the later replaces the
 * earlier), one in the next, after a budget change */
static bd_report_track_t *track(const bd_campaign_t *c)
{
	double r[K * J] = {0, 4.5, 9.25, 0, 3.125, 7.5}, cost[K * J] = {0, 1.5, 4, 0, 1.25, 3.75},
	       n[K * J] = {120, 80, 60, 90, 70, 40}, hist[K * 24] = {0};
	for (int h = 0; h < 24; h++) {
		hist[h] = h >= 8 && h < 20 ? 10 : 2;   /* daytime traffic */
		hist[24 + h] = h >= 18 ? 6 : 1;       /* evening traffic */
	}
	bd_estimate_t e = {0};
	e.k = K;
	e.j = J;
	e.r = r;
	e.c = cost;
	e.n = n;
	e.hist = hist;
	e.pending_cost = 12.5;
	/* today by treatment: decisions, outcomes, cost, value, orders (stats.h) */
	double today[J * BD_DAY__COUNT] = {210, 180, 0, 412.5, 9, 150, 120, 31.5, 530.25, 11,
					   100, 70, 44, 388, 8};
	e.today_by_t = today;
	bd_report_track_t *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->day = -1;
	assert_int_equal(bd_report_track_update(t, c, &e, 300, 20454, 36000), 0);
	assert_int_equal(bd_report_track_update(t, c, &e, 310.5, 20454, 36100), 0);
	/* the budget raised between the steps: the track says so */
	bd_campaign_t raised = *c;
	raised.daily_budget = c->daily_budget + 500;
	assert_int_equal(bd_report_track_update(t, &raised, &e, 387.5, 20454, 36300), 0);
	t->solve_failures = 1;
	atomic_store(&t->guarded, 17);
	/* the holdout's sums by user group: 20 treated requests and 3 held
	 * out in each, today and two days before (none the day between), and
	 * a day too old to be shown by itself */
	assert_non_null(t->exp = calloc(1, sizeof(*t->exp)));
	t->exp->day0 = 20454;
	static const int64_t days[] = {20454, 20452, 20440};
	for (size_t k = 0; k < sizeof(days) / sizeof(days[0]); k++)
		for (int g = 0; g < BD_EXP_BUCKETS; g++) {
			double tr[BD_EXP__COUNT] = {20, 20, 40 + (g + (int)k) % 5, 2, 1};
			double ho[BD_EXP__COUNT] = {3, 3, 5 + g % 3, 0, 0.125};
			bd_experiment_days_add(t->exp, days[k], BD_ARM_TREATED, g, tr, BD_EXP__COUNT);
			bd_experiment_days_add(t->exp, days[k], BD_ARM_HOLDOUT, g, ho, BD_EXP__COUNT);
			/* the uniform arm, today only (set up this morning) */
			double un[BD_EXP__COUNT] = {20, 20, 38 + g % 4, 2, 1};
			if (k == 0)
				bd_experiment_days_add(t->exp, days[k], BD_ARM_UNIFORM, g, un,
						       BD_EXP__COUNT);
		}
	return t;
}

static int setup(void **state)
{
	fixture_t *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	char err[256];
	assert_int_equal(bd_config_init(&f->cfg), 0);
	assert_int_equal(bd_config_set(&f->cfg, "workers", "3", err, sizeof(err)), 0);
	assert_int_equal(bd_config_set(&f->cfg, "changelog.enabled", "1", err, sizeof(err)), 0);
	/* sorted by id, as bd_campaigns_t keeps them */
	campaign(&f->camp[0], "alpha", 1000, 0);
	f->camp[0].holdout = 0.1;
	f->camp[0].uniform_arm = 0.3;
	f->camp[0].had_uniform_arm = true;
	campaign(&f->camp[1], "beta \"q\\uote\" \xc3\xa9t\xc3\xa9", 250.75, 1);
	campaign(&f->camp[2], "gamma", 80, 0);
	f->campaigns.n = f->campaigns.cap = N_CAMPAIGNS;
	f->campaigns.v = f->camp;
	f->plan[0] = plan("alpha");
	f->track[0] = track(&f->camp[0]);
	/* the paused one: a restored plan without uplift estimates, and a
	 * solve failing since */
	f->plan[1] = plan(f->camp[1].id);
	f->plan[1]->uplift_uniform = f->plan[1]->uplift_uniform_se = NAN;
	f->plan[1]->uplift_control = f->plan[1]->uplift_control_se = NAN;
	f->plan[1]->note[0] = '\0';
	f->plan[1]->solver = "uniform-gate";
	f->track[1] = track(&f->camp[1]);
	snprintf(f->track[1]->solve_error, sizeof(f->track[1]->solve_error),
		 "estimate: no decisions yet");
	f->track[1]->solve_failures = 4;
	for (int i = 0; i < N_CAMPAIGNS; i++)
		f->campaign_now[i] = 1767262500000LL + i; /* 10:15 */
	assert_int_equal(bd_cluster_model_initial(8, K, &f->model), 0);
	f->model->version = 3;
	f->model->agreement = 0.9375;

	bd_report_t *r = &f->r;
	r->cfg = &f->cfg;
	r->now_ms = 1767262500000LL;
	r->started_ms = 1767258000000LL;
	r->campaign_now = f->campaign_now;
	r->ready = 1;
	r->degraded = 1;
	r->why = "broker: 1/3 brokers are down";
	r->bootstrap = "127.0.0.1:9092,127.0.0.1:9093";
	for (int i = 0; i < BD_HEALTH__COUNT; i++)
		r->health_problems[i] = (uint64_t)(i * 3);
	r->counters.features = 100000;
	r->counters.outcomes = 40000;
	r->counters.historical = 5;
	r->counters.decisions = 99990;
	r->counters.republished = 12;
	r->counters.batches = 2048;
	r->counters.duplicates = 3;
	r->counters.winsorized = 9;
	r->counters.clog_records = 24;
	r->counters.clog_bytes = 14400;
	r->counters.clog_failures = 1;
	for (int k = 0; k < BD_DEAD__COUNT; k++) {
		r->counters.dead[k] = (uint64_t)k;
		r->counters.dead_letters += (uint64_t)k;
	}
	r->control_in = 42;
	r->control_dead = 2;
	r->control_dups = 1;
	r->plans_out = 77;
	r->models_out = 3;
	for (int b = 0; b <= BD_HISTO_BUCKETS; b++) {
		r->latency.bucket[b] = (uint64_t)(b < 6 ? 1000 >> b : 0);
		r->solve.bucket[b] = (uint64_t)(b == 9 ? 30 : 0);
	}
	r->latency.sum_s = 1.234567;
	r->solve.sum_s = 4.5;
	r->campaigns = &f->campaigns;
	r->plans = f->plan;
	r->tracks = (const bd_report_track_t *const *)f->track;
	r->model = f->model;
	f->lag[0] = (bd_report_lag_t){"budgetd.features", 0, 12};
	f->lag[1] = (bd_report_lag_t){"budgetd.outcomes", 5, 0};
	r->n_lag = 2;
	r->lag = f->lag;
	static const char *const props[7] = {
		"rocksdb.estimate-num-keys",	   "rocksdb.num-running-compactions",
		"rocksdb.total-sst-files-size",	   "rocksdb.cur-size-all-mem-tables",
		"rocksdb.estimate-live-data-size", "rocksdb.num-running-flushes",
		"rocksdb.block-cache-usage",
	};
	for (int i = 0; i < 7; i++) {
		f->store_name[i] = props[i];
		f->store_value[i] = 1000.0 * (i + 1);
	}
	f->store_value[0] = 123456;
	f->store_value[1] = NAN; /* not readable: left out */
	r->n_store = 7;
	r->store_name = f->store_name;
	r->store_value = f->store_value;
	r->rss_bytes = 104857600;
	r->proc = (bd_report_process_t){.cpu_seconds = 12.5, .virtual_bytes = 536870912,
					.open_fds = 42, .max_fds = 1024};
	r->have_mem = 1;
	r->mem.memtables = 4194304;
	for (int i = 0; i < BD_CF__COUNT; i++)
		r->mem.memtable_cf[i] = 1024.0 * i;
	for (int i = 0; i < BD_CF__COUNT; i++)
		r->mem.sst_cf[i] = 1048576.0 * i;
	r->mem.block_cache = 8388608;
	r->mem.table_readers = 65536;
	r->active = 1;
	r->inputs_paused = 0;
	r->lock_changes = 1;
	r->instance_id = "host-1:4242";
	r->restore_runs = 1;
	r->restore_records = 1229;
	r->restore_batches = 1200;
	r->restore_skipped = 27;
	r->restore_fenced = 2;
	r->restore_seconds = 0.39;
	r->clog_epoch = 1796677059455;
	r->input_resets[1] = 1;
	r->input_skipped[1] = 250;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fixture_t *f = *state;
	for (int i = 0; i < N_CAMPAIGNS; i++) {
		if (f->plan[i])
			bd_plan_unref(f->plan[i]);
		bd_report_track_free(f->track[i]);
	}
	bd_cluster_model_unref(f->model);
	bd_config_free(&f->cfg);
	free(f);
	return 0;
}

/* The version in budgetd_build_info is the build's: the golden says VERSION. */
static char *unversioned(const char *s)
{
	const char *v = "version=\"" PACKAGE_VERSION "\"";
	const char *at = strstr(s, v);
	size_t n = strlen(s);
	char *out = malloc(n + sizeof("version=\"VERSION\""));
	assert_non_null(out);
	if (!at) {
		memcpy(out, s, n + 1);
		return out;
	}
	size_t pre = (size_t)(at - s);
	memcpy(out, s, pre);
	strcpy(out + pre, "version=\"VERSION\"");
	strcat(out, at + strlen(v));
	return out;
}

static char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	char *buf = NULL;
	size_t cap = 0, n = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			char *nb = realloc(buf, cap);
			assert_non_null(nb);
			buf = nb;
		}
		size_t got = fread(buf + n, 1, 4096, fp);
		n += got;
		if (got < 4096)
			break;
	}
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Compares @p got with tests/data/report/@p name (or writes it there under
 * REGEN=1); a difference names the first line that differs. */
static void golden(const char *name, const char *got)
{
	const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
	char path[4096];
	snprintf(path, sizeof(path), "%s/tests/data/report/%s", srcdir, name);
	const char *regen = getenv("REGEN");
	if (regen && !strcmp(regen, "1")) {
		FILE *fp = fopen(path, "wb");
		if (!fp)
			fail_msg("REGEN=1: cannot write %s", path);
		fputs(got, fp);
		assert_int_equal(fclose(fp), 0);
		print_message("rewrote %s\n", path);
		return;
	}
	size_t len = 0;
	char *want = read_file(path, &len);
	if (!want)
		fail_msg("no golden file %s (REGEN=1 writes it)", path);
	if (len == strlen(got) && !memcmp(want, got, len)) {
		free(want);
		return;
	}
	/* the first line that differs, both ways */
	int line = 1;
	const char *a = want, *b = got;
	while (*a && *a == *b) {
		if (*a == '\n')
			line++;
		a++;
		b++;
	}
	while (a > want && a[-1] != '\n') {
		a--;
		b--;
	}
	int la = (int)strcspn(a, "\n"), lb = (int)strcspn(b, "\n");
	print_message("%s differs from %s at line %d:\n  want: %.*s\n  got:  %.*s\n"
		      "(REGEN=1 rewrites the golden files when the change is meant)\n",
		      name, path, line, la, a, lb, b);
	free(want);
	fail_msg("%s: line %d differs from its golden file", name, line);
}

typedef void (*render_fn)(const bd_report_t *r, bd_sbuf_t *out);

static void check_doc(void **state, const char *name, render_fn render)
{
	fixture_t *f = *state;
	bd_sbuf_t out = BD_SBUF_INIT;
	render(&f->r, &out);
	assert_false(bd_sbuf_failed(&out));
	char *s = unversioned(out.s ? out.s : "");
	golden(name, s);
	free(s);
	bd_sbuf_free(&out);
}

#define DOC(fn, file)                                                                      \
	static void test_##fn(void **state)                                                \
	{                                                                                  \
		check_doc(state, file, bd_report_##fn);                                    \
	}
DOC(metrics, "metrics.txt")
DOC(api_campaigns, "campaigns.json")
DOC(api_plans, "plans.json")
DOC(api_clusters, "clusters.json")
DOC(api_models, "models.json")
DOC(api_health, "health.json")
DOC(api_status, "status.json")
DOC(text_campaigns, "campaigns.txt")
DOC(text_plans, "plans.txt")
DOC(text_clusters, "clusters.txt")
DOC(text_models, "models.txt")
DOC(text_health, "health.txt")
DOC(api_experiment, "experiment.json")
DOC(text_experiment, "experiment.txt")
DOC(api_instance, "instance.json")
DOC(text_instance, "instance.txt")

/* A healthy instance without a model says so in both health documents. */
static void test_health_ok(void **state)
{
	fixture_t *f = *state;
	bd_report_t r = f->r;
	r.degraded = 0;
	r.model = NULL;
	bd_sbuf_t out = BD_SBUF_INIT;
	bd_report_api_health(&r, &out);
	bd_report_text_health(&r, &out);
	bd_report_api_models(&r, &out);
	bd_report_text_models(&r, &out);
	assert_false(bd_sbuf_failed(&out));
	golden("health_ok.txt", out.s);
	bd_sbuf_free(&out);
}

/* The configuration: every setting once, a changed one with its default. */
static void test_config(void **state)
{
	fixture_t *f = *state;
	bd_sbuf_t text = BD_SBUF_INIT, json = BD_SBUF_INIT;
	bd_report_text_config(&f->r, &text);
	bd_report_api_config(&f->r, &json);
	assert_false(bd_sbuf_failed(&text) || bd_sbuf_failed(&json));
	char want[128];
	snprintf(want, sizeof(want), "\n%-28s = %-28s  # default: 2\n", "workers", "3");
	assert_non_null(strstr(text.s, want));
	snprintf(want, sizeof(want), "\n%-28s = %-28s\n", "topic.features", "budgetd.features");
	assert_non_null(strstr(text.s, want));
	assert_non_null(strstr(json.s, "{\"key\":\"workers\",\"value\":\"3\",\"default\":\"2\","));
	assert_int_equal(strncmp(json.s, "{\"settings\":[{\"key\":", 20), 0);
	assert_int_equal(strcmp(json.s + json.len - 4, "}]}\n"), 0);
	bd_sbuf_free(&text);
	bd_sbuf_free(&json);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_campaigns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_plans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_clusters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_models, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_campaigns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_plans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_clusters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_models, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_health, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_experiment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_experiment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_api_instance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_instance, setup, teardown),
		cmocka_unit_test_setup_teardown(test_health_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
