#include "budgetd/policy/plan.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bd_plan_t *bd_plan_new_uniform(const char *campaign_id, int k, int j)
{
	bd_plan_t *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	bd_refcnt_init(&p->refcnt);
	snprintf(p->campaign_id, sizeof(p->campaign_id), "%s", campaign_id);
	p->k = k;
	p->j = j;
	p->solver = "uniform";
	p->explore = -1;
	p->uplift_uniform = p->uplift_uniform_se = NAN;
	p->uplift_control = p->uplift_control_se = NAN;
	p->value_max_spend = NAN;
	p->cost_cal = NAN;
	p->guard_limit = -1;
	p->guard = calloc(1, sizeof(*p->guard));
	p->prob = malloc((size_t)k * (size_t)j * sizeof(double));
	p->share = malloc((size_t)k * sizeof(double));
	if (!p->prob || !p->share || !p->guard) {
		bd_plan_unref(p);
		return NULL;
	}
	for (int c = 0; c < k; c++) {
		p->share[c] = 1.0 / k;
		for (int t = 0; t < j; t++)
			p->prob[c * j + t] = 1.0 / j;
	}
	return p;
}

int bd_plan_curve_alloc(bd_plan_t *p, int n)
{
	free(p->curve_budget);
	free(p->curve_value);
	p->curve_budget = calloc((size_t)n, sizeof(double));
	p->curve_value = calloc((size_t)n, sizeof(double));
	p->n_curve = (p->curve_budget && p->curve_value) ? n : 0;
	return p->n_curve == n ? 0 : -1;
}

bd_plan_t *bd_plan_ref(bd_plan_t *p)
{
	bd_refcnt_get(&p->refcnt);
	return p;
}

void bd_plan_unref(bd_plan_t *p)
{
	if (!p || !bd_refcnt_put(&p->refcnt))
		return;
	free(p->prob);
	free(p->share);
	free(p->curve_budget);
	free(p->curve_value);
	free(p->cost);
	free(p->guard);
	free(p);
}

int bd_plan_guard_commit(const bd_plan_t *p, int cluster, int treatment)
{
	if (!p->cost || cluster < 0 || cluster >= p->k || treatment < 0 || treatment >= p->j)
		return 0;
	bd_plan_guard_t *g = p->guard;
	double x = p->cost[(size_t)cluster * p->j + treatment];
	_Atomic double *sum = g->campaign_ledger ? g->campaign_ledger : &g->committed;
	double limit = p->guard_limit + (g->campaign_ledger ? g->ledger_base : 0);
	double cur = atomic_load_explicit(sum, memory_order_relaxed);
	/* a compare-and-swap loop: the workers commit concurrently, and the
	 * sum of what they commit must never pass the limit */
	do {
		if (cur + x > limit) {
			atomic_fetch_add_explicit(&g->guarded, 1, memory_order_relaxed);
			if (g->campaign_guarded)
				atomic_fetch_add_explicit(g->campaign_guarded, 1,
							  memory_order_relaxed);
			return atomic_exchange_explicit(&g->tripped, 1, memory_order_relaxed)
				       ? 1
				       : 2;
		}
	} while (!atomic_compare_exchange_weak_explicit(sum, &cur, cur + x,
							memory_order_relaxed,
							memory_order_relaxed));
	return 0;
}

void bd_plan_to_msg(const bd_plan_t *p, bd_plan_msg_t *m)
{
	m->campaign_id = p->campaign_id;
	m->plan_version = p->version;
	m->model_version = p->model_version;
	m->ts_ms = p->ts_ms;
	m->daily_budget = p->daily_budget;
	m->remaining_budget = p->remaining_budget;
	m->lambda = p->lambda;
	m->expected_spend = p->expected_spend;
	m->expected_value = p->expected_value;
	m->solver = p->solver;
	m->n_clusters = p->k;
	m->n_treatments = p->j;
	m->traffic_share = p->share;
	m->probabilities = p->prob;
	m->n_curve = p->n_curve;
	m->curve_budget = p->curve_budget;
	m->curve_value = p->curve_value;
	m->exploration = p->explore;
	m->spent = p->pace_spent;
	m->expected_requests = p->pace_nrem;
	m->overspend_probability = p->overspend_prob;
}

