/* pacer.c: pause, spent budget, warm-up, the exploration slice, spending to
 * the budget in every solve.mode, the fill of a slack budget, the pace check. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/base/config.h"
#include "budgetd/policy/estimate.h"
#include "budgetd/policy/pacer.h"
#include "budgetd/policy/plan.h"

#define K 3
#define J 3

static bd_config_t cfg;
static char err[256];

static void mode(const char *m)
{
	assert_int_equal(bd_config_set(&cfg, "solve.mode", m, err, sizeof(err)), 0);
}

/* Three clusters of equal traffic; treatment t costs t per request and buys
 * value that rises with diminishing returns, differently per cluster. */
static void estimate(bd_estimate_t *e, double outcomes)
{
	assert_int_equal(bd_estimate_init(e, K, J), 0);
	for (int k = 0; k < K; k++) {
		e->share[k] = 1.0 / K;
		for (int t = 0; t < J; t++) {
			int i = k * J + t;
			e->c[i] = t;
			e->r[i] = 10 + (k + 1) * sqrt((double)t);
			e->r_se[i] = 0.5;
			/* the raw means behind the gate: the same, well measured */
			e->rr[i] = e->r[i];
			e->rr_var[i] = 1e-4;
			e->c_se[i] = 0.01;
			e->c_var[i] = 0.1 * t;
			e->all[(size_t)i * BD_STAT__COUNT + BD_STAT_OUTCOMES] = outcomes / (K * J);
		}
	}
	e->n_rem = 10000;
	e->n_tail = 1000;
	e->today_total = 5000;
	e->day_elapsed = 0.5;
	e->past_days = 3;
}

static bd_campaign_t campaign(double budget)
{
	bd_campaign_t c = {.n_treatments = J, .daily_budget = budget, .exploration = 0.1};
	strcpy(c.id, "c");
	return c;
}

/* Expected spend per request of the whole policy (exploration + plan). */
static double cost_per_request(const bd_plan_t *p, const bd_estimate_t *e, double eps)
{
	double plan = 0, expl = 0;
	for (int k = 0; k < K; k++)
		for (int t = 0; t < J; t++) {
			plan += e->share[k] * p->prob[k * J + t] * e->c[k * J + t];
			expl += e->share[k] * e->c[k * J + t] / J;
		}
	return eps * expl + (1 - eps) * plan;
}

/* A uniform arm (campaign.h): every cluster the same row, control and a
 * share q of uniform draws, spending the arm's budget per request; and a
 * campaign with a uniform arm paces its own share of the budget. */
static void test_uniform_arm(void **state)
{
	(void)state;
	mode("lp");
	for (double per = 0.1; per < 1.2; per += 0.25) {
		bd_estimate_t e;
		estimate(&e, 1000);
		bd_campaign_t c = campaign(per * e.n_rem);
		c.arm = BD_ARM_UNIFORM;
		bd_plan_t *p = bd_plan_new_uniform("c#uniform", K, J);
		assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
		assert_string_equal(p->solver, "uniform-arm");
		/* the same row everywhere, uniform over the coupons */
		for (int k = 0; k < K; k++)
			for (int t = 0; t < J; t++) {
				assert_true(fabs(p->prob[k * J + t] - p->prob[t]) < 1e-12);
				if (t > 1)
					assert_true(fabs(p->prob[k * J + t] - p->prob[k * J + 1]) < 1e-12);
			}
		/* it spends the budget per request (with the lead), or all it
		 * can: every request a uniform draw (mean cost 1 here) */
		double target = fmin(per * (1 + cfg.pace_lead * 0.9), 1.0);
		double cpr = cost_per_request(p, &e, 0.1);
		if (fabs(cpr - target) > 1e-9)
			fail_msg("uniform arm at %.2f per request spends %.6f, want %.6f", per, cpr,
				 target);
		assert_non_null(strstr(p->note, "the uniform arm"));
		bd_plan_unref(p);
		bd_estimate_free(&e);
	}
	/* the campaign: its users not held out share the budget by head */
	bd_estimate_t e;
	estimate(&e, 1000);
	bd_campaign_t c = campaign(900);
	c.holdout = 0.1;
	c.uniform_arm = 0.3;
	assert_true(fabs(bd_campaign_budget(&c) - 600) < 1e-9);
	bd_plan_t *p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 100, 7, p), 0);
	assert_true(fabs(p->remaining_budget - 500) < 1e-9 && fabs(p->daily_budget - 600) < 1e-9);
	assert_string_not_equal(p->solver, "uniform-arm");
	bd_plan_unref(p);
	bd_estimate_free(&e);
	mode("stochastic");
}

