/*
 * bd-day-bench: budgetd's planning loop over one simulated day, in process
 * and in simulated time (no broker, no threads, no wall clock): the same
 * estimate (estimate.c), pacer (pacer.c), decision and budget guard
 * (decide.c) code as the daemon, fed by the simulator's world.  A cold first day (no history,
 * the initial cluster model) with the demo's budget by default.  For
 * comparing planning rules on many days quickly and without the timing
 * noise of a closed loop over Kafka on a loaded machine; bench/coldstart
 * runs the real daemon.
 *
 *   bd-day-bench [--events N] [--budget-frac F] [--solve-s S] [--days D]
 *                [--seed0 S] [--warm] [--log-profile F] [-X key=value ...]
 *                [-p world-knob=value ...]
 *
 * Each day D = 0, 1, ... (its own arrivals and outcome draws, as
 * `budgetd-sim run --day D`) starts from nothing; with --warm the days run
 * one after another on one state (the traffic profile and the estimates
 * learned from the days before; no retraining: the initial model), with
 * bench/pacing's budgets (day 0 at 30%, not scored; then 10, 25, 50, 75,
 * 100% of the spend-everything level, round again).  --log-profile F: a
 * first day (each day, or day 0 with --warm) knows the hours of a log fed
 * before it: yesterday's arrivals by hour of day, F samples per request
 * (the estimate's hist_log; the log's outcomes are not added).  The plan is re-solved
 * every S simulated seconds (default 300) and the outcomes due by then are
 * applied first.  Prints one line a day and a summary:
 *   day: d=.. inc_over_uniform=.. inc_over_oracle=.. spend_err=.. exp_spend_err=..
 *        first_quarter=..
 *   daybench: days=N inc_over_uniform_median=.. mean=.. min=.. worst_abs_spend_err=..
 *             mean_spend_err=.. mean_exp_spend_err=.. (realised and expected cost)
 * On standard error, with BD_DAY_TRACE a line per solve, with BD_DAY_PEND the
 * pending cost against the truth, with BD_DAY_CAL per day the true expected
 * cost of the decisions over what their plans priced them at (the plan's
 * cost per request), over the day and by two hours.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/wire/cluster.h"
#include "budgetd/base/config.h"
#include "budgetd/policy/decide.h"
#include "budgetd/policy/estimate.h"
#include "budgetd/policy/pacer.h"
#include "budgetd/policy/plan.h"
#include "budgetd/lab/simworld.h"
#include "budgetd/state/stats.h"

#define K 8
#define NS BD_STAT__COUNT

typedef struct pend_s {
	double due;
	int idx;
} pend_t;

static int pend_cmp(const void *a, const void *b)
{
	const pend_t *x = a, *y = b;
	return x->due < y->due ? -1 : x->due > y->due;
}

typedef struct day_s {
	double inc_uni, inc_orc, spend_err, exp_spend_err, first_quarter;
} day_t;

/* What days share in --warm mode (else one day's worth, fresh each day):
 * cell statistics by cluster, treatment and hour since the first day. */
typedef struct state_s {
	int hours;
	double *cells; /* K x J x hours x NS */
	double delay[BD_DELAY_BUCKETS];
} state_t;

