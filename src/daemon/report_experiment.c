/* The holdouts' reports: what each campaign's treated users bought over its
 * holdout (policy/experiment.h), today, on each of the days before (up to
 * BD_EXP_DAYS) and to date, as JSON, text and metrics.  The sums come with every solve pass (daemon_solve.c). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "budgetd/daemon/report.h"

/* The intervals are 95% ones. */
#define EXP_Z 1.959963984540054

static const char *const arm_names[BD_ARM__COUNT] = {"treated", "holdout", "uniform"};

static bool has_requests(const bd_experiment_t *e)
{
	for (int a = 0; a < BD_ARM__COUNT; a++)
		for (int b = 0; b < BD_EXP_BUCKETS; b++)
			if (e->x[a][b][BD_EXP_DECISIONS] > 0)
				return true;
	return false;
}

/* A number not known (NAN) is left out, never written as null. */
static void opt_num(bd_sbuf_t *o, const char *k, double v)
{
	if (isfinite(v))
		bd_sbuf_json_kv_num(o, k, v, 1);
}

static void mean_json(bd_sbuf_t *o, const char *k, bd_exp_mean_t m)
{
	char key[48];
	opt_num(o, k, m.mean);
	snprintf(key, sizeof(key), "%s_se", k);
	opt_num(o, key, m.se);
}

/* One comparison's figures, after its verdict. */
static void compare_json(const bd_exp_result_t *rp, bd_sbuf_t *o)
{
	const bd_exp_result_t r = *rp;
	bd_sbuf_cat(o, ",\"uplift_per_request\":{");
	bd_sbuf_json_kv_num(o, "z", r.z, 0);
	mean_json(o, "value", r.uplift_value);
	opt_num(o, "value_lo", r.lo);
	opt_num(o, "value_hi", r.hi);
	mean_json(o, "orders", r.uplift_orders);
	mean_json(o, "cost", r.uplift_cost);
	bd_sbuf_cat(o, "}");
	opt_num(o, "increment", r.increment);
	opt_num(o, "increment_lo", r.increment_lo);
	opt_num(o, "increment_hi", r.increment_hi);
	opt_num(o, "increment_per_cost", r.roi);
	if (r.requests_needed > 0)
		bd_sbuf_json_kv_num(o, "requests_needed", r.requests_needed, 1);
}

/* The days of @p x on which the uniform arm had requests, summed into
 * @p out (the kept days: BD_EXP_DAYS at most).  A comparison with the
 * uniform arm to date is over these: days before the arm began hold the
 * other arms' requests only, and a day's value per request differs from
 * another's, so pooling them would compare days, not policies.
 * @returns the days. */
static int uniform_days(const bd_experiment_days_t *x, bd_experiment_t *out)
{
	int n = 0;
	memset(out, 0, sizeof(*out));
	for (int k = 0; k < BD_EXP_DAYS; k++) {
		double u = 0;
		for (int g = 0; g < BD_EXP_BUCKETS; g++)
			u += x->day[k].x[BD_ARM_UNIFORM][g][BD_EXP_DECISIONS];
		if (!(u > 0))
			continue;
		n++;
		for (int a = 0; a < BD_ARM__COUNT; a++)
			for (int g = 0; g < BD_EXP_BUCKETS; g++)
				bd_experiment_add(out, a, g, x->day[k].x[a][g], BD_EXP__COUNT);
	}
	return n;
}

/* The arms of @p e, the plan's users (treated) against the holdout, and
 * with a uniform arm the uniform arm against the holdout and the plan
 * against the uniform arm, those from @p paired (the days the arm ran;
 * @p e itself for one day). */