static void test_control_states(void **state)
{
	bd_estimate_t e;
	(void)state;
	estimate(&e, 1000);
	bd_campaign_t c = campaign(10000);
	c.paused = true;
	bd_plan_t *p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 100, 7, p), 0);
	assert_string_equal(p->solver, "paused");
	assert_true(p->explore == 0 && p->prob[0] == 1 && p->prob[J] == 1);
	bd_plan_unref(p);

	c.paused = false; /* spent beyond the budget: nothing more */
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 10000.5, 7, p), 0);
	assert_string_equal(p->solver, "budget-spent");
	assert_true(p->explore == 0 && p->remaining_budget == 0 && p->prob[2 * J] == 1);
	bd_plan_unref(p);
	bd_estimate_free(&e);

	estimate(&e, 150); /* warm-up: too few outcomes */
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	assert_string_equal(p->solver, "uniform-warmup");
	assert_true(fabs(p->prob[1] - 1.0 / J) < 1e-12 && p->explore < 0);
	bd_plan_unref(p);
	bd_estimate_free(&e);
}

static void test_spends_the_budget(void **state)
{
	const char *modes[] = {"lp", "integer", "stochastic"};
	(void)state;
	for (int m = 0; m < 3; m++) {
		mode(modes[m]);
		for (double per = 0.2; per < 1.6; per += 0.3) {
			bd_estimate_t e;
			estimate(&e, 1000);
			double spent = 1234;
			bd_campaign_t c = campaign(spent + per * e.n_rem);
			bd_plan_t *p = bd_plan_new_uniform("c", K, J);
			assert_int_equal(bd_pacer_plan(&cfg, &c, &e, spent, 7, p), 0);
			double cpr = cost_per_request(p, &e, 0.1);
			/* the budget guard: the plan's estimates plus
			 * guard.cost.sigmas of their errors, and the remaining
			 * budget with the tolerance; traffic as forecast with
			 * well measured costs never reaches it (the lead is
			 * below it) */
			assert_non_null(p->cost);
			for (int i = 0; i < K * J; i++)
				assert_true(fabs(p->cost[i] - (e.c[i] + cfg.guard_cost_sigmas *
									e.c_se[i])) < 1e-12);
			assert_true(fabs(p->guard_limit - p->remaining_budget *
							      (1 + cfg.guard_tolerance)) < 1e-9);
			assert_true(cpr * e.n_rem < p->guard_limit);
			/* never past the remaining budget per request and the lead
			 * (n_tail / n_rem = 0.1 of it is not correctable); the LP
			 * lands on it; the others stay close below */
			double target = per * (1 + cfg.pace_lead * 0.9);
			assert_true(cpr <= target * (1 + 1e-9));
			/* integer: within one cluster's step (share 1/3, cost
			 * up to 2, policy slice 0.9); stochastic: within the
			 * shading of the tail's risk */
			double slack = m == 0 ? 1e-9 : m == 1 ? 0.9 * 2.0 / 3 : 0.1 * per;
			if (target - cpr > slack)
				fail_msg("%s at %.2f per request: plan spends %.4f", modes[m], per, cpr);
			assert_true(fabs(p->pace_rate - cpr) < 1e-9 * (1 + cpr) || m == 2);
			assert_true(p->explore == 0.1 && p->pace_spent == spent && p->pace_day == 7);
			assert_int_equal(p->n_curve, BD_PACER_CURVE_POINTS);
			assert_true(p->curve_value[BD_PACER_CURVE_POINTS - 1] >= p->curve_value[0]);
			bd_plan_unref(p);
			bd_estimate_free(&e);
		}
	}
	mode("stochastic");
}

