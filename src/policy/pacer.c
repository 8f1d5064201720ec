/**
 * @file pacer.c
 * @brief The plan for the rest of a campaign's day (see pacer.h).
 */
#include "budgetd/policy/pacer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/policy/solver.h"

/* The plan for the policy share of the rest of the day, by solve.mode. */
static int solve_policy(const bd_config_t *cfg, const bd_estimate_t *e, double per_req,
			double n, int land, bd_plan_t *p, double *peak)
{
	const int K = e->k, J = e->j;
	bd_solver_problem_t prob = {K, J, p->share, e->r, e->c};
	bd_solver_curve_t *cv = NULL;
	bd_solver_result_t res = {0};
	int *arm = NULL, err;

	/* solve.land: past the value-maximising spend, the curve goes on to
	 * the costliest plan losing the least value per extra cost, so the
	 * plan spends the budget (the published curve shows that loss) */
	if ((err = bd_solver_curve_build(&prob, land ? BD_SOLVER_LAND : 0, &cv)))
		return err;
	const char *mode = cfg->solve_mode;
	if (strcmp(mode, "integer") == 0) {
		bd_solver_int_stats_t st;
		err = -ENOMEM;
		if (!(arm = malloc(sizeof(int) * (size_t)K)) ||
		    (err = bd_solver_integer(&prob, per_req, 0, arm, &res, &st)))
			goto out;
		for (int k = 0; k < K; k++)
			for (int t = 0; t < J; t++)
				p->prob[k * J + t] = t == arm[k];
		p->solver = st.proven ? "integer" : "integer-unproven";
		p->expected_spend = res.cost * n;
		p->expected_value = res.value * n;
	} else if (strcmp(mode, "stochastic") == 0) {
		bd_solver_stoch_result_t sr;
		bd_solver_uncertainty_t u = {
			.r_se = e->r_se, .c_se = e->c_se, .c_var = e->c_var, .requests = n,
			/* arrivals: Poisson, plus the forecast's error: 5% with
			 * a learned profile, 30% on the flat prior */
			.requests_cv = sqrt(1 / fmax(n, 1) + (e->past_days >= 1 ? 0.0025 : 0.09)),
			.scenarios = cfg->solve_scenarios, .seed = (uint64_t)p->version,
			.max_overspend = cfg->solve_overspend_prob,
			/* later solves correct everything but the spend of
			 * the day's last maturity window */
			.horizon = e->n_rem > 0 ? fmin(1, fmax(e->n_tail, 1) / e->n_rem) : 1,
		};
		if ((err = bd_solver_stochastic(&prob, cv, per_req, &u, p->prob, &sr)))
			goto out;
		res = sr.plan;
		p->solver = "stochastic";
		p->expected_spend = sr.expected_spend;
		p->expected_value = sr.expected_value;
		p->overspend_prob = sr.overspend_prob;
	} else {
		if ((err = bd_solver_curve_plan(cv, per_req, p->prob, &res)))
			goto out;
		p->solver = "lp";
		p->expected_spend = res.cost * n;
		p->expected_value = res.value * n;
	}
	p->lambda = res.lambda;
	/* the value-maximising spend: where the curve's value peaks */
	const double *cc, *vv;
	int np = bd_solver_curve_points(cv, &cc, &vv), im = 0;
	for (int i = 1; i < np; i++)
		if (vv[i] > vv[im])
			im = i;
	*peak = cc[im];
	/* the budget/value curve over the rest of the day, from nothing to
	 * where the curve ends: a budget change is a lookup */
	const bd_solver_curve_t *pub = cv;
	double maxc = bd_solver_curve_max_cost(pub);
	if (bd_plan_curve_alloc(p, BD_PACER_CURVE_POINTS) == 0)
		for (int i = 0; i < BD_PACER_CURVE_POINTS; i++) {
			double b = maxc * i / (BD_PACER_CURVE_POINTS - 1);
			p->curve_budget[i] = b * n;
			p->curve_value[i] = bd_solver_curve_value(pub, b, NULL) * n;
		}
	err = 0;
out:
	free(arm);
	bd_solver_curve_free(cv);
	return err;
}

