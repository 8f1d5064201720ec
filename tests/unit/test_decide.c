/* decide.c, campaign.c, plan.c, snapshot.c */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>

#include "budgetd/policy/decide.h"
#include "budgetd/policy/snapshot.h"

static bd_campaign_t camp(double eps)
{
	bd_campaign_t c = {.id = "c", .n_treatments = 4, .exploration = eps};
	return c;
}

static float x[12] = {0.3f, -1, 2, 0.5f, 0, 0, 1, 1, -2, 0.1f, 0.2f, 0.3f};

static void decide_req(const bd_campaign_t *c, const bd_plan_t *p,
		       const bd_cluster_model_t *m, int i, bd_decision_t *d)
{
	char rid[32];
	snprintf(rid, sizeof(rid), "r%d", i);
	bd_feature_event_t ev = {rid, c->id, "u", 1000, x, 12};
	bd_decide(c, p, m, &ev, bd_decision_hash(c->id, "u", rid), d);
}

static void test_ids(void **state)
{
	char id[17];
	uint64_t h;
	(void)state;
	bd_decision_id_format(0x00ab00000000cdefULL, id);
	assert_string_equal(id, "00ab00000000cdef");
	assert_int_equal(bd_decision_id_parse(id, &h), 0);
	assert_int_equal(h, 0x00ab00000000cdefULL);
	assert_int_equal(bd_decision_id_parse("00AB00000000CDEF", &h), BD_EINVAL);
	assert_int_equal(bd_decision_id_parse("00ab", &h), BD_EINVAL);
	assert_int_equal(bd_decision_id_parse("00ab00000000cdef0", &h), BD_EINVAL);
	assert_int_equal(bd_decision_id_parse("00ab00000000cdeg", &h), BD_EINVAL);
	/* the same text as printf's %016llx, extremes included */
	uint64_t seq = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 10002; i++) {
		uint64_t v = i == 0 ? 0 : i == 1 ? UINT64_MAX : (seq = seq * 6364136223846793005ULL + 1);
		char want[17];
		snprintf(want, sizeof(want), "%016llx", (unsigned long long)v);
		bd_decision_id_format(v, id);
		assert_string_equal(id, want);
		assert_int_equal(bd_decision_id_parse(id, &h), 0);
		assert_true(h == v);
	}
	/* the separators keep the parts apart */
	assert_true(bd_decision_hash("a", "u", "bc") != bd_decision_hash("ab", "u", "c"));
	assert_true(bd_decision_hash("c", "ab", "c") != bd_decision_hash("c", "a", "bc"));
	/* the user is bound in: the same request of another user is another id */
	assert_true(bd_decision_hash("c", "u1", "r") != bd_decision_hash("c", "u2", "r"));
}

static void test_deterministic_and_exploration(void **state)
{
	bd_cluster_model_t *m;
	bd_campaign_t c = camp(0.2);
	bd_decision_t a, b;
	int explored = 0, arm[4] = {0};
	(void)state;
	assert_int_equal(bd_cluster_model_initial(12, 8, &m), 0);
	for (int i = 0; i < 20000; i++) {
		decide_req(&c, NULL, m, i, &a);
		decide_req(&c, NULL, m, i, &b);
		assert_int_equal(a.treatment, b.treatment);
		assert_true(a.propensity == b.propensity);
		assert_true(a.treatment >= 0 && a.treatment < 4);
		assert_true(a.propensity == 0.25); /* uniform + uniform exploration */
		assert_string_equal(a.reason, a.explored ? "explore" : "uniform");
		explored += a.explored;
		arm[a.treatment]++;
	}
	assert_in_range(explored, 3700, 4300);
	for (int t = 0; t < 4; t++)
		assert_in_range(arm[t], 4700, 5300);
	bd_cluster_model_unref(m);
}

static void test_plan_rows(void **state)
{
	bd_cluster_model_t *m;
	bd_campaign_t c = camp(0.1);
	bd_plan_t *p = bd_plan_new_uniform("c", 8, 4);
	bd_decision_t d;
	int arm[4] = {0}, plan_n = 0;
	(void)state;
	assert_int_equal(bd_cluster_model_initial(12, 8, &m), 0);
	p->version = 3;
	for (int k = 0; k < 8; k++) {
		double row[4] = {0.7, 0.3, 0, 0};
		memcpy(p->prob + k * 4, row, sizeof(row));
	}
	for (int i = 0; i < 20000; i++) {
		decide_req(&c, p, m, i, &d);
		if (d.explored) {
			assert_true(d.propensity == 0.1 / 4 + 0.9 * p->prob[d.cluster * 4 + d.treatment]);
			continue;
		}
		plan_n++;
		arm[d.treatment]++;
		assert_int_equal(d.plan_version, 3);
		assert_string_equal(d.reason, "plan");
		double want = d.treatment == 0 ? 0.1 / 4 + 0.9 * 0.7 : 0.1 / 4 + 0.9 * 0.3;
		assert_true(d.propensity > want - 1e-12 && d.propensity < want + 1e-12);
	}
	assert_int_equal(arm[2] + arm[3], 0); /* never an arm of probability 0 */
	assert_in_range(arm[0] * 1000 / plan_n, 685, 715);
	/* a plan for another model version is not used */
	p->model_version = 9;
	decide_req(&c, p, m, 5, &d);
	assert_int_equal(d.plan_version, 0);
	/* paused: control, propensity 1 */
	c.paused = true;
	decide_req(&c, NULL, m, 5, &d);
	assert_int_equal(d.treatment, 0);
	assert_true(d.propensity == 1.0);
	assert_string_equal(d.reason, "paused");
	bd_plan_unref(p);
	bd_cluster_model_unref(m);
}