static void test_land(void **state)
{
	bd_estimate_t e;
	(void)state;
	mode("lp");
	estimate(&e, 1000);
	/* treatment 2 is estimated slightly worse than 1 in every cluster:
	 * maximising the estimates spends 1 per request */
	for (int k = 0; k < K; k++) {
		e.r[k * J + 1] = e.r[k * J + 0] + 1;
		e.r[k * J + 2] = e.r[k * J + 1] - 0.2;
	}
	bd_campaign_t c = campaign(1.8 * e.n_rem); /* room for 1.8 per request */
	assert_int_equal(bd_config_set(&cfg, "solve.land", "0", err, sizeof(err)), 0);
	bd_plan_t *p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	double without = cost_per_request(p, &e, 0.1);
	assert_true(fabs(without - (0.1 * 1 + 0.9 * 1)) < 1e-9);
	double v_without = p->expected_value;
	bd_plan_unref(p);
	assert_int_equal(bd_config_set(&cfg, "solve.land", "1", err, sizeof(err)), 0);
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	/* lands (on the budget and the lead: n_tail is 0.1 of the rest) */
	assert_true(fabs(cost_per_request(p, &e, 0.1) - 1.8 * (1 + cfg.pace_lead * 0.9)) < 1e-9);
	assert_true(p->expected_value < v_without); /* at the estimated loss */
	/* the curve goes past the peak: its last point buys less than the peak */
	double peak = 0;
	for (int i = 0; i < p->n_curve; i++)
		peak = fmax(peak, p->curve_value[i]);
	assert_true(p->curve_value[p->n_curve - 1] < peak);
	bd_plan_unref(p);
	bd_estimate_free(&e);
	mode("stochastic");
}

/* pace.lead: ahead of the even pace on the correctable share of the rest of
 * the day only; at the cap it keeps the costliest plan that estimates put
 * just above the pace. */
static void set_num(const char *key, double x)
{
	char v[32];
	snprintf(v, sizeof(v), "%.17g", x);
	assert_int_equal(bd_config_set(&cfg, key, v, err, sizeof(err)), 0);
}

static void set_lead(double lead)
{
	set_num("pace.lead", lead);
}

/* Plans campaign @p c on @p e and checks its cost per request. */
static void expect_cost(size_t i, const bd_campaign_t *c, const bd_estimate_t *e, double want)
{
	bd_plan_t *p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, c, e, 0, 7, p), 0);
	double cpr = cost_per_request(p, e, 0.1);
	if (fabs(cpr - want) > 1e-9)
		fail_msg("case %zu: %.6f per request, want %.6f", i, cpr, want);
	bd_plan_unref(p);
}