/* Expected cost and value per request of plan rows @p x. */
static void plan_cv(const bd_estimate_t *e, const double *share, const double *x, double *c,
		    double *v)
{
	*c = *v = 0;
	for (int k = 0; k < e->k; k++)
		for (int t = 0; t < e->j; t++) {
			size_t i = (size_t)k * e->j + t;
			*c += share[k] * x[i] * e->c[i];
			*v += share[k] * x[i] * e->r[i];
		}
}

/* solve.land=2: past the value-maximising spend the estimates say every
 * extra unit loses value, which on a cold day is their noise; spend it the
 * way uniform allocation does instead of where noise says it loses least:
 * from the value-maximising plan toward uniform rows (every cluster alike),
 * then on toward the costliest treatment of every cluster, until the plan
 * costs @p per_req.  @p x holds the value-maximising plan. */
static int land_uniform(const bd_estimate_t *e, const double *share, double per_req, double n,
			double *x, bd_plan_t *p)
{
	const int K = e->k, J = e->j;
	const size_t KJ = (size_t)K * J;
	double *u = malloc(sizeof(double) * KJ), *m = malloc(sizeof(double) * KJ);
	if (!u || !m) {
		free(u);
		free(m);
		return -ENOMEM;
	}
	for (int k = 0; k < K; k++) {
		int top = 0;
		for (int t = 0; t < J; t++) {
			u[(size_t)k * J + t] = 1.0 / J;
			if (e->c[(size_t)k * J + t] > e->c[(size_t)k * J + top])
				top = t;
		}
		for (int t = 0; t < J; t++)
			m[(size_t)k * J + t] = t == top;
	}
	/* the path: x -> uniform (if it costs more) -> costliest */
	const double *pts[3] = {x, u, m};
	double c0, v0, c1, v1;
	plan_cv(e, share, x, &c0, &v0);
	const double *from = x;
	for (int s = 1; s < 3; s++) {
		plan_cv(e, share, pts[s], &c1, &v1);
		if (!(c1 > c0))
			continue;
		double f = fmin((per_req - c0) / (c1 - c0), 1);
		for (size_t i = 0; i < KJ; i++)
			p->prob[i] = (1 - f) * from[i] + f * pts[s][i];
		if (f < 1)
			break;
		from = pts[s];
		c0 = c1;
	}
	plan_cv(e, share, p->prob, &c1, &v1);
	p->expected_spend = c1 * n;
	p->expected_value = v1 * n;
	free(u);
	free(m);
	return 0;
}

/* The plan's uplift per request of the policy slice over uniform
 * allocation at the same (estimated) spend and over control for everyone,
 * from the raw inverse-propensity means (cells independent).  Uniform at
 * the same spend: control, and for a share q of the requests a treatment
 * drawn uniformly. */
typedef struct uplift_s {
	double q, d_uni, se_uni, d_ctl, se_ctl;
} uplift_t;

static uplift_t plan_uplift(const bd_estimate_t *e, const double *share, const double *prob)
{
	const int K = e->k, J = e->j;
	double c0 = 0, cu = 0, cx = 0, v_uni = 0, v_ctl = 0;
	uplift_t u = {0};
	for (int k = 0; k < K; k++)
		for (int t = 0; t < J; t++) {
			double c = share[k] * e->c[k * J + t];
			cu += c / J;
			cx += prob[k * J + t] * c;
			c0 += t == 0 ? c : 0;
		}
	u.q = cu > c0 ? fmin(fmax((cx - c0) / (cu - c0), 0), 1) : 1;
	for (int k = 0; k < K; k++)
		for (int t = 0; t < J; t++) {
			size_t i = (size_t)k * J + t;
			double wu = share[k] * (prob[i] - (t == 0) * (1 - u.q) - u.q / J);
			double wc = share[k] * (prob[i] - (t == 0));
			if (wu != 0) {
				u.d_uni += wu * e->rr[i];
				v_uni += wu * wu * e->rr_var[i];
			}
			if (wc != 0) {
				u.d_ctl += wc * e->rr[i];
				v_ctl += wc * wc * e->rr_var[i];
			}
		}
	u.se_uni = sqrt(v_uni);
	u.se_ctl = sqrt(v_ctl);
	return u;
}

/* The gate: while the plan's uplift over uniform at the same spend is not
 * significantly positive, serve that uniform allocation; and the plan's
 * note, in words. */