/* The budget guard: a burst of decisions under one plan commits at most the
 * plan's guard limit of estimated cost; the rest get control, counted. */
static void test_budget_guard(void **state)
{
	bd_cluster_model_t *m;
	bd_campaign_t c = camp(0.1);
	bd_plan_t *p = bd_plan_new_uniform("c", 8, 4);
	_Atomic uint64_t campaign_count = 0;
	bd_decision_t d;
	double committed = 0;
	int guarded = 0, first = 0, explored_spend = 0, after_cap_spend = 0;
	(void)state;
	assert_int_equal(bd_cluster_model_initial(12, 8, &m), 0);
	p->version = 3;
	p->remaining_budget = 100;
	p->guard_limit = 105; /* guard.tolerance 0.05 */
	p->guard->campaign_guarded = &campaign_count;
	assert_non_null(p->cost = calloc(8 * 4, sizeof(double)));
	for (int k = 0; k < 8; k++)
		for (int t = 0; t < 4; t++) {
			p->prob[k * 4 + t] = t == 3; /* the costliest plan */
			p->cost[k * 4 + t] = t;
		}
	for (int i = 0; i < 1000; i++) {
		decide_req(&c, p, m, i, &d);
		int t0 = d.treatment, r = bd_decide_guard(p, &d);
		if (r) {
			guarded++;
			first += r == 2;
			assert_true(t0 > 0);
			assert_int_equal(d.treatment, 0);
			assert_true(d.propensity == 1.0);
			assert_false(d.explored);
			assert_int_equal(d.plan_version, 3);
			assert_string_equal(d.reason, "budget-guard");
			continue;
		}
		committed += p->cost[d.cluster * 4 + d.treatment];
		explored_spend += d.explored && d.treatment > 0;
		after_cap_spend += guarded > 0 && d.treatment > 0;
	}
	/* the burst would cost ~2850; the decisions kept cost at most the
	 * limit, and the cap was reached (no cell fits in what is left) */
	assert_true(committed <= 105 && committed > 105 - 3);
	assert_true(atomic_load(&p->guard->committed) == committed);
	assert_in_range(guarded, 900, 990);
	assert_int_equal(first, 1);
	assert_int_equal(atomic_load(&p->guard->guarded), (uint64_t)guarded);
	assert_int_equal(atomic_load(&campaign_count), (uint64_t)guarded);
	assert_true(explored_spend > 0); /* the exploration slice commits too */
	/* past the cap only cheaper explored arms still fit (cost 1 or 2) */
	assert_true(after_cap_spend <= 3);
	/* control costs nothing and is never guarded */
	d = (bd_decision_t){.treatment = 0, .cluster = 0, .plan_version = 3, .reason = "plan"};
	assert_int_equal(bd_decide_guard(p, &d), 0);
	assert_string_equal(d.reason, "plan");
	/* a plan of another model: the plan did not decide, nothing to guard */
	p->model_version = 9;
	decide_req(&c, p, m, 7, &d);
	assert_int_equal(d.plan_version, 0);
	assert_int_equal(bd_decide_guard(p, &d), 0);
	/* the next plan re-opens spending; a plan without estimates has no guard */
	bd_plan_t *q = bd_plan_new_uniform("c", 8, 4);
	q->version = 4;
	d = (bd_decision_t){.treatment = 3, .cluster = 0, .plan_version = 4, .reason = "plan"};
	assert_int_equal(bd_decide_guard(q, &d), 0);
	bd_plan_unref(q);
	bd_plan_unref(p);
	bd_cluster_model_unref(m);
}

/* Plans solved in quick succession during a burst share the campaign's
 * ledger: a plan's allowance counts from the ledger as it stood when its
 * estimates were gathered, so the decisions made meanwhile under the plan
 * before (in neither the new plan's estimates nor its allowance) are not
 * given the remaining budget a second time. */