static void test_lead(void **state)
{
	bd_estimate_t e;
	(void)state;
	mode("lp");
	estimate(&e, 1000);
	const double per = 1.0, lead = cfg.pace_lead;
	assert_true(lead > 0.01);
	bd_campaign_t c = campaign(per * e.n_rem);
	struct {
		double n_tail, lead, want;
	} cases[] = {
		{1000, lead, per * (1 + lead * 0.9)}, /* 10% of the rest is the tail */
		{0, lead, per * (1 + lead)},          /* all of it correctable */
		{10000, lead, per},                   /* all of it in the tail */
		{20000, lead, per},                   /* (a forecast above the rest) */
		{1000, 0, per},                       /* no lead */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_lead(cases[i].lead);
		e.n_tail = cases[i].n_tail;
		expect_cost(i, &c, &e, cases[i].want);
	}
	/* at the cap: the costliest plan (2 per request, exploration 1) is
	 * estimated 2% above the even pace */
	const double cap = 0.1 * 1 + 0.9 * 2;
	c = campaign(cap / 1.02 * e.n_rem);
	e.n_tail = 0;
	for (int with = 0; with < 2; with++) {
		set_lead(with ? lead : 0);
		bd_plan_t *p = bd_plan_new_uniform("c", K, J);
		assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
		double cpr = cost_per_request(p, &e, 0.1);
		if (with)
			assert_true(fabs(cpr - cap) < 1e-9); /* everyone the costliest */
		else
			assert_true(cpr < cap * 0.99);        /* throttled */
		bd_plan_unref(p);
	}
	set_lead(lead);
	bd_estimate_free(&e);
	mode("stochastic");
}

/* pace.lead.cold: a day without a traffic profile aims that share ahead of
 * the even pace in its landing hours (the last solve.land.cold.h), on top
 * of pace.lead; not before them, not on a day with a profile, not at 0. */
static void test_lead_cold(void **state)
{
	bd_estimate_t e;
	(void)state;
	mode("lp");
	estimate(&e, 1000);
	const double per = 0.8, lead = cfg.pace_lead, cold = cfg.pace_lead_cold;
	if (!(cold >= 0.3))
		fail_msg("pace.lead.cold defaults to %g: a cold first day lands short", cold);
	bd_campaign_t c = campaign(per * e.n_rem);
	const double warm = per * (1 + lead * 0.9); /* n_tail is 0.1 of the rest */
	struct {
		double past_days, hours_left, cold, want;
	} cases[] = {
		{3, 11, cold, warm},              /* a profile: no cold lead */
		{0, 20, cold, warm},              /* cold, before the landing hours */
		{0, 11, cold, warm * (1 + cold)}, /* cold, landing */
		{0, 12, cold, warm * (1 + cold)}, /* (from their first second) */
		{0, 11, 0, warm},                 /* switched off */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_num("pace.lead.cold", cases[i].cold);
		e.past_days = cases[i].past_days;
		e.sec_left = cases[i].hours_left * 3600;
		expect_cost(i, &c, &e, cases[i].want);
	}
	set_num("pace.lead.cold", cold);
	bd_estimate_free(&e);
	mode("stochastic");
}

/* The gate: a plan whose uplift over uniform at the same spend is not
 * significantly positive gives way to that uniform allocation (same spend);
 * a clearly better one is served; solve.gate.z=0 never gates.  The note
 * says why in words. */
