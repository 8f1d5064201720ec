/* experiment.c (the holdout, the uniform arm and their report), decide.c's
 * holdout and arm names, campaign.c's holdout and uniform arm (the arm's
 * campaign, its budget, the refusals); the report's intervals checked for
 * coverage on simulated worlds (lab/simworld.c) */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/lab/simexp.h"
#include "budgetd/lab/simworld.h"
#include "budgetd/policy/campaign.h"
#include "budgetd/policy/decide.h"
#include "budgetd/policy/experiment.h"

static void test_holdout_users(void **state)
{
	(void)state;
	const int n = 100000;
	int in10 = 0, in30 = 0, moved = 0, other = 0;
	char u[32];
	for (int i = 0; i < n; i++) {
		snprintf(u, sizeof(u), "user-%d", i);
		bool a = bd_experiment_holdout("c", u, 0.1), b = bd_experiment_holdout("c", u, 0.3);
		in10 += a;
		in30 += b;
		/* raising the share keeps everyone already held out */
		moved += a && !b;
		/* another campaign holds out other users */
		other += a && bd_experiment_holdout("c2", u, 0.1);
		/* the same answer every time */
		assert_true(a == bd_experiment_holdout("c", u, 0.1));
		int g = bd_experiment_bucket("c", u);
		assert_true(g >= 0 && g < BD_EXP_BUCKETS);
	}
	/* binomial: 100 000 x 0.1 has sd 95, x 0.3 sd 145 */
	assert_true(abs(in10 - 10000) < 500);
	assert_true(abs(in30 - 30000) < 750);
	assert_int_equal(moved, 0);
	assert_true(abs(other - 1000) < 200); /* independent: 1% */
	assert_false(bd_experiment_holdout("c", "user-1", 0));
}

/* The uniform arm's users: about its share, never held out, kept when
 * either share changes. */
static void test_uniform_arm_users(void **state)
{
	(void)state;
	const int n = 100000;
	int in = 0, both = 0, moved = 0;
	char u[32];
	for (int i = 0; i < n; i++) {
		snprintf(u, sizeof(u), "user-%d", i);
		bool a = bd_experiment_uniform_arm("c", u, 0.45);
		in += a;
		both += a && bd_experiment_holdout("c", u, 0.5);
		/* a larger holdout or arm keeps the arm's users */
		moved += a && !bd_experiment_uniform_arm("c", u, 0.5);
		assert_true(a == bd_experiment_uniform_arm("c", u, 0.45));
	}
	assert_true(abs(in - 45000) < 800);
	assert_int_equal(both, 0);
	assert_int_equal(moved, 0);
	assert_false(bd_experiment_uniform_arm("c", "user-1", 0));
}

static bd_control_command_t upsert(const char *id, double budget)
{
	bd_control_command_t cmd = {.command_id = "x", .campaign_id = id, .ts_ms = 5,
				    .action = BD_ACTION_UPSERT_CAMPAIGN, .has_budget = true,
				    .daily_budget = budget, .has_treatments = true,
				    .n_treatments = 2};
	cmd.treatments[0] = (bd_treatment_t){0, "none", 0};
	cmd.treatments[1] = (bd_treatment_t){1, "five", 5};
	return cmd;
}

/* A campaign's uniform arm: a campaign of its own, derived, with the arm's
 * share of the budget; commands reach it through the campaign only. */
