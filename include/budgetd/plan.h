/**
 * @file plan.h
 * @brief Cluster plans: per cluster, the probability of each treatment.
 *
 * Plans are immutable once published to the workers and shared by
 * reference count; a worker switches plans by swapping one pointer between
 * two batches, so the decision path takes no lock.
 */
#ifndef BUDGETD_PLAN_H
#define BUDGETD_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "budgetd/campaign.h"
#include "budgetd/common.h"
#include "budgetd/messages.h"

typedef struct bd_plan_s {
	int refcnt; /* atomic */
	char campaign_id[BD_ID_MAX];
	int64_t version, model_version, ts_ms;
	int k, j;
	double *prob;  /**< k x j, rows sum to 1 */
	double *share; /**< k: expected traffic share */
	double daily_budget, remaining_budget, lambda, expected_spend,
		expected_value;
	const char *solver; /**< static string */
	double explore;     /**< exploration share to use (< 0: the campaign's) */
	double overspend_prob; /**< stochastic mode: P(spend > remaining budget) */
	/* the pace at solve time, for the drift check */
	int64_t pace_day;
	double pace_spent, pace_dec, pace_elapsed, pace_nrem, pace_rate;
	int n_curve;
	double *curve_budget, *curve_value;
	/* the plan's estimated uplift over the rest of the day (policy slice)
	 * over uniform allocation at the same spend and over control for
	 * everyone, with standard errors (NAN: not estimated) */
	double uplift_uniform, uplift_uniform_se, uplift_control, uplift_control_se;
	double value_max_spend; /**< what maximising estimated value would
				     spend over the rest of the day (NAN: none) */
	char note[256];         /**< why the plan is what it is, in words ("")*/
} bd_plan_t;

/** A plan of @p k clusters and @p j treatments, all probabilities 1/j. */
bd_plan_t *bd_plan_new_uniform(const char *campaign_id, int k, int j);
int bd_plan_curve_alloc(bd_plan_t *p, int n) BD_WUR;
bd_plan_t *bd_plan_ref(bd_plan_t *p);
void bd_plan_unref(bd_plan_t *p);

/** A view of @p p as a message (pointers into p). */
void bd_plan_to_msg(const bd_plan_t *p, bd_plan_msg_t *m);

/**
 * 0 when every number @p p would publish (its message, /api/plans,
 * /metrics) is finite and its probabilities are in [0, 1]; else BD_EINVAL
 * and which one in @p why.  A plan that fails is never published.
 */
int bd_plan_check(const bd_plan_t *p, char *why, size_t why_size) BD_WUR;

#endif