static void result_json(const bd_experiment_t *e, const bd_experiment_t *paired, bd_sbuf_t *o)
{
	bd_exp_result_t r;
	bd_experiment_result(e, EXP_Z, &r);
	const bool uniform = r.requests[BD_ARM_UNIFORM] > 0;
	bd_sbuf_json_kv_str(o, "verdict", r.verdict, 0);
	for (int a = 0; a < BD_ARM__COUNT; a++) {
		if (a == BD_ARM_UNIFORM && !uniform)
			continue;
		bd_sbuf_printf(o, ",\"%s\":{", arm_names[a]);
		bd_sbuf_json_kv_num(o, "requests", r.requests[a], 0);
		bd_sbuf_json_kv_num(o, "outcomes", r.outcomes[a], 1);
		mean_json(o, "value", r.value[a]);
		mean_json(o, "orders", r.orders[a]);
		mean_json(o, "cost", r.cost[a]);
		bd_sbuf_cat(o, "}");
	}
	compare_json(&r, o);
	if (!uniform)
		return;
	static const struct {
		const char *key;
		int a, b;
	} cmp[] = {{"uniform_vs_holdout", BD_ARM_UNIFORM, BD_ARM_HOLDOUT},
		   {"plan_vs_uniform", BD_ARM_TREATED, BD_ARM_UNIFORM}};
	for (size_t k = 0; k < sizeof(cmp) / sizeof(cmp[0]); k++) {
		bd_experiment_compare(paired, cmp[k].a, cmp[k].b, EXP_Z, &r);
		bd_sbuf_printf(o, ",\"%s\":{", cmp[k].key);
		bd_sbuf_json_kv_str(o, "verdict", r.verdict, 0);
		compare_json(&r, o);
		bd_sbuf_cat(o, "}");
	}
}

void bd_report_experiment_json(const bd_report_t *r, int i, bd_sbuf_t *o)
{
	const bd_campaign_t *c = &r->campaigns->v[i];
	const bd_report_track_t *t = r->tracks[i];
	bd_sbuf_cat(o, "{");
	bd_sbuf_json_kv_str(o, "campaign", c->id, 0);
	bd_sbuf_json_kv_num(o, "holdout", c->holdout, 1);
	bd_sbuf_json_kv_num(o, "uniform_arm", c->uniform_arm, 1);
	if (t && t->exp) {
		const bd_experiment_days_t *x = t->exp;
		bd_sbuf_json_kv_num(o, "day", (double)x->day0, 1);
		bd_sbuf_cat(o, ",\"today\":{");
		result_json(&x->day[0], &x->day[0], o);
		bd_sbuf_cat(o, "},\"to_date\":{");
		bd_experiment_t paired;
		int nd = uniform_days(x, &paired);
		result_json(&x->total, &paired, o);
		if (nd)
			bd_sbuf_json_kv_num(o, "uniform_days", nd, 1);
		/* the days before, newest first, those with requests */
		bd_sbuf_cat(o, "},\"days\":[");
		for (int k = 1, n = 0; k < BD_EXP_DAYS; k++) {
			if (!has_requests(&x->day[k]))
				continue;
			bd_sbuf_cat(o, n++ ? ",{" : "{");
			bd_sbuf_json_kv_num(o, "day", (double)(x->day0 - k), 0);
			bd_sbuf_cat(o, ",");
			result_json(&x->day[k], &x->day[k], o);
			bd_sbuf_cat(o, "}");
		}
		bd_sbuf_cat(o, "]");
	}
	bd_sbuf_cat(o, "}");
}

void bd_report_api_experiment(const bd_report_t *r, bd_sbuf_t *o)
{
	bd_sbuf_cat(o, "{\"campaigns\":[");
	for (int i = 0, n = 0; i < r->campaigns->n; i++) {
		if (r->campaigns->v[i].arm)
			continue; /* reported with its campaign */
		if (n++)
			bd_sbuf_cat(o, ",");
		bd_report_experiment_json(r, i, o);
	}
	bd_sbuf_cat(o, "]}\n");
}

/* ---- text (budgetctl show experiment) --------------------------------------- */

/* One comparison: arm a over arm b (the figures, under a heading @p what
 * for comparisons after the first). */