static void test_uniform_arm_campaign(void **state)
{
	(void)state;
	bd_campaigns_t cs = {0};
	bd_campaign_t *c;
	char err[256];
	int eff;
	bd_control_command_t cmd = upsert("spring", 900);
	cmd.has_holdout = cmd.has_uniform_arm = true;
	cmd.holdout = 0.1;
	cmd.uniform_arm = 0.3;
	assert_int_equal(bd_campaigns_apply(&cs, &cmd, 0.1, &eff, &c, err, sizeof(err)), 0);
	assert_string_equal(c->id, "spring");
	assert_int_equal(cs.n, 2);
	const bd_campaign_t *a = bd_campaigns_find(&cs, "spring#uniform");
	assert_non_null(a);
	assert_true(a->arm == BD_ARM_UNIFORM && strcmp(a->arm_of, "spring") == 0);
	assert_true(a->holdout == 0 && a->uniform_arm == 0 && a->n_treatments == 2);
	/* the treated users share the budget by head: 900 x 0.3 / 0.9 */
	assert_true(fabs(a->daily_budget - 300) < 1e-9 && fabs(bd_campaign_budget(a) - 300) < 1e-9);
	assert_true(fabs(bd_campaign_budget(bd_campaigns_find(&cs, "spring")) - 600) < 1e-9);
	/* a budget change and a pause reach the arm */
	bd_control_command_t sb = {.command_id = "y", .campaign_id = "spring", .ts_ms = 6,
				   .action = BD_ACTION_SET_BUDGET, .has_budget = true,
				   .daily_budget = 1800};
	assert_int_equal(bd_campaigns_apply(&cs, &sb, 0.1, &eff, &c, err, sizeof(err)), 0);
	sb.action = BD_ACTION_PAUSE;
	assert_int_equal(bd_campaigns_apply(&cs, &sb, 0.1, &eff, &c, err, sizeof(err)), 0);
	a = bd_campaigns_find(&cs, "spring#uniform");
	assert_true(fabs(a->daily_budget - 600) < 1e-9 && a->paused);
	/* the arm's id is not the operator's to command */
	sb.campaign_id = "spring#uniform";
	assert_int_equal(bd_campaigns_apply(&cs, &sb, 0.1, &eff, &c, err, sizeof(err)), BD_EINVAL);
	assert_non_null(strstr(err, "uniform arms of campaigns"));
	bd_control_command_t other = upsert("x#uniform", 10);
	assert_int_equal(bd_campaigns_apply(&cs, &other, 0.1, &eff, &c, err, sizeof(err)), BD_EINVAL);
	/* the plan keeps a fifth of the users */
	cmd.holdout = 0.4;
	cmd.uniform_arm = 0.45;
	assert_int_equal(bd_campaigns_apply(&cs, &cmd, 0.1, &eff, &c, err, sizeof(err)), BD_EINVAL);
	assert_non_null(strstr(err, "leave the plan"));
	/* share 0: the arm stays (its outcomes still come) with no budget */
	cmd.holdout = 0.1;
	cmd.uniform_arm = 0;
	assert_int_equal(bd_campaigns_apply(&cs, &cmd, 0.1, &eff, &c, err, sizeof(err)), 0);
	a = bd_campaigns_find(&cs, "spring#uniform");
	assert_true(a && a->daily_budget == 0);
	assert_true(bd_campaign_budget(bd_campaigns_find(&cs, "spring")) == 900);
	/* an id too long for its arm's is refused with the arm */
	char longid[BD_ID_MAX];
	memset(longid, 'a', sizeof(longid) - 4);
	longid[sizeof(longid) - 4] = '\0';
	bd_control_command_t lg = upsert(longid, 10);
	lg.has_uniform_arm = true;
	lg.uniform_arm = 0.2;
	assert_int_equal(bd_campaigns_apply(&cs, &lg, 0.1, &eff, &c, err, sizeof(err)), BD_EINVAL);
	/* ids: the arm's campaign, a decision of either */
	char camp[BD_ID_MAX];
	assert_true(bd_campaign_arm_parse("spring#uniform", camp) && strcmp(camp, "spring") == 0);
	assert_false(bd_campaign_arm_parse("spring", camp));
	assert_true(bd_campaign_is_or_arm("spring", "spring"));
	assert_true(bd_campaign_is_or_arm("spring#uniform", "spring"));
	assert_false(bd_campaign_is_or_arm("springtime", "spring"));
	assert_false(bd_campaign_is_or_arm("spring#uniformx", "spring"));
	assert_string_equal(bd_decide_arm_name("spring#uniform", "plan", true), "uniform");
	assert_string_equal(bd_decide_arm_name("spring", "holdout", true), "holdout");
	assert_string_equal(bd_decide_arm_name("spring", "explore", true), "plan");
	assert_string_equal(bd_decide_arm_name("spring", "plan", false), "");
	/* stored: the campaign, never its arm; loaded, the arm comes back */
	uint8_t buf[4096];
	bd_campaigns_t back = {0};
	const bd_campaign_t *sp = bd_campaigns_find(&cs, "spring");
	int len = bd_campaign_pack(sp, buf, sizeof(buf));
	bd_campaign_t *slot;
	bd_control_command_t mk = upsert("spring", 1);
	assert_int_equal(bd_campaigns_apply(&back, &mk, 0.1, &eff, &slot, err, sizeof(err)), 0);
	assert_int_equal(bd_campaign_unpack(slot, buf, (size_t)len), 0);
	assert_int_equal(back.n, 1);
	assert_int_equal(bd_campaigns_sync_all_arms(&back), 0);
	assert_int_equal(back.n, 2);
	assert_non_null(bd_campaigns_find(&back, "spring#uniform"));
	bd_campaigns_free(&back);
	bd_campaigns_free(&cs);
}