/* One day; @returns 0 or -1. */
static int run_day(const bd_config_t *cfg, const bd_sim_world_t *w, const bd_sim_params_t *wp,
		   int n, double frac, double solve_s, int day, int slot, double log_f, state_t *st,
		   day_t *out)
{
	const int J = bd_sim_n_treatments(w);
	const double day_s = wp->day_seconds, scale = 86400.0 / day_s;
	const int64_t D = 20000 + slot; /* the day number since the epoch */
	const int H = st->hours, h0 = slot * 24; /* today's first hour slot */
	double *times = malloc(sizeof(double) * (size_t)n), *ec = malloc(sizeof(double) * (size_t)n);
	int *users = malloc(sizeof(int) * (size_t)n), *tr = malloc(sizeof(int) * (size_t)n);
	int *hr = malloc(sizeof(int) * (size_t)n), *xp = malloc(sizeof(int) * (size_t)n);
	double *prop = malloc(sizeof(double) * (size_t)n), *cells = st->cells;
	int *cl = malloc(sizeof(int) * (size_t)n);
	pend_t *pend = malloc(sizeof(pend_t) * (size_t)n);
	bd_cluster_model_t *m = NULL;
	bd_plan_t *plan = NULL;
	int rc = -1;
	if (!times || !ec || !users || !tr || !hr || !xp || !prop || !cl || !pend ||
	    bd_cluster_model_initial(wp->dim, K, &m))
		goto out;
	uint64_t rng = bd_sim_rng_seed(wp->seed, 1 + 7919ULL * (uint64_t)day);
	const uint64_t oseed = 1000003ULL + 100000007ULL * (uint64_t)day;
	if (bd_sim_day_arrivals(w, n, &rng, times, users) != 0)
		goto out;
	/* the budget: as budgetd-sim, a share of the spend-everything level */
	double max_spend = 0, uni_v = 0, uni_s = 0;
	if (bd_sim_oracle_assign(w, users, n, 0, NULL, NULL, &max_spend) ||
	    bd_sim_uniform_value(w, users, n, &uni_v, &uni_s))
		goto out;
	/* the budget as budgetd-sim's (its campaign explores 10%), whatever
	 * share -X exploration gives this one: arms compare at equal budgets */
	bd_campaign_t c = {.n_treatments = J, .exploration = cfg->exploration};
	strcpy(c.id, "day");
	for (int t = 0; t < J; t++)
		c.nominal_cost[t] = bd_sim_coupon(w, t);
	max_spend = 0.9 * max_spend + 0.1 * uni_s;
	c.daily_budget = frac * max_spend;

	/* --log-profile F: yesterday's arrivals, F per request, by hour of day:
	 * the hours of a log fed before the day (historical samples) */
	double ylog[24] = {0};
	if (log_f > 0) {
		uint64_t yr = bd_sim_rng_seed(wp->seed, 99991 + 7919ULL * (uint64_t)day);
		double *yt = malloc(sizeof(double) * (size_t)n);
		int *yu = malloc(sizeof(int) * (size_t)n);
		int e = !yt || !yu || bd_sim_day_arrivals(w, n, &yr, yt, yu);
		for (int q = 0; !e && q < n; q++) {
			int hh = (int)(yt[q] * scale / 3600);
			ylog[hh > 23 ? 23 : hh] += log_f;
		}
		free(yt);
		free(yu);
		if (e)
			goto out;
	}
	double *delay = st->delay, realised = 0, next_solve = 0, value = 0, espend = 0;
	double cal_pred = 0, cal_true = 0, cal_pred_h[24] = {0}, cal_true_h[24] = {0};
	int np = 0, head = 0;
	for (int i = 0; i <= n; i++) {
		double now = i < n ? times[i] : day_s;
		/* outcomes due by now; at the day's end, the solves are over */
		if (now >= next_solve || i == n) {
			if (np > head)
				qsort(pend + head, (size_t)(np - head), sizeof(pend_t), pend_cmp);
			for (; head < np && pend[head].due <= now; head++) {
				int q = pend[head].idx;
				bd_sim_outcome_t oc;
				uint64_t orng = bd_sim_rng_seed(wp->seed, oseed + (uint64_t)q);
				bd_sim_outcome(w, users[q], tr[q], &orng, &oc);
				double x[NS];
				bd_stats_outcome_vector(x, oc.value, oc.cost, oc.orders, prop[q], xp[q]);
				double *cv = cells + (((size_t)cl[q] * J + tr[q]) * H + h0 + hr[q]) * NS;
				for (int s = 0; s < NS; s++)
					cv[s] += x[s];
				realised += oc.cost;
				int b = (int)((pend[head].due - times[q]) * scale / BD_DELAY_BUCKET_S);
				if (oc.cost > 0)
					delay[b >= BD_DELAY_BUCKETS ? BD_DELAY_BUCKETS - 1 : b] += oc.cost;
			}
		}
		if (i == n)
			break;
		if (now >= next_solve) {
			next_solve = now + solve_s / scale;
			double sod = now * scale;
			int64_t now_ms = (int64_t)((double)D * 86400000.0 + sod * 1000);
			bd_estimate_params_t ep = {
				.now_ms = now_ms,
				.mature_before_hour = (now_ms - (int64_t)cfg->solve_maturity_s * 1000) /
						      3600000,
				.today_first_hour = D * 24, .sec_of_day = sod,
				.shrinkage = cfg->solve_shrinkage, .min_matured = BD_PACER_WARMUP,
				.tail_s = cfg->solve_maturity_s, .halflife_h = cfg->solve_halflife_h,
				.shrink_uplift = cfg->solve_shrink_uplift, .concave = cfg->solve_concave,
				.cost_calibrate = cfg->solve_cost_calibrate,
				.order_value_prior = cfg->solve_order_value_prior,
			};
			bd_estimate_t e;
			if (bd_estimate_init(&e, K, J))
				goto out;
			for (int k = 0; k < K; k++)
				for (int t = 0; t < J; t++)
					for (int h = 0; h < h0 + 24; h++) {
						const double *cv = cells +
								   (((size_t)k * J + t) * H + h) * NS;
						if (cv[BD_STAT_DECISIONS] > 0 || cv[BD_STAT_OUTCOMES] > 0)
							bd_estimate_add_cell(&e, &ep, k, t,
									     (D - slot) * 24 + h, cv, NS);
					}
			bd_estimate_add_delay(&e, delay, BD_DELAY_BUCKETS);
			for (int h = 0; h < 24; h++)
				e.hist_log[h] += ylog[h];
			bd_estimate_finish(&e, &ep);
			bd_plan_t *p = bd_plan_new_uniform("day", K, J);
			if (!p) {
				bd_estimate_free(&e);
				goto out;
			}
			p->version = plan ? plan->version + 1 : 1;
			int err = bd_pacer_plan(cfg, &c, &e, realised + e.pending_cost, D, p);
			if (err) {
				bd_estimate_free(&e);
				bd_plan_unref(p);
				goto out;
			}
			if (getenv("BD_DAY_PEND")) {
				/* the true cost still to come: the outcomes not in yet */
				double tp = 0, te = 0;
				for (int q = head; q < np; q++) {
					int r = pend[q].idx;
					bd_sim_outcome_t o2;
					uint64_t g = bd_sim_rng_seed(wp->seed, oseed + (uint64_t)r);
					bd_sim_outcome(w, users[r], tr[r], &g, &o2);
					tp += o2.cost;
					te += ec[r];
				}
				fprintf(stderr, "PEND %d %.3f %.3f %.3f %.3f\n", day, sod / 3600, e.pending_cost, tp, te);
			}
			if (getenv("BD_DAY_TRACE"))
				fprintf(stderr, "%5.2fh req %.3f spent %.1f (true exp %.1f, pending %.1f) rem %.1f fc %.0f pace %.0f "
					"rate %.4f (budget %.4f, value max %.4f) solver %s note %s\n",
					sod / 3600, (double)i / n, realised + e.pending_cost, espend,
					e.pending_cost, p->remaining_budget, e.n_rem, p->pace_nrem,
					p->pace_rate, p->remaining_budget / fmax(p->pace_nrem, 1),
					p->value_max_spend / fmax(p->pace_nrem, 1), p->solver, p->note);
			bd_estimate_free(&e);
			bd_plan_unref(plan);
			plan = p;
		}
		/* the decision, as the workers take it */
		char rid[32];
		snprintf(rid, sizeof(rid), "r%d-%d", day, i);
		bd_feature_event_t ev = {rid, "day", "u", 0, bd_sim_user_features(w, users[i]),
					 wp->dim};
		bd_decision_t d;
		bd_decide(&c, plan, m, &ev, bd_decision_hash("day", "u", rid), &d);
		bd_decide_guard(plan, &d); /* the budget guard, as the workers */
		tr[i] = d.treatment;
		cl[i] = d.cluster < K ? d.cluster : 0;
		prop[i] = d.propensity;
		xp[i] = d.explored;
		hr[i] = (int)(now * scale / 3600);
		if (hr[i] > 23)
			hr[i] = 23;
		double x[NS];
		bd_stats_exposure_vector(x, d.propensity);
		double *cv = cells + (((size_t)cl[i] * J + tr[i]) * H + h0 + hr[i]) * NS;
		for (int s = 0; s < NS; s++)
			cv[s] += x[s];
		bd_sim_outcome_t oc;
		uint64_t orng = bd_sim_rng_seed(wp->seed, oseed + (uint64_t)i);
		bd_sim_outcome(w, users[i], d.treatment, &orng, &oc);
		double dly = oc.converted ? oc.delay_s
					  : -log(1 - bd_sim_rng_uniform(&orng)) * wp->mean_delay_s;
		pend[np++] = (pend_t){now + dly / scale, i};
		ec[i] = bd_sim_user_ec(w, users[i], d.treatment);
		if (plan && plan->pace_rate > 0) {
			cal_pred += plan->pace_rate;
			cal_true += ec[i];
			cal_pred_h[hr[i]] += plan->pace_rate;
			cal_true_h[hr[i]] += ec[i];
		}
		value += bd_sim_user_ev(w, users[i], d.treatment);
		espend += ec[i];
	}
	/* the rest of the outcomes: the day's realised spend (and, for the
	 * days after, its statistics) */
	for (; head < np; head++) {
		int q = pend[head].idx;
		bd_sim_outcome_t oc;
		uint64_t orng = bd_sim_rng_seed(wp->seed, oseed + (uint64_t)q);
		bd_sim_outcome(w, users[q], tr[q], &orng, &oc);
		double x[NS];
		bd_stats_outcome_vector(x, oc.value, oc.cost, oc.orders, prop[q], xp[q]);
		double *cv = cells + (((size_t)cl[q] * J + tr[q]) * H + h0 + hr[q]) * NS;
		for (int s = 0; s < NS; s++)
			cv[s] += x[s];
		realised += oc.cost;
	}
	double ctl = 0, orc_v = 0, orc_s = 0, q25 = 0;
	for (int i = 0; i < n; i++) {
		ctl += bd_sim_user_ev(w, users[i], 0);
		if (i < n / 4)
			q25 += ec[i];
	}
	if (bd_sim_oracle(w, users, n, espend, &orc_v, &orc_s, NULL))
		goto out;
	double share = uni_s > 0 ? fmin(1, espend / uni_s) : 0;
	double uni = ctl + share * (uni_v - ctl);
	out->inc_uni = (value - ctl) / (uni - ctl);
	out->inc_orc = (value - ctl) / (orc_v - ctl);
	out->spend_err = realised / c.daily_budget - 1;
	out->exp_spend_err = espend / c.daily_budget - 1;
	out->first_quarter = espend > 0 ? q25 / espend : NAN;
	if (getenv("BD_DAY_CAL")) {
		fprintf(stderr, "CAL day %d true/pred %.3f by 2 hours:", day, cal_true / cal_pred);
		for (int h = 0; h < 24; h += 2)
			fprintf(stderr, " %.2f", (cal_true_h[h] + cal_true_h[h + 1]) / (cal_pred_h[h] + cal_pred_h[h + 1]));
		fprintf(stderr, "\n");
	}
	rc = 0;
out:
	bd_plan_unref(plan);
	bd_cluster_model_unref(m);
	free(times);
	free(ec);
	free(users);
	free(tr);
	free(hr);
	free(xp);
	free(prop);
	free(cl);
	free(pend);
	return rc;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = 20000, days = 20, seed0 = 0, warm = 0;
	double frac = 0.3, solve_s = 300, log_f = 0;
	bd_config_t cfg;
	bd_sim_params_t wp;
	char err[256];
	if (bd_config_init(&cfg))
		return 1;
	bd_sim_params_default(&wp);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--warm") == 0) {
			warm = 1;
			continue;
		}
		if (!v)
			goto usage;
		if (strcmp(a, "--events") == 0)
			n = atoi(v);
		else if (strcmp(a, "--budget-frac") == 0)
			frac = atof(v);
		else if (strcmp(a, "--log-profile") == 0)
			log_f = atof(v);
		else if (strcmp(a, "--solve-s") == 0)
			solve_s = atof(v);
		else if (strcmp(a, "--days") == 0)
			days = atoi(v);
		else if (strcmp(a, "--seed0") == 0)
			seed0 = atoi(v);
		else if (strcmp(a, "-X") == 0 || strcmp(a, "-p") == 0) {
			char kv[256], *eq;
			snprintf(kv, sizeof(kv), "%s", v);
			if (!(eq = strchr(kv, '=')))
				goto usage;
			*eq = '\0';
			int e = a[1] == 'X' ? bd_config_set(&cfg, kv, eq + 1, err, sizeof(err))
					    : bd_sim_params_set(&wp, kv, eq + 1, err, sizeof(err));
			if (e) {
				fprintf(stderr, "bd-day-bench: %s\n", err);
				return 2;
			}
		} else
			goto usage;
		i++;
	}
	bd_sim_world_t *w;
	if (bd_sim_world_new(&wp, &w))
		return 1;
	/* --warm: consecutive days on one state, budgets as bench/pacing's
	 * (day 0 at 30%, then 10, 25, 50, 75, 100% of the spend-everything
	 * level, round again), day 0 not scored */
	static const double ladder[] = {0.10, 0.25, 0.50, 0.75, 1.00};
	const int J = bd_sim_n_treatments(w);
	state_t st = {.hours = 24 * (warm ? days : 1)};
	double *iu = malloc(sizeof(double) * (size_t)days), sum = 0, worst = 0, serr = 0, eerr = 0;
	st.cells = calloc((size_t)K * J * (size_t)st.hours * NS, sizeof(double));
	if (!iu || !st.cells)
		return 1;
	int scored = 0;
	for (int d = 0; d < days; d++) {
		day_t r;
		double f = warm ? (d == 0 ? 0.30 : ladder[(d - 1) % 5]) : frac;
		if (!warm) {
			memset(st.cells, 0, sizeof(double) * (size_t)K * J * 24 * NS);
			memset(st.delay, 0, sizeof(st.delay));
		}
		if (run_day(&cfg, w, &wp, n, f, solve_s, seed0 + d, warm ? d : 0, warm && d > 0 ? 0 : log_f,
			    &st, &r))
			return 1;
		if (warm && d == 0) {
			printf("day: d=0 (history day, not scored) inc_over_uniform=%.3f spend_err=%+.4f\n",
			       r.inc_uni, r.spend_err);
			continue;
		}
		if (warm)
			printf("budget %.2f ", f);
		printf("day: d=%d inc_over_uniform=%.3f inc_over_oracle=%.3f spend_err=%+.4f "
		       "exp_spend_err=%+.4f first_quarter=%.3f\n",
		       seed0 + d, r.inc_uni, r.inc_orc, r.spend_err, r.exp_spend_err,
		       r.first_quarter);
		fflush(stdout);
		iu[scored++] = r.inc_uni;
		sum += r.inc_uni;
		worst = fmax(worst, fabs(r.spend_err));
		serr += r.spend_err;
		eerr += r.exp_spend_err;
	}
	if (!scored)
		return 1;
	qsort(iu, (size_t)scored, sizeof(double), dbl_cmp);
	printf("daybench: days=%d inc_over_uniform_median=%.3f mean=%.3f min=%.3f "
	       "worst_abs_spend_err=%.4f mean_spend_err=%+.4f mean_exp_spend_err=%+.4f\n",
	       scored, iu[scored / 2], sum / scored, iu[0], worst, serr / scored, eerr / scored);
	free(st.cells);
	bd_sim_world_free(w);
	free(iu);
	bd_config_free(&cfg);
	return 0;
usage:
	fprintf(stderr, "usage: bd-day-bench [--events N] [--budget-frac F] [--solve-s S] "
			"[--days D] [--seed0 S] [--warm] [--log-profile F] [-X key=value] [-p knob=value]\n");
	return 2;
}