static void text_compare(bd_sbuf_t *o, const bd_experiment_t *e, int a, int b, const char *what)
{
	bd_exp_result_t r;
	bd_experiment_compare(e, a, b, EXP_Z, &r);
	if (!(r.requests[a] > 0) || !(r.requests[b] > 0))
		return;
	if (what)
		bd_sbuf_printf(o, "    %s\n", what);
	bd_sbuf_printf(o, "    uplift per request   value %+.4g (95%%: %+.4g to %+.4g), orders %+.4g "
		       "(se %.2g), cost %+.4g\n", r.uplift_value.mean, r.lo, r.hi,
		       r.uplift_orders.mean, r.uplift_orders.se, r.uplift_cost.mean);
	bd_sbuf_printf(o, "    increment            %+.6g (95%%: %+.6g to %+.6g)", r.increment,
		       r.increment_lo, r.increment_hi);
	if (isfinite(r.roi))
		bd_sbuf_printf(o, ", %.3g per unit of cost", r.roi);
	bd_sbuf_printf(o, "\n    verdict              %s", r.verdict);
	if (r.requests_needed > 0)
		bd_sbuf_printf(o, " (about %.0f %s requests for an effect of this size)",
			       r.requests_needed, a == BD_ARM_UNIFORM ? "uniform-arm" : "treated");
	bd_sbuf_cat(o, "\n");
}

/* @p paired: the days the uniform arm ran (@p days of them; 0: @p e is
 * one day). */
static void text_scope(bd_sbuf_t *o, const char *scope, const bd_experiment_t *e,
		       const bd_experiment_t *paired, int days)
{
	bd_exp_result_t r;
	bd_experiment_result(e, EXP_Z, &r);
	const bool uniform = r.requests[BD_ARM_UNIFORM] > 0;
	bd_sbuf_printf(o, "  %s: %.0f requests treated, %.0f held out", scope,
		       r.requests[BD_ARM_TREATED], r.requests[BD_ARM_HOLDOUT]);
	if (uniform)
		bd_sbuf_printf(o, ", %.0f in the uniform arm", r.requests[BD_ARM_UNIFORM]);
	bd_sbuf_cat(o, "\n");
	if (!(r.requests[BD_ARM_TREATED] > 0))
		return;
	if (r.requests[BD_ARM_HOLDOUT] > 0)
		bd_sbuf_printf(o, "    value per request    treated %.4g (se %.2g), holdout %.4g "
			       "(se %.2g)", r.value[0].mean, r.value[0].se, r.value[1].mean,
			       r.value[1].se);
	else
		bd_sbuf_printf(o, "    value per request    treated %.4g (se %.2g)", r.value[0].mean,
			       r.value[0].se);
	if (uniform)
		bd_sbuf_printf(o, ", uniform arm %.4g (se %.2g)", r.value[2].mean, r.value[2].se);
	bd_sbuf_cat(o, "\n");
	text_compare(o, e, BD_ARM_TREATED, BD_ARM_HOLDOUT, NULL);
	if (!uniform)
		return;
	char what[2][160], on[64] = "";
	if (days)
		snprintf(on, sizeof(on), ", on the %d day%s it ran", days, days > 1 ? "s" : "");
	snprintf(what[0], sizeof(what[0]), "the uniform arm over the holdout%s:", on);
	snprintf(what[1], sizeof(what[1]),
		 "the plan over the uniform arm (at the same spend per request)%s:", on);
	text_compare(o, paired, BD_ARM_UNIFORM, BD_ARM_HOLDOUT, what[0]);
	text_compare(o, paired, BD_ARM_TREATED, BD_ARM_UNIFORM, what[1]);
}