int bd_plan_from_msg(const bd_plan_msg_t *m, int k, int j, bd_plan_t **out,
		     char *errstr, size_t errstr_size)
{
	bd_plan_t *p = NULL;
	int err;

	*out = NULL;
	if (!m->campaign_id || strlen(m->campaign_id) >= BD_ID_MAX) {
		snprintf(errstr, errstr_size, "plan: campaign id missing or too long");
		return BD_EINVAL;
	}
	if (k <= 0 || j <= 0 || m->n_clusters != k || m->n_treatments != j ||
	    !m->probabilities || !m->traffic_share) {
		snprintf(errstr, errstr_size,
			 "plan: %d clusters x %d treatments, expected %d x %d", m->n_clusters,
			 m->n_treatments, k, j);
		return BD_EINVAL;
	}
	if (!(p = bd_plan_new_uniform(m->campaign_id, k, j))) {
		snprintf(errstr, errstr_size, "out of memory");
		return -ENOMEM;
	}
	memcpy(p->prob, m->probabilities, sizeof(double) * (size_t)k * (size_t)j);
	memcpy(p->share, m->traffic_share, sizeof(double) * (size_t)k);
	p->version = m->plan_version;
	p->model_version = m->model_version;
	p->ts_ms = m->ts_ms;
	p->lambda = m->lambda;
	p->daily_budget = m->daily_budget;
	p->remaining_budget = m->remaining_budget;
	p->solver = "restored";
	p->explore = m->exploration;
	if ((err = bd_plan_check(p, errstr, errstr_size))) {
		bd_plan_unref(p);
		return err;
	}
	*out = p;
	return 0;
}

int bd_plan_check(const bd_plan_t *p, char *why, size_t why_size)
{
	const struct {
		const char *name;
		double v;
	} num[] = {
		{"daily_budget", p->daily_budget},	   {"remaining_budget", p->remaining_budget},
		{"lambda", p->lambda},			   {"expected_spend", p->expected_spend},
		{"expected_value", p->expected_value},	   {"exploration", p->explore},
		{"spent", p->pace_spent},		   {"expected_requests", p->pace_nrem},
		{"overspend_probability", p->overspend_prob}, {"pace rate", p->pace_rate},
		{"elapsed share", p->pace_elapsed},	   {"decisions today", p->pace_dec},
	};
	for (size_t i = 0; i < sizeof(num) / sizeof(num[0]); i++)
		if (!isfinite(num[i].v)) {
			snprintf(why, why_size, "plan: %s is %g", num[i].name, num[i].v);
			return BD_EINVAL;
		}
	for (int k = 0; k < p->k; k++) {
		if (!isfinite(p->share[k])) {
			snprintf(why, why_size, "plan: traffic share of cluster %d is %g", k,
				 p->share[k]);
			return BD_EINVAL;
		}
		for (int t = 0; t < p->j; t++) {
			double x = p->prob[(size_t)k * p->j + t];
			if (!(x >= 0 && x <= 1)) {
				snprintf(why, why_size,
					 "plan: probability of treatment %d in cluster %d is %g", t,
					 k, x);
				return BD_EINVAL;
			}
		}
	}
	for (int i = 0; i < p->n_curve; i++)
		if (!isfinite(p->curve_budget[i]) || !isfinite(p->curve_value[i])) {
			snprintf(why, why_size, "plan: curve point %d is (%g, %g)", i,
				 p->curve_budget[i], p->curve_value[i]);
			return BD_EINVAL;
		}
	return 0;
}