static void test_budget_guard_ledger(void **state)
{
	_Atomic double ledger = 0;
	bd_plan_t *v[3];
	double spent = 0;
	(void)state;
	for (int i = 0; i < 3; i++) {
		assert_non_null(v[i] = bd_plan_new_uniform("c", 1, 2));
		v[i]->version = i + 1;
		assert_non_null(v[i]->cost = calloc(2, sizeof(double)));
		v[i]->cost[1] = 1;
		v[i]->guard_limit = 10; /* each plan saw 10 left */
		v[i]->guard->campaign_ledger = &ledger;
	}
	/* plans 2 and 3 were gathered before plan 1 decided anything */
	for (int i = 0; i < 3; i++) {
		v[i]->guard->ledger_base = 0;
		for (int n = 0; n < 20; n++)
			spent += bd_plan_guard_commit(v[i], 0, 1) == 0;
	}
	if (spent != 10)
		fail_msg("three plans gathered at once committed %g, want 10", spent);
	/* a plan gathered after 10 was committed has 10 of its own */
	v[2]->guard->ledger_base = 10;
	for (int n = 0; n < 20; n++)
		spent += bd_plan_guard_commit(v[2], 0, 1) == 0;
	assert_true(spent == 20 && atomic_load(&ledger) == 20);
	for (int i = 0; i < 3; i++)
		bd_plan_unref(v[i]);
}

/* Workers commit concurrently: the sum never passes the limit. */
static void *commit_many(void *arg)
{
	for (int i = 0; i < 20000; i++)
		(void)bd_plan_guard_commit(arg, 1, 2);
	return NULL;
}

static void test_budget_guard_threads(void **state)
{
	bd_plan_t *p = bd_plan_new_uniform("c", 2, 3);
	pthread_t th[4];
	(void)state;
	assert_non_null(p->cost = calloc(6, sizeof(double)));
	p->cost[1 * 3 + 2] = 0.5;
	p->guard_limit = 1000.25;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, commit_many, p), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_true(atomic_load(&p->guard->committed) == 1000);
	assert_int_equal(atomic_load(&p->guard->guarded), 4 * 20000 - 2000);
	bd_plan_unref(p);
}