static void test_gate(void **state)
{
	bd_estimate_t e;
	(void)state;
	mode("lp");
	assert_int_equal(bd_config_set(&cfg, "solve.gate.z", "1.64", err, sizeof(err)), 0);
	estimate(&e, 1000);
	bd_campaign_t c = campaign(0.8 * e.n_rem);
	bd_plan_t *p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	double cpr = cost_per_request(p, &e, 0.1);
	/* well measured: the plan beats uniform by far more than its error */
	assert_string_equal(p->solver, "lp");
	assert_true(p->uplift_uniform > 5 * p->uplift_uniform_se && p->uplift_uniform > 0);
	assert_true(p->uplift_control > p->uplift_uniform);
	assert_true(isfinite(p->value_max_spend) && p->note[0] == '\0');
	double v_plan = p->expected_value;
	bd_plan_unref(p);

	/* the same estimates, each cell's mean known to +-3: gated */
	for (int i = 0; i < K * J; i++)
		e.rr_var[i] = 9;
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	if (strcmp(p->solver, "uniform-gate") != 0)
		fail_msg("solver %s, uplift %.2f se %.2f", p->solver, p->uplift_uniform,
			 p->uplift_uniform_se);
	/* uniform at the same spend: control, and for a share q of requests a
	 * uniformly drawn treatment, the same in every cluster */
	double q = (p->prob[0 * J + 1]) * J;
	for (int k = 0; k < K; k++)
		for (int t = 0; t < J; t++)
			assert_true(fabs(p->prob[k * J + t] - ((t == 0) * (1 - q) + q / J)) < 1e-12);
	assert_true(fabs(cost_per_request(p, &e, 0.1) - cpr) < 1e-9);
	assert_true(p->expected_value < v_plan);
	assert_non_null(strstr(p->note, "not significantly positive"));
	bd_plan_unref(p);

	/* the gate off (the default) */
	assert_int_equal(bd_config_set(&cfg, "solve.gate.z", "0", err, sizeof(err)), 0);
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	assert_string_equal(p->solver, "lp");
	bd_plan_unref(p);

	/* landing past the value-maximising spend: said in words */
	for (int i = 0; i < K * J; i++)
		e.rr_var[i] = 1e-4;
	for (int k = 0; k < K; k++) {
		e.r[k * J + 1] = e.rr[k * J + 1] = e.r[k * J + 0] + 1;
		e.r[k * J + 2] = e.rr[k * J + 2] = e.r[k * J + 1] - 0.2;
	}
	c = campaign(1.8 * e.n_rem);
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	assert_non_null(strstr(p->note, "solve.land=1"));
	assert_true(fabs(p->value_max_spend - 1.0 * e.n_rem * 0.9) < 1e-6 * e.n_rem);
	double landed = cost_per_request(p, &e, 0.1);
	bd_plan_unref(p);
	/* a budget past the costliest plan: the note says the estimates
	 * cannot place it, not that the plan spends it */
	c = campaign(1000 * e.n_rem);
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	if (!strstr(p->note, "the costliest plan by the estimates spends"))
		fail_msg("budget past the costliest plan, note: %s", p->note);
	bd_plan_unref(p);
	c = campaign(1.8 * e.n_rem);

	/* a day without a traffic profile, 20 hours left: no landing yet (the
	 * plan spends what maximising value spends, 1 per request), and the
	 * note says so; in its last 12 hours it lands */
	e.past_days = 0;
	e.sec_left = 20 * 3600;
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	double held = cost_per_request(p, &e, 0.1);
	if (!(fabs(held - (0.1 * 1 + 0.9 * 1)) < 1e-9))
		fail_msg("cold day, 20 h left: %.4f per request, want 1 (landed: %.4f)", held, landed);
	assert_non_null(strstr(p->note, "solve.land.cold.h"));
	bd_plan_unref(p);
	e.sec_left = 11 * 3600;
	/* (without the cold lead, which test_lead_cold covers) */
	set_num("pace.lead.cold", 0);
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
	assert_true(fabs(cost_per_request(p, &e, 0.1) - landed) < 1e-9);
	bd_plan_unref(p);
	set_num("pace.lead.cold", 0.5);
	e.past_days = 3;
	bd_estimate_free(&e);
	mode("stochastic");
}

static void test_off_pace(void **state)
{
	bd_estimate_t e;
	(void)state;
	mode("lp");
	estimate(&e, 1000);
	bd_campaign_t c = campaign(1000 + 0.5 * e.n_rem);
	bd_plan_t *p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 1000, 7, p), 0);
	char why[160];
	/* 10% of the day's traffic later (forecast: 2000 of 10000 requests left
	 * at half the day; say 0.6 of the day elapsed), spent on the plan's pace */
	e.day_elapsed = 0.6;
	e.today_total = 5000 + 2000;
	double on = 1000 + p->pace_rate * 2000;
	assert_false(bd_pacer_off_pace(&cfg, p, &e, on, 7, why, sizeof(why)));
	assert_true(bd_pacer_off_pace(&cfg, p, &e, on + 0.06 * p->remaining_budget, 7, why,
				      sizeof(why)));
	assert_true(strstr(why, "pace") != NULL);
	/* twice the forecast traffic: off pace although spend matches it */
	e.today_total = 5000 + 4000;
	assert_true(bd_pacer_off_pace(&cfg, p, &e, 1000 + p->pace_rate * 4000, 7, NULL, 0));
	/* another day: always re-solve */
	assert_true(bd_pacer_off_pace(&cfg, p, &e, on, 8, NULL, 0));
	bd_plan_unref(p);
	bd_estimate_free(&e);
	mode("stochastic");
}