static void gate_and_explain(const bd_config_t *cfg, const bd_estimate_t *e, double per_req,
			     double peak, double n, int land, bd_plan_t *p)
{
	const int K = e->k, J = e->j;
	const double z = cfg->solve_gate_z;
	uplift_t u = plan_uplift(e, p->share, p->prob);
	p->uplift_uniform = u.d_uni * n;
	p->uplift_uniform_se = u.se_uni * n;
	p->uplift_control = u.d_ctl * n;
	p->uplift_control_se = u.se_ctl * n;
	p->value_max_spend = peak * n;
	/* the interval shown: z standard errors (1.64 if the gate is off) */
	double zs = z > 0 ? z : 1.64;
	if (z > 0 && u.q < 1 && !(u.d_uni - z * u.se_uni > 0)) {
		double v = 0;
		for (int k = 0; k < K; k++)
			for (int t = 0; t < J; t++) {
				size_t i = (size_t)k * J + t;
				p->prob[i] = (t == 0) * (1 - u.q) + u.q / J;
				v += p->share[k] * p->prob[i] * e->r[i];
			}
		p->expected_value = v * n;
		p->solver = "uniform-gate";
		snprintf(p->note, sizeof(p->note),
			 "uniform allocation at the plan's spend: the plan's estimated uplift over "
			 "it, %.2f (%.2f to %.2f), is not significantly positive",
			 p->uplift_uniform, p->uplift_uniform - zs * p->uplift_uniform_se,
			 p->uplift_uniform + zs * p->uplift_uniform_se);
	} else if (land && p->n_curve > 0 &&
		   per_req * n > p->curve_budget[p->n_curve - 1] * (1 + 1e-9)) {
		/* the curve ends at the costliest plan by the estimates: on a
		 * cold day, costly coupons measured on a few explored
		 * decisions can look cheaper than they are, and then no plan
		 * spends the budget (by the estimates; realised cost follows
		 * the true costs) */
		snprintf(p->note, sizeof(p->note),
			 "the costliest plan by the estimates spends %.2f of the %.2f budgeted for "
			 "the rest of the day (the value-maximising spend %.2f)",
			 p->curve_budget[p->n_curve - 1], per_req * n, p->value_max_spend);
	} else if (land && per_req > peak * (1 + 1e-9)) {
		snprintf(p->note, sizeof(p->note),
			 "spending past the value-maximising spend (%.2f) because solve.land=%d: "
			 "by the estimates the last %.2f of the budget lose value%s",
			 p->value_max_spend, land, (per_req - peak) * n,
			 land == 2 ? "; spent like uniform allocation" : "");
	} else if (cfg->solve_land && per_req > peak * (1 + 1e-9)) {
		snprintf(p->note, sizeof(p->note),
			 "spending up to the value-maximising spend (%.2f) of %.2f: no traffic profile "
			 "yet, so solve.land waits for the day's last %g hours (solve.land.cold.h)",
			 p->value_max_spend, per_req * n, cfg->solve_land_cold_h);
	} else if (u.d_ctl + zs * u.se_ctl < 0) {
		snprintf(p->note, sizeof(p->note),
			 "the estimates say the incentives lose value: uplift over control %.2f "
			 "(%.2f to %.2f)", p->uplift_control,
			 p->uplift_control - zs * p->uplift_control_se,
			 p->uplift_control + zs * p->uplift_control_se);
	}
}

/*
 * The exploration slice sized to what the estimates need (exploration.need):
 * it is how cells the plan does not serve get samples, and beyond that it
 * spends budget at uniform allocation's value.  The share that gives every
 * cell of a cluster with at least half an average cluster's traffic
 * exploration.need decisions by the day's end (a cell gets share_k / J of
 * the slice), between exploration.min and the campaign's share.  Decisions
 * still waiting for outcomes count: their outcomes are coming.  Rare
 * clusters are not waited for: they would keep the slice at its ceiling
 * for traffic that moves little value.  A campaign at 1 keeps 1.
 */