void bd_report_text_experiment(const bd_report_t *r, bd_sbuf_t *o)
{
	for (int i = 0; i < r->campaigns->n; i++) {
		const bd_campaign_t *c = &r->campaigns->v[i];
		const bd_report_track_t *t = r->tracks[i];
		if (c->arm)
			continue; /* reported with its campaign */
		bd_sbuf_cat(o, "campaign ");
		bd_sbuf_text(o, c->id);
		if (c->holdout > 0)
			bd_sbuf_printf(o, ": holdout %.4g%% of users", 100 * c->holdout);
		else
			bd_sbuf_cat(o, ": no holdout (budgetctl update CAMPAIGN holdout=0.1)");
		if (c->uniform_arm > 0)
			bd_sbuf_printf(o, "; uniform arm %.4g%% of users\n", 100 * c->uniform_arm);
		else
			bd_sbuf_cat(o, "\n");
		if (!t || !t->exp)
			continue;
		char scope[48];
		text_scope(o, "today", &t->exp->day[0], &t->exp->day[0], 0);
		for (int k = 1; k < BD_EXP_DAYS; k++)
			if (has_requests(&t->exp->day[k])) {
				snprintf(scope, sizeof(scope), "%d day%s before", k, k > 1 ? "s" : "");
				text_scope(o, scope, &t->exp->day[k], &t->exp->day[k], 0);
			}
		bd_experiment_t paired;
		int nd = uniform_days(t->exp, &paired);
		text_scope(o, "to date", &t->exp->total, &paired, nd);
	}
}

/* ---- metrics ------------------------------------------------------------- */

static void sample(bd_sbuf_t *o, const char *name, const char *campaign, const char *arm,
		   double v)
{
	bd_sbuf_printf(o, "%s{campaign=\"", name);
	bd_sbuf_prom_label(o, campaign);
	if (arm)
		bd_sbuf_printf(o, "\",arm=\"%s", arm);
	bd_sbuf_cat(o, "\"} ");
	bd_sbuf_prom_num(o, v);
	bd_sbuf_cat(o, "\n");
}

static void family(bd_sbuf_t *o, const char *name, const char *help)
{
	bd_sbuf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

void bd_report_metrics_experiment(const bd_report_t *r, bd_sbuf_t *o)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
		{"budgetd_experiment_requests",
		 "Requests of the campaign's day by arm (treated, holdout, uniform)"},
		{"budgetd_experiment_value_per_request",
		 "Realised value per request of the campaign's day by arm"},
		{"budgetd_experiment_uplift",
		 "Value per request of the treated users over the holdout's, today"},
		{"budgetd_experiment_uplift_se",
		 "Standard error of budgetd_experiment_uplift (clustered by user)"},
		{"budgetd_experiment_plan_over_uniform",
		 "Value per request of the plan's users over the uniform arm's, today"},
		{"budgetd_experiment_plan_over_uniform_se",
		 "Standard error of budgetd_experiment_plan_over_uniform"},
	};
	bd_exp_result_t x;
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		family(o, fam[f].name, fam[f].help);
		for (int i = 0; i < r->campaigns->n; i++) {
			const bd_campaign_t *c = &r->campaigns->v[i];
			const bool arm = c->uniform_arm > 0;
			if (!r->tracks[i] || !r->tracks[i]->exp || !(c->holdout > 0 || arm) ||
			    (f >= 4 && !arm))
				continue;
			/* a few thousand additions: recomputed per family */
			bd_experiment_compare(&r->tracks[i]->exp->day[0], BD_ARM_TREATED,
					      f >= 4 ? BD_ARM_UNIFORM : BD_ARM_HOLDOUT, EXP_Z, &x);
			for (int a = 0; f < 2 && a < BD_ARM__COUNT; a++)
				if (a != BD_ARM_UNIFORM || arm)
					sample(o, fam[f].name, c->id, arm_names[a],
					       f == 0 ? x.requests[a] : x.value[a].mean);
			if (f >= 2)
				sample(o, fam[f].name, c->id, NULL,
				       f % 2 == 0 ? x.uplift_value.mean : x.uplift_value.se);
		}
	}
}