/* The guard the daemon puts around a solve: a non-finite estimate is
 * refused before the solver sees it, and a plan holding a non-finite number
 * (or a probability outside [0, 1]) is never published.  The daemon keeps
 * its last good plan when either says no. */
/* The guard charges a cell measured on few outcomes more than its
 * estimate: a plan that chose cells whose cost noise made them look cheap
 * stops at its remaining budget of the upper bound, not of the estimate. */
static void test_guard_charges_the_cost_bound(void **state)
{
	bd_estimate_t e;
	(void)state;
	estimate(&e, 1000);
	e.c_se[1] = 0.4; /* cluster 0, treatment 1: a handful of outcomes */
	bd_campaign_t c = campaign(1234 + 0.5 * e.n_rem);
	bd_plan_t *p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 1234, 7, p), 0);
	assert_true(cfg.guard_cost_sigmas >= 1);
	if (!(p->cost[1] >= e.c[1] + cfg.guard_cost_sigmas * 0.4 - 1e-12))
		fail_msg("a cell of estimate %.2f +- 0.4 is charged %.3f: its estimate, not its "
			 "bound", e.c[1], p->cost[1]);
	assert_true(fabs(p->cost[2] - (e.c[2] + cfg.guard_cost_sigmas * 0.01)) < 1e-12);
	/* a decision of that cell commits the bound: the limit is reached
	 * after fewer decisions than the estimate alone would allow */
	int made = 0;
	while (made < 100000 && bd_plan_guard_commit(p, 0, 1) == 0)
		made++;
	assert_true(made < (int)(p->guard_limit / e.c[1]));
	assert_true(made == (int)(p->guard_limit / p->cost[1]));
	bd_plan_unref(p);
	/* the cost still to come is reckoned at the same bound: 100 more
	 * per sigma leaves the plan that much less */
	double lim = (e.n_rem * 0.5) * (1 + cfg.guard_tolerance);
	e.pending_cost_err = 100;
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 1234, 7, p), 0);
	if (fabs(p->guard_limit - (lim - cfg.guard_cost_sigmas * 100 * (1 + cfg.guard_tolerance))) > 1e-6)
		fail_msg("guard limit %.2f with 100 of pending cost error: want %.2f", p->guard_limit,
			 lim - cfg.guard_cost_sigmas * 100 * (1 + cfg.guard_tolerance));
	bd_plan_unref(p);
	e.pending_cost_err = 0;
	/* 0 sigmas: the estimate alone (the old guard) */
	double z = cfg.guard_cost_sigmas;
	cfg.guard_cost_sigmas = 0;
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 1234, 7, p), 0);
	assert_true(p->cost[1] == e.c[1]);
	cfg.guard_cost_sigmas = z;
	bd_plan_unref(p);
	bd_estimate_free(&e);
}