static void test_record(void **state)
{
	bd_decision_rec_t r = {.explored = true, .joined = true, .treatment = 3, .cluster = 7,
			       .propensity = 0.125, .ts_ms = 5, .plan_version = 2,
			       .model_version = 1, .campaign_id = "camp", .request_id = "req",
			       .user_id = "user", .reason = "plan", .dim = 12, .features = x}, o;
	uint8_t buf[512];
	(void)state;
	int n = bd_decision_rec_pack(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(bd_decision_rec_unpack(&o, buf, (size_t)n), 0);
	assert_true(o.explored && o.joined && o.treatment == 3 && o.cluster == 7);
	assert_false(o.experiment);
	assert_true(o.propensity == 0.125 && o.plan_version == 2 && o.model_version == 1);
	assert_string_equal(o.campaign_id, "camp");
	assert_string_equal(o.user_id, "user");
	assert_int_equal(o.dim, 12);
	assert_memory_equal(o.features, x, sizeof(x));
	assert_int_equal(bd_decision_rec_unpack(&o, buf, (size_t)n - 1), BD_EDECODE);
	r.experiment = true;
	n = bd_decision_rec_pack(&r, buf, sizeof(buf));
	assert_int_equal(bd_decision_rec_unpack(&o, buf, (size_t)n), 0);
	assert_true(o.experiment && o.explored && o.joined);
	/* the expiry's peek: the time and the campaign, without the rest */
	int64_t ts = 0;
	const char *camp = NULL;
	size_t clen = 0;
	r.ts_ms = 1767225600123LL;
	n = bd_decision_rec_pack(&r, buf, sizeof(buf));
	assert_int_equal(bd_decision_rec_peek(buf, (size_t)n, &ts, &camp, &clen), 0);
	assert_true(ts == 1767225600123LL && clen == 4 && memcmp(camp, "camp", 4) == 0);
	/* cut inside the campaign id, or another version: not read */
	assert_int_equal(bd_decision_rec_peek(buf, 43, &ts, &camp, &clen), BD_EDECODE);
	buf[0] = 9;
	assert_int_equal(bd_decision_rec_peek(buf, (size_t)n, &ts, &camp, &clen), BD_EDECODE);
	assert_int_equal(bd_decision_rec_pack(&r, buf, 20), -28);
}

static bd_control_command_t cmd(const char *id, bd_action_t a)
{
	bd_control_command_t c = {.command_id = "x", .campaign_id = id, .ts_ms = 1, .action = a};
	return c;
}

static void test_campaigns(void **state)
{
	bd_campaigns_t cs = {0};
	bd_campaign_t *ch;
	char err[256];
	int eff;
	(void)state;
	bd_control_command_t c = cmd("b", BD_ACTION_UPSERT_CAMPAIGN);
	assert_int_equal(bd_campaigns_apply(&cs, &c, 0.1, &eff, &ch, err, sizeof(err)), BD_EINVAL);
	assert_non_null(strstr(err, "no treatments"));
	c.has_treatments = true;
	c.n_treatments = 2;
	c.treatments[0] = (bd_treatment_t){0, "none", 0};
	c.treatments[1] = (bd_treatment_t){1, "c", 3};
	c.has_budget = true;
	c.daily_budget = 50;
	char ids[40][8];
	for (int i = 0; i < 40; i++) {
		snprintf(ids[i], sizeof(ids[i]), "k%02d", (i * 17) % 40);
		c.campaign_id = ids[i];
		assert_int_equal(bd_campaigns_apply(&cs, &c, 0.1, &eff, &ch, err, sizeof(err)), 0);
		assert_int_equal(eff, BD_EFFECT_RESOLVE);
	}
	assert_int_equal(cs.n, 40);
	for (int i = 1; i < cs.n; i++)
		assert_true(strcmp(cs.v[i - 1].id, cs.v[i].id) < 0);
	assert_non_null(bd_campaigns_find(&cs, "k13"));
	assert_null(bd_campaigns_find(&cs, "k40"));
	c = cmd("ghost", BD_ACTION_SET_BUDGET);
	c.has_budget = true;
	assert_int_equal(bd_campaigns_apply(&cs, &c, 0.1, &eff, &ch, err, sizeof(err)), BD_EUNKNOWN);
	c = cmd("k05", BD_ACTION_PAUSE);
	assert_int_equal(bd_campaigns_apply(&cs, &c, 0.1, &eff, &ch, err, sizeof(err)), 0);
	assert_true(bd_campaigns_find(&cs, "k05")->paused);
	c = cmd("k05", BD_ACTION_RETRAIN);
	assert_int_equal(bd_campaigns_apply(&cs, &c, 0.1, &eff, &ch, err, sizeof(err)), 0);
	assert_int_equal(eff, BD_EFFECT_RETRAIN);
	c = cmd("k05", BD_ACTION_SET_BUDGET);
	c.has_budget = true;
	c.daily_budget = 7;
	assert_int_equal(bd_campaigns_apply(&cs, &c, 0.1, &eff, &ch, err, sizeof(err)), 0);
	assert_true(ch->daily_budget == 7 && ch->budget_changes == 2);

	uint8_t buf[sizeof(bd_campaign_t) + 8];
	bd_campaign_t back;
	int n = bd_campaign_pack(ch, buf, sizeof(buf));
	assert_int_equal(bd_campaign_unpack(&back, buf, (size_t)n), 0);
	assert_string_equal(back.id, "k05");
	assert_true(back.paused && back.daily_budget == 7);
	assert_int_equal(bd_campaign_unpack(&back, buf, (size_t)n - 1), BD_EDECODE);

	/* days: UTC+8 moves the boundary; negative times round down */
	double sec;
	back.tz_offset_s = 8 * 3600;
	assert_int_equal(bd_campaign_day(&back, 86400000LL - 8 * 3600000LL, &sec), 1);
	assert_true(sec == 0);
	back.tz_offset_s = 0;
	assert_int_equal(bd_campaign_day(&back, -1, &sec), -1);
	assert_true(sec > 86399.998);

	/* snapshots copy campaigns and hold plans */
	bd_plan_t **plans = calloc((size_t)cs.n, sizeof(*plans));
	bd_cluster_model_t *m;
	assert_int_equal(bd_cluster_model_initial(4, 2, &m), 0);
	plans[3] = bd_plan_new_uniform(cs.v[3].id, 2, 2);
	bd_snapshot_t *s = bd_snapshot_new(1, &cs, plans, m);
	const bd_plan_t *p;
	assert_non_null(bd_snapshot_find(s, cs.v[3].id, &p));
	assert_ptr_equal(p, plans[3]);
	assert_null(bd_snapshot_find(s, "zzz", &p));
	bd_plan_unref(plans[3]);
	free(plans);
	bd_campaigns_free(&cs);
	assert_string_equal(bd_snapshot_find(s, "k05", NULL)->id, "k05"); /* a copy */
	bd_snapshot_unref(bd_snapshot_ref(s));
	bd_snapshot_unref(s);
	bd_cluster_model_unref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids),
		cmocka_unit_test(test_deterministic_and_exploration),
		cmocka_unit_test(test_plan_rows),
		cmocka_unit_test(test_budget_guard),
		cmocka_unit_test(test_budget_guard_ledger),
		cmocka_unit_test(test_budget_guard_threads),
		cmocka_unit_test(test_record),
		cmocka_unit_test(test_campaigns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
