/* The holdouts' reports: what each campaign's treated users bought over its
 * holdout (policy/experiment.h), today, on each of the days before (up to
 * BD_EXP_DAYS) and to date, as JSON, text and metrics.  The sums come with every solve pass (daemon_solve.c). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#include "budgetd/daemon/report.h"

/* The intervals are 95% ones. */
#define EXP_Z 1.959963984540054

static const char *const arm_names[BD_ARM__COUNT] = {"treated", "holdout"};

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

static void result_json(const bd_experiment_t *e, bd_sbuf_t *o)
{
	bd_exp_result_t r;
	bd_experiment_result(e, EXP_Z, &r);
	bd_sbuf_json_kv_str(o, "verdict", r.verdict, 0);
	for (int a = 0; a < BD_ARM__COUNT; a++) {
		bd_sbuf_printf(o, ",\"%s\":{", arm_names[a]);
		bd_sbuf_json_kv_num(o, "requests", r.requests[a], 0);
		bd_sbuf_json_kv_num(o, "outcomes", r.outcomes[a], 1);
		mean_json(o, "value", r.value[a]);
		mean_json(o, "orders", r.orders[a]);
		mean_json(o, "cost", r.cost[a]);
		bd_sbuf_cat(o, "}");
	}
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

void bd_report_experiment_json(const bd_report_t *r, int i, bd_sbuf_t *o)
{
	const bd_campaign_t *c = &r->campaigns->v[i];
	const bd_report_track_t *t = r->tracks[i];
	bd_sbuf_cat(o, "{");
	bd_sbuf_json_kv_str(o, "campaign", c->id, 0);
	bd_sbuf_json_kv_num(o, "holdout", c->holdout, 1);
	if (t && t->exp) {
		const bd_experiment_days_t *x = t->exp;
		bd_sbuf_json_kv_num(o, "day", (double)x->day0, 1);
		bd_sbuf_cat(o, ",\"today\":{");
		result_json(&x->day[0], o);
		bd_sbuf_cat(o, "},\"to_date\":{");
		result_json(&x->total, o);
		/* the days before, newest first, those with requests */
		bd_sbuf_cat(o, "},\"days\":[");
		for (int k = 1, n = 0; k < BD_EXP_DAYS; k++) {
			if (!has_requests(&x->day[k]))
				continue;
			bd_sbuf_cat(o, n++ ? ",{" : "{");
			bd_sbuf_json_kv_num(o, "day", (double)(x->day0 - k), 0);
			bd_sbuf_cat(o, ",");
			result_json(&x->day[k], o);
			bd_sbuf_cat(o, "}");
		}
		bd_sbuf_cat(o, "]");
	}
	bd_sbuf_cat(o, "}");
}

void bd_report_api_experiment(const bd_report_t *r, bd_sbuf_t *o)
{
	bd_sbuf_cat(o, "{\"campaigns\":[");
	for (int i = 0; i < r->campaigns->n; i++) {
		if (i)
			bd_sbuf_cat(o, ",");
		bd_report_experiment_json(r, i, o);
	}
	bd_sbuf_cat(o, "]}\n");
}

/* ---- text (budgetctl show experiment) --------------------------------------- */

static void text_scope(bd_sbuf_t *o, const char *scope, const bd_experiment_t *e)
{
	bd_exp_result_t r;
	bd_experiment_result(e, EXP_Z, &r);
	bd_sbuf_printf(o, "  %s: %.0f requests treated, %.0f held out\n", scope,
		       r.requests[BD_ARM_TREATED], r.requests[BD_ARM_HOLDOUT]);
	if (!(r.requests[BD_ARM_HOLDOUT] > 0) || !(r.requests[BD_ARM_TREATED] > 0))
		return;
	bd_sbuf_printf(o, "    value per request    treated %.4g (se %.2g), holdout %.4g (se %.2g)\n",
		       r.value[0].mean, r.value[0].se, r.value[1].mean, r.value[1].se);
	bd_sbuf_printf(o, "    uplift per request   value %+.4g (95%%: %+.4g to %+.4g), orders %+.4g "
		       "(se %.2g), cost %+.4g\n", r.uplift_value.mean, r.lo, r.hi,
		       r.uplift_orders.mean, r.uplift_orders.se, r.uplift_cost.mean);
	bd_sbuf_printf(o, "    increment            %+.6g (95%%: %+.6g to %+.6g)", r.increment,
		       r.increment_lo, r.increment_hi);
	if (isfinite(r.roi))
		bd_sbuf_printf(o, ", %.3g per unit of cost", r.roi);
	bd_sbuf_printf(o, "\n    verdict              %s", r.verdict);
	if (r.requests_needed > 0)
		bd_sbuf_printf(o, " (about %.0f treated requests for an effect of this size)",
			       r.requests_needed);
	bd_sbuf_cat(o, "\n");
}

void bd_report_text_experiment(const bd_report_t *r, bd_sbuf_t *o)
{
	for (int i = 0; i < r->campaigns->n; i++) {
		const bd_campaign_t *c = &r->campaigns->v[i];
		const bd_report_track_t *t = r->tracks[i];
		bd_sbuf_cat(o, "campaign ");
		bd_sbuf_text(o, c->id);
		if (c->holdout > 0)
			bd_sbuf_printf(o, ": holdout %.4g%% of users\n", 100 * c->holdout);
		else
			bd_sbuf_cat(o, ": no holdout (budgetctl update CAMPAIGN holdout=0.1)\n");
		if (!t || !t->exp)
			continue;
		char scope[48];
		text_scope(o, "today", &t->exp->day[0]);
		for (int k = 1; k < BD_EXP_DAYS; k++)
			if (has_requests(&t->exp->day[k])) {
				snprintf(scope, sizeof(scope), "%d day%s before", k, k > 1 ? "s" : "");
				text_scope(o, scope, &t->exp->day[k]);
			}
		text_scope(o, "to date", &t->exp->total);
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
		 "Requests of the campaign's day by arm (treated, holdout)"},
		{"budgetd_experiment_value_per_request",
		 "Realised value per request of the campaign's day by arm"},
		{"budgetd_experiment_uplift",
		 "Value per request of the treated users over the holdout's, today"},
		{"budgetd_experiment_uplift_se",
		 "Standard error of budgetd_experiment_uplift (clustered by user)"},
	};
	bd_exp_result_t x;
	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		family(o, fam[f].name, fam[f].help);
		for (int i = 0; i < r->campaigns->n; i++) {
			const char *id = r->campaigns->v[i].id;
			if (!r->tracks[i] || !r->tracks[i]->exp || !(r->campaigns->v[i].holdout > 0))
				continue;
			/* a few thousand additions: recomputed per family */
			bd_experiment_result(&r->tracks[i]->exp->day[0], EXP_Z, &x);
			for (int a = 0; f < 2 && a < BD_ARM__COUNT; a++)
				sample(o, fam[f].name, id, arm_names[a],
				       f == 0 ? x.requests[a] : x.value[a].mean);
			if (f == 2)
				sample(o, fam[f].name, id, NULL, x.uplift_value.mean);
			if (f == 3)
				sample(o, fam[f].name, id, NULL, x.uplift_value.se);
		}
	}
}