static void test_finite_guard(void **state)
{
	bd_estimate_t e;
	char why[200] = "";
	(void)state;
	estimate(&e, 1000);
	bd_campaign_t c = campaign(10000);
	bd_plan_t *p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_plan_check(p, why, sizeof(why)), 0); /* a new plan is fine */
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 100, 7, p), 0);
	assert_int_equal(bd_plan_check(p, why, sizeof(why)), 0);
	bd_plan_unref(p);

	/* value per request infinite: the solver would refuse it (invalid
	 * value), the check says which */
	e.r[1 * J + 2] = INFINITY;
	assert_int_equal(bd_estimate_check(&e, why, sizeof(why)), BD_EINVAL);
	assert_string_equal(why, "estimate: value per request of cluster 1 treatment 2 is inf");
	p = bd_plan_new_uniform("c", K, J);
	assert_int_not_equal(bd_pacer_plan(&cfg, &c, &e, 100, 7, p), 0);
	bd_plan_unref(p);
	e.r[1 * J + 2] = 12;

	/* a NaN spend (a cost of 1e308 in the day's statistics) makes a plan
	 * whose spend is NaN: refused */
	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, NAN, 7, p), 0);
	assert_int_equal(bd_plan_check(p, why, sizeof(why)), BD_EINVAL);
	assert_string_equal(why, "plan: spent is nan");
	bd_plan_unref(p);

	p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 100, 7, p), 0);
	p->expected_value = INFINITY;
	assert_int_equal(bd_plan_check(p, why, sizeof(why)), BD_EINVAL);
	assert_string_equal(why, "plan: expected_value is inf");
	p->expected_value = 1;
	p->curve_value[3] = NAN;
	assert_int_equal(bd_plan_check(p, why, sizeof(why)), BD_EINVAL);
	assert_true(strstr(why, "plan: curve point 3 is") != NULL);
	p->curve_value[3] = 1;
	p->prob[4] = 1.5;
	assert_int_equal(bd_plan_check(p, why, sizeof(why)), BD_EINVAL);
	assert_string_equal(why, "plan: probability of treatment 1 in cluster 1 is 1.5");
	bd_plan_unref(p);
	bd_estimate_free(&e);
}

/* exploration.need: the slice is the campaign's share while a cell of a
 * common cluster lacks decisions, what fills the gap by the day's end once
 * that is less, never below exploration.min; rare clusters do not hold it
 * up; 0 keeps the campaign's share. */
static double explore_with(bd_estimate_t *e, const double *n, double campaign_share)
{
	for (int i = 0; i < K * J; i++)
		e->all[(size_t)i * BD_STAT__COUNT + BD_STAT_DECISIONS] = n[i];
	bd_campaign_t c = campaign(1234 + 0.5 * e->n_rem);
	c.exploration = campaign_share;
	bd_plan_t *p = bd_plan_new_uniform("c", K, J);
	assert_int_equal(bd_pacer_plan(&cfg, &c, e, 1234, 7, p), 0);
	double eps = p->explore;
	/* the policy slice is planned with what the slice leaves (all random:
	 * the slice alone, whatever it costs) */
	if (eps < 1)
		assert_true(cost_per_request(p, e, eps) <= 0.5 * (1 + cfg.pace_lead) + 1e-9);
	bd_plan_unref(p);
	return eps;
}

static void test_explore_sized(void **state)
{
	bd_estimate_t e;
	double n[K * J];
	(void)state;
	estimate(&e, 1000);
	set_num("exploration.need", 300);
	set_num("exploration.min", 0.02);
	/* nothing yet: the campaign's share */
	for (int i = 0; i < K * J; i++)
		n[i] = 0;
	assert_true(explore_with(&e, n, 0.1) == 0.1);
	/* every cell 250 of 300: 50 more each, a cell gets share/J of the
	 * slice over 10000 requests: 50 * 3 / (10000 / 3) */
	for (int i = 0; i < K * J; i++)
		n[i] = 250;
	assert_true(fabs(explore_with(&e, n, 0.1) - 0.045) < 1e-12);
	/* nearly there: the floor */
	for (int i = 0; i < K * J; i++)
		n[i] = 295;
	assert_true(explore_with(&e, n, 0.1) == 0.02);
	/* one cell short holds the slice up */
	n[1 * J + 2] = 0;
	assert_true(explore_with(&e, n, 0.1) == 0.1);
	/* ... unless its cluster is rare (under half an average cluster) */
	e.share[0] = 0.9;
	e.share[1] = 0.08;
	e.share[2] = 0.02;
	assert_true(explore_with(&e, n, 0.1) == 0.02);
	/* 0: always the campaign's share */
	set_num("exploration.need", 0);
	assert_true(explore_with(&e, n, 0.1) == 0.1);
	set_num("exploration.need", 300);
	/* a campaign run as an experiment (every request random) stays so */
	for (int i = 0; i < K * J; i++)
		n[i] = 1e6;
	assert_true(explore_with(&e, n, 1) == 1);
	assert_true(explore_with(&e, n, 0.1) == 0.02);
	set_num("exploration.need", 300);
	bd_estimate_free(&e);
}