static void test_decide_holdout(void **state)
{
	(void)state;
	bd_campaign_t c = {.id = "c", .n_treatments = 4, .exploration = 1, .holdout = 0.25};
	float x[12] = {0};
	bd_cluster_model_t *m = NULL;
	assert_int_equal(bd_cluster_model_initial(12, 8, &m), 0);
	char rid[32], uid[32];
	int held = 0, n = 4000;
	for (int i = 0; i < n; i++) {
		snprintf(rid, sizeof(rid), "r%d", i);
		snprintf(uid, sizeof(uid), "u%d", i % 400);
		bd_feature_event_t ev = {rid, c.id, uid, 1000, x, 12};
		bd_decision_t d;
		bd_decide(&c, NULL, m, &ev, bd_decision_hash(c.id, uid, rid), &d);
		bool h = bd_experiment_holdout(c.id, uid, c.holdout);
		/* a held-out user gets control on every request, with certainty,
		 * even at exploration 1 */
		assert_true(h == bd_decide_is_holdout(d.reason));
		if (h) {
			assert_int_equal(d.treatment, 0);
			assert_true(d.propensity == 1.0 && !d.explored);
			held++;
		}
	}
	assert_true(held > n / 8 && held < n / 2);
	/* paused comes first: a paused campaign's requests are "paused" */
	c.paused = true;
	for (int i = 0; i < 400; i++) {
		snprintf(uid, sizeof(uid), "u%d", i);
		bd_feature_event_t ev = {"r", c.id, uid, 1000, x, 12};
		bd_decision_t d;
		bd_decide(&c, NULL, m, &ev, bd_decision_hash(c.id, uid, "r"), &d);
		assert_string_equal(d.reason, "paused");
	}
	bd_cluster_model_unref(m);
}