static double explore_share(const bd_config_t *cfg, const bd_campaign_t *c,
			    const bd_estimate_t *e, double n_rem)
{
	const int K = e->k, J = e->j;
	const double ceil_eps = c->exploration;
	double want = 0;
	/* 1: every request random, a campaign run as an experiment to collect
	 * data; it asked for all of it */
	if (cfg->exploration_need <= 0 || ceil_eps <= 0 || ceil_eps >= 1)
		return ceil_eps;
	for (int k = 0; k < K; k++) {
		if (!(e->share[k] >= 0.5 / K))
			continue;
		for (int t = 0; t < J; t++) {
			double n = e->all[((size_t)k * J + t) * BD_STAT__COUNT + BD_STAT_DECISIONS];
			double gap = cfg->exploration_need - n;
			if (gap > 0)
				want = fmax(want, gap * J / (e->share[k] * fmax(n_rem, 1)));
		}
	}
	return fmin(ceil_eps, fmax(want, fmin(cfg->exploration_min, ceil_eps)));
}

/* A uniform arm's plan (campaign.h): control, and for a share q of the
 * requests a treatment drawn uniformly, q set so the policy slice costs
 * @p per_req by the estimates (as the plan's comparison with uniform
 * reckons it, plan_uplift), every cluster alike. */
static void uniform_arm_plan(const bd_estimate_t *e, double per_req, double n, bd_plan_t *p)
{
	const int K = e->k, J = e->j;
	double c0 = 0, cu = 0, v = 0;
	for (int k = 0; k < K; k++)
		for (int t = 0; t < J; t++) {
			double c = p->share[k] * e->c[k * J + t];
			cu += c / J;
			c0 += t == 0 ? c : 0;
		}
	double q = cu > c0 ? fmin(fmax((per_req - c0) / (cu - c0), 0), 1) : 1;
	for (int k = 0; k < K; k++)
		for (int t = 0; t < J; t++) {
			size_t i = (size_t)k * J + t;
			p->prob[i] = (t == 0) * (1 - q) + q / J;
			v += p->share[k] * p->prob[i] * e->r[i];
		}
	p->expected_spend = (c0 + q * (cu - c0)) * n;
	p->expected_value = v * n;
	p->solver = "uniform-arm";
	snprintf(p->note, sizeof(p->note),
		 "the uniform arm: a random coupon for %.1f%% of its requests, the share its "
		 "budget pays for", 100 * q);
}

/* The policy slice's budget per request: what the exploration slice @p eps,
 * at @p explore_cost per request, leaves of @p per_req (never below 0). */
static double policy_budget(double per_req, double eps, double explore_cost)
{
	double q = eps < 1 ? (per_req - eps * explore_cost) / (1 - eps) : 0;
	return q > 0 ? q : 0;
}

/*
 * exploration.short: a plan that cannot spend its budget @p budget (for the
 * rest of the day) by the estimates even at its costliest.  The costly
 * coupons' costs are read low (a first day's few decisions of them), and
 * the realised spend, which follows their true costs, would not be reached
 * by any plan the estimates allow.  The campaign's whole exploration slice
 * then spends: it is uniform, so it spends where the plan does not and
 * measures what the estimates lack.  First days only (a smooth-world first
 * day's plan arm landed at 41-88% of its share without it, 96-104% with;
 * on warm days of bench/bd-day-bench it cost 0.024 of uniform's increment
 * on the smooth world, mostly on days budgeted at the spend-everything
 * level, where no plan reaches the budget anyway); not a uniform arm,
 * whose plan always can.
 */
static bool plan_short(const bd_config_t *cfg, const bd_campaign_t *c, const bd_estimate_t *e,
		       int land, double eps, double budget, const bd_plan_t *p)
{
	return land && !c->arm && e->past_days < 1 && eps < c->exploration && p->n_curve > 0 &&
	       p->curve_budget[p->n_curve - 1] < cfg->explore_short * budget;
}

bool bd_pacer_cold_landing(const bd_config_t *cfg, const bd_estimate_t *e)
{
	return e->past_days < 1 && e->sec_left <= cfg->solve_land_cold_h * 3600;
}

int bd_pacer_plan(const bd_config_t *cfg, const bd_campaign_t *c, const bd_estimate_t *e,
		  double spent, int64_t day, bd_plan_t *p)
{
	return bd_pacer_plan_budget(cfg, c, bd_campaign_budget(c), e, spent, day, p);
}