/* exploration.short: on a first day in its landing hours, a plan whose
 * costliest plan by the estimates spends under that share of its budget
 * gets the campaign's whole slice (uniform: it spends and measures the
 * incentives the estimates read cheap); not before the landing hours, not
 * on a day with a profile, not when a plan can spend the budget, not at 0. */
static void test_explore_when_short(void **state)
{
	bd_estimate_t e;
	double n[K * J];
	const double short0 = cfg.explore_short;
	(void)state;
	mode("lp");
	estimate(&e, 1000);
	set_num("exploration.need", 300);
	set_num("exploration.min", 0.02);
	for (int i = 0; i < K * J; i++)
		n[i] = 1e6; /* every cell full: the slice at its floor */
	/* the costliest plan (treatment 2 for all) spends 2 per request */
	struct {
		double past_days, hours_left, per_req, short_share, want;
	} cases[] = {
		{0, 6, 3, 0.8, 0.1},   /* first day, landing, 2 < 0.8 x 3+: whole slice */
		{0, 6, 1.2, 0.8, 0.02}, /* a plan spends the budget */
		{0, 20, 3, 0.8, 0.02},  /* before the landing hours */
		{3, 6, 3, 0.8, 0.02},   /* a day with a profile */
		{0, 6, 3, 0, 0.02},     /* off */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		set_num("exploration.short", cases[i].short_share);
		e.past_days = cases[i].past_days;
		e.sec_left = cases[i].hours_left * 3600;
		for (int j = 0; j < K * J; j++)
			e.all[(size_t)j * BD_STAT__COUNT + BD_STAT_DECISIONS] = n[j];
		bd_campaign_t c = campaign(cases[i].per_req * e.n_rem);
		bd_plan_t *p = bd_plan_new_uniform("c", K, J);
		assert_int_equal(bd_pacer_plan(&cfg, &c, &e, 0, 7, p), 0);
		if (p->explore != cases[i].want)
			fail_msg("case %zu: exploration %g, want %g", i, p->explore, cases[i].want);
		/* the plan says why its slice is whole */
		assert_true((strstr(p->note, "exploration.short") != NULL) == (cases[i].want == 0.1));
		bd_plan_unref(p);
	}
	set_num("exploration.short", short0);
	e.past_days = 3;
	bd_estimate_free(&e);
	mode("stochastic");
}

int main(void)
{
	if (bd_config_init(&cfg) != 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_states),
		cmocka_unit_test(test_spends_the_budget),
		cmocka_unit_test(test_land),
		cmocka_unit_test(test_lead_cold),
		cmocka_unit_test(test_lead),
		cmocka_unit_test(test_off_pace),
		cmocka_unit_test(test_finite_guard),
		cmocka_unit_test(test_guard_charges_the_cost_bound),
		cmocka_unit_test(test_gate),
		cmocka_unit_test(test_uniform_arm),
		cmocka_unit_test(test_explore_sized),
		cmocka_unit_test(test_explore_when_short),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	bd_config_free(&cfg);
	return rc;
}