static void test_campaign_record(void **state)
{
	(void)state;
	bd_campaign_t c = {.id = "c", .n_treatments = 2, .holdout = 0.2}, back;
	uint8_t buf[4096];
	int n = bd_campaign_pack(&c, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(bd_campaign_unpack(&back, buf, (size_t)n), 0);
	assert_true(back.holdout == 0.2);
	/* a version 2 record (before the holdout) loads without one */
	buf[0] = 2;
	memset(&back, 0x55, sizeof(back));
	assert_int_equal(bd_campaign_unpack(&back, buf, offsetof(bd_campaign_t, holdout) + 1), 0);
	assert_true(back.holdout == 0 && back.n_treatments == 2);
	/* a version 3 record (before the uniform arm) loads without one */
	c.uniform_arm = 0.3;
	c.had_uniform_arm = true;
	n = bd_campaign_pack(&c, buf, sizeof(buf));
	buf[0] = 3;
	memset(&back, 0x55, sizeof(back));
	assert_int_equal(bd_campaign_unpack(&back, buf, offsetof(bd_campaign_t, uniform_arm) + 1),
			 0);
	assert_true(back.holdout == 0.2 && back.uniform_arm == 0 && !back.had_uniform_arm &&
		    back.arm == 0);
}

/* The report's figures on sums made by hand: means per request, the
 * variance over groups, the difference and its verdict. */
static void test_result(void **state)
{
	(void)state;
	bd_experiment_t e;
	memset(&e, 0, sizeof(e));
	/* treated: groups of 10 requests with value 20 + g % 3; holdout:
	 * groups of 2 requests with value 2 + g % 2 */
	double yt = 0, nt = 0, yh = 0, nh = 0;
	for (int g = 0; g < BD_EXP_BUCKETS; g++) {
		double t[BD_EXP__COUNT] = {10, 10, 20 + g % 3, 1, 0.5};
		double h[BD_EXP__COUNT] = {2, 2, 2 + g % 2, 0, 0.1};
		bd_experiment_add(&e, BD_ARM_TREATED, g, t, BD_EXP__COUNT);
		bd_experiment_add(&e, BD_ARM_HOLDOUT, g, h, BD_EXP__COUNT);
		yt += t[2], nt += 10, yh += h[2], nh += 2;
	}
	bd_exp_result_t r;
	bd_experiment_result(&e, 1.96, &r);
	assert_true(r.requests[BD_ARM_TREATED] == nt && r.requests[BD_ARM_HOLDOUT] == nh);
	assert_true(fabs(r.value[0].mean - yt / nt) < 1e-12);
	assert_true(fabs(r.value[1].mean - yh / nh) < 1e-12);
	/* the treated's variance, directly */
	double m = yt / nt, ss = 0;
	for (int g = 0; g < BD_EXP_BUCKETS; g++) {
		double d = (20 + g % 3) - m * 10;
		ss += d * d;
	}
	double se = sqrt(64.0 / 63 * ss / (nt * nt));
	assert_true(fabs(r.value[0].se - se) < 1e-12);
	assert_true(fabs(r.uplift_value.mean - (yt / nt - yh / nh)) < 1e-12);
	assert_true(fabs(r.uplift_value.se - hypot(r.value[0].se, r.value[1].se)) < 1e-12);
	assert_true(fabs(r.increment - r.uplift_value.mean * nt) < 1e-9);
	assert_string_equal(r.verdict, r.lo > 0 ? "better" : r.hi < 0 ? "worse" : "not yet known");
	/* no holdout: nothing to compare with */
	bd_experiment_t none;
	memset(&none, 0, sizeof(none));
	double t[BD_EXP__COUNT] = {10, 10, 20, 1, 0.5};
	bd_experiment_add(&none, BD_ARM_TREATED, 3, t, BD_EXP__COUNT);
	bd_experiment_result(&none, 1.96, &r);
	assert_string_equal(r.verdict, "no holdout");
	bd_experiment_compare(&none, BD_ARM_TREATED, BD_ARM_UNIFORM, 1.96, &r);
	assert_string_equal(r.verdict, "no uniform arm");
	/* the plan against a uniform arm: the same statistics, arm to arm,
	 * and no value per unit of cost (the arms spend alike) */
	double yu = 0, nu = 0;
	bd_exp_result_t r0;
	bd_experiment_result(&e, 1.96, &r0);
	for (int g = 0; g < BD_EXP_BUCKETS; g++) {
		double u[BD_EXP__COUNT] = {8, 8, 12 + g % 4, 1, 0.4};
		bd_experiment_add(&e, BD_ARM_UNIFORM, g, u, BD_EXP__COUNT);
		yu += u[2], nu += 8;
	}
	bd_exp_result_t ru;
	bd_experiment_compare(&e, BD_ARM_TREATED, BD_ARM_UNIFORM, 1.96, &ru);
	assert_true(ru.a == BD_ARM_TREATED && ru.b == BD_ARM_UNIFORM);
	assert_true(fabs(ru.uplift_value.mean - (yt / nt - yu / nu)) < 1e-12);
	assert_true(fabs(ru.uplift_value.se - hypot(ru.value[0].se, ru.value[2].se)) < 1e-12);
	assert_true(fabs(ru.increment - ru.uplift_value.mean * nt) < 1e-9 && isnan(ru.roi));
	/* ... and the holdout comparison is unmoved by it */
	bd_exp_result_t r2;
	bd_experiment_result(&e, 1.96, &r2);
	assert_true(r2.uplift_value.mean == r0.uplift_value.mean &&
		    r2.uplift_value.se == r0.uplift_value.se && r2.z == r0.z);
	/* an effect inside the noise: how many requests would show it */
	memset(&e, 0, sizeof(e));
	for (int g = 0; g < BD_EXP_BUCKETS; g++) {
		double a[BD_EXP__COUNT] = {10, 10, 5 + (g % 2 ? 4 : -4), 0, 0};
		double b[BD_EXP__COUNT] = {10, 10, 4.9 + (g % 2 ? -4 : 4), 0, 0};
		bd_experiment_add(&e, BD_ARM_TREATED, g, a, BD_EXP__COUNT);
		bd_experiment_add(&e, BD_ARM_HOLDOUT, g, b, BD_EXP__COUNT);
	}
	bd_experiment_result(&e, 1.96, &r);
	assert_string_equal(r.verdict, "not yet known");
	assert_true(r.requests_needed > r.requests[0]);
}

/* Over 240 simulated A/A days per world family, the 95% intervals contain
 * zero 90-99% of the time; over A/B days they contain the true uplift at
 * least 90% of the time.  Users come several times a day (2 000 of them,
 * 6 000 requests), so an interval that took requests for independent
 * draws would be too narrow where a user's outcomes go together. */
static void test_coverage(void **state)
{
	(void)state;
	const int reps = getenv("EXP_REPS") ? atoi(getenv("EXP_REPS")) : 240;
	for (int f = 0; f < BD_SIM_WORLD__COUNT; f++) {
		bd_sim_params_t p;
		bd_sim_params_default(&p);
		assert_int_equal(bd_sim_params_family(&p, f), 0);
		p.n_users = 2000;
		p.seed = 11 + (uint64_t)f;
		bd_sim_world_t *w;
		assert_int_equal(bd_sim_world_new(&p, &w), 0);
		int aa = 0, ab = 0;
		double wsum = 0;
		for (int rep = 0; rep < reps; rep++) {
			bd_exp_result_t r;
			double truth;
			assert_int_equal(bd_sim_holdout_day(w, rep, 6000, 0.3, 0, 1.959964, &r,
							    &truth), 0);
			aa += r.lo <= truth && truth <= r.hi;
			assert_int_equal(bd_sim_holdout_day(w, 100000 + rep, 6000, 0.3, 1, 1.959964,
							    &r, &truth), 0);
			ab += r.lo <= truth && truth <= r.hi;
			wsum += r.hi - r.lo;
		}
		printf("# world %s: A/A coverage %.3f, A/B coverage %.3f (%d days each), mean "
		       "interval width %.3f\n", bd_sim_family_name(f), (double)aa / reps,
		       (double)ab / reps, reps, wsum / reps);
		assert_true(aa >= 0.90 * reps && aa <= 0.99 * reps);
		assert_true(ab >= 0.90 * reps);
		bd_sim_world_free(w);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_holdout_users),
		cmocka_unit_test(test_uniform_arm_users),
		cmocka_unit_test(test_uniform_arm_campaign),
		cmocka_unit_test(test_decide_holdout),
		cmocka_unit_test(test_campaign_record),
		cmocka_unit_test(test_result),
		cmocka_unit_test(test_coverage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