int bd_pacer_plan_budget(const bd_config_t *cfg, const bd_campaign_t *c, double budget,
			 const bd_estimate_t *e, double spent, int64_t day, bd_plan_t *p)
{
	const int K = e->k, J = e->j;
	double remaining = budget - spent, outcomes = 0;
	/* a day without a traffic profile: not below the recent rate kept up */
	double n_rem = bd_estimate_pace_requests(e);
	int err;

	if (p->k != K || p->j != J || c->n_treatments != J)
		return BD_EINVAL;
	memcpy(p->share, e->share, sizeof(double) * (size_t)K);
	p->daily_budget = budget;
	p->remaining_budget = remaining > 0 ? remaining : 0;
	p->pace_day = day;
	p->pace_spent = spent;
	p->pace_dec = e->today_total;
	p->pace_elapsed = e->day_elapsed;
	p->pace_nrem = n_rem;
	p->cost_cal = e->cost_cal;
	p->traffic_profile = e->past_days >= 1 ? "days" : e->log_profile ? "log" : "flat";
	for (size_t i = 0; i < (size_t)K * J; i++)
		outcomes += e->all[i * BD_STAT__COUNT + BD_STAT_OUTCOMES];
	/* the budget guard: the workers stop this plan's spending once its
	 * decisions' cost passes the remaining budget (plus the tolerance),
	 * whatever the forecast said about the traffic.  Each decision is
	 * charged an upper bound of its cell's cost, not the estimate: the
	 * solver favours the cells whose cost noise made them look cheap,
	 * and on a cold day (a hundred decisions per cell, a few redeemed
	 * coupons) the chosen cells' estimates were half their true cost,
	 * so a guard on the estimates let a plan spend its remaining budget
	 * twice (docs/solving.md, The budget guard) */
	free(p->cost);
	if (!(p->cost = malloc(sizeof(double) * (size_t)K * J)))
		return -ENOMEM;
	for (size_t i = 0; i < (size_t)K * J; i++)
		p->cost[i] = e->c[i] + cfg->guard_cost_sigmas * (isfinite(e->c_se[i]) ? e->c_se[i] : 0);
	/* and the decisions still waiting for their outcomes are reckoned at
	 * the same bound: their cost still to come, with every cell's cost
	 * guard.cost.sigmas errors higher, leaves less for this plan */
	p->guard_limit = fmax(p->remaining_budget - cfg->guard_cost_sigmas * e->pending_cost_err, 0) *
			 (1 + cfg->guard_tolerance);
	if (c->paused || remaining <= 0) {
		/* control for everyone, no exploration: nothing is spent */
		for (int k = 0; k < K; k++)
			for (int t = 0; t < J; t++)
				p->prob[k * J + t] = t == 0;
		p->solver = c->paused ? "paused" : "budget-spent";
		p->explore = 0;
		return 0;
	}
	if (outcomes < BD_PACER_WARMUP) {
		p->solver = "uniform-warmup";
		return 0;
	}
	if (n_rem < 1)
		n_rem = 1; /* the day's last requests */
	/* The lead: spend that runs short is lost whenever the rest of the
	 * day is capped (the costliest plan barely reaches the budget, as at
	 * 100% of the spend-everything level), while spend that runs ahead is
	 * taken back by the next solves, which see less budget left.  So plan
	 * a little ahead of the even pace, but only on the share of the rest
	 * of the day that later solves can still correct: none in the last
	 * maturity window.  Re-solved continuously, remaining budget falls as
	 * (requests left)^(1 + lead) and still reaches 0 at the day's end. */
	double h = e->n_rem > 0 ? fmin(1, fmax(e->n_tail, 0) / e->n_rem) : 1;
	double per_req = p->remaining_budget / n_rem * (1 + cfg->pace_lead * (1 - h));
	/* A day without a traffic profile, in its landing hours
	 * (solve.land.cold.h): the flat prior and the recent rate both expect
	 * the evening's traffic to go on at a rate it falls below, so a plan
	 * on that forecast runs behind, and behind by the day's last hours
	 * is past catching up (even the costliest plan cannot spend what is
	 * left).  Aim pace.lead.cold ahead: re-solved continuously, the
	 * remaining budget falls as (requests left)^(1 + pace.lead.cold),
	 * still 0 at the day's end, and a forecast too high by that much
	 * still lands.  A first day whose profile is its log's hours
	 * (estimate.c) runs on pace.lead.log instead: its forecast does
	 * see the evening fall, but its morning, spent only up to the value
	 * its estimates see, leaves more for the landing hours (30 such days
	 * per world family landed 0.7-1.4% short on average at 0.5, 0.2-0.7%
	 * at 1; docs/solving.md). */
	if (bd_pacer_cold_landing(cfg, e))
		per_req *= 1 + (e->log_profile ? cfg->pace_lead_log : cfg->pace_lead_cold);
	/* The exploration slice (the campaign's share, or less once the cells
	 * have what they need) spends too: plan the policy slice with what it
	 * leaves. */
	double eps = explore_share(cfg, c, e, n_rem), explore_cost = 0;
	for (int k = 0; k < K; k++)
		for (int t = 0; t < J; t++)
			explore_cost += p->share[k] * e->c[k * J + t] / J;
	p->explore = eps;
	double peak = 0, pol = policy_budget(per_req, eps, explore_cost);
	/* A day without a traffic profile lands only in its last
	 * solve.land.cold.h hours: before, a budget per request above what
	 * maximising value would spend is mostly the forecast's error (too
	 * few requests expected), and spending it past the value peak
	 * front-loads the day */
	int land = bd_pacer_cold_landing(cfg, e) || e->past_days >= 1 ? cfg->solve_land : 0;
	bool short_slice = false;
	if ((err = solve_policy(cfg, e, pol, n_rem * (1 - eps), land, p, &peak)))
		return err;
	if (plan_short(cfg, c, e, land, eps, pol * n_rem * (1 - eps), p)) {
		eps = c->exploration;
		p->explore = eps;
		short_slice = true;
		pol = policy_budget(per_req, eps, explore_cost);
		if ((err = solve_policy(cfg, e, pol, n_rem * (1 - eps), land, p, &peak)))
			return err;
	}
	if (land == 2 && pol > peak * (1 + 1e-9)) {
		/* the value-maximising plan, then uniform-like increments */
		double *x = malloc(sizeof(double) * (size_t)K * J);
		bd_solver_problem_t prob = {K, J, p->share, e->r, e->c};
		bd_solver_result_t res;
		err = x ? bd_solver_lp(&prob, peak, x, &res) : -ENOMEM;
		if (!err)
			err = land_uniform(e, p->share, pol, n_rem * (1 - eps), x, p);
		free(x);
		if (err)
			return err;
		p->solver = "land-uniform";
	}
	if (c->arm) {
		uniform_arm_plan(e, pol, n_rem * (1 - eps), p);
	} else {
		gate_and_explain(cfg, e, pol, peak, n_rem * (1 - eps), land, p);
		if (short_slice) {
			size_t len = strlen(p->note);
			snprintf(p->note + len, sizeof(p->note) - len,
				 "%sthe whole exploration slice (%.0f%%) spends meanwhile "
				 "(exploration.short)", len ? "; " : "", 100 * eps);
		}
		if (e->immature && strcmp(p->solver, "uniform-gate") != 0)
			p->solver = "lp-warmup"; /* means over joined outcomes so far */
	}
	/* expected cost per request of the whole policy, for the pace */
	p->pace_rate = eps * explore_cost + p->expected_spend / n_rem;
	return 0;
}

bool bd_pacer_off_pace(const bd_config_t *cfg, const bd_plan_t *old, const bd_estimate_t *e,
		       double spent, int64_t day, char *why, size_t why_size)
{
	if (!old || old->pace_day != day || !(old->pace_nrem > 0) || !(old->pace_elapsed < 1)) {
		if (why)
			snprintf(why, why_size, "%s", !old || old->pace_day != day
							      ? "no plan for today yet"
							      : "the plan has no forecast");
		return true;
	}
	/* Spend: the plan's cost per request times today's requests since it
	 * was made.  Traffic: the profile's share of the day since then. */
	double dec = e->today_total - old->pace_dec;
	double want_spend = old->pace_spent + old->pace_rate * dec;
	double want_dec = old->pace_nrem * (e->day_elapsed - old->pace_elapsed) /
			  (1 - old->pace_elapsed);
	double band = cfg->pace_band;
	bool off = fabs(spent - want_spend) > band * fmax(old->remaining_budget, 1e-9) ||
		   fabs(dec - want_dec) > band * old->pace_nrem;
	if (off && why)
		snprintf(why, why_size, "spent %.2f, pace %.2f; %.0f requests, forecast %.0f",
			 spent, want_spend, dec, want_dec);
	return off;
}
