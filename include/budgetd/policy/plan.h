/**
 * @file plan.h
 * @brief Cluster plans: per cluster, the probability of each treatment.
 *
 * Plans are immutable once published to the workers and shared by
 * reference count; a worker switches plans by swapping one pointer between
 * two batches, so the decision path takes no lock.  The one mutable part is
 * the budget guard's counters (bd_plan_guard_t, atomics shared by the
 * workers that decide under the plan).
 */
#ifndef BUDGETD_PLAN_H
#define BUDGETD_PLAN_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "budgetd/policy/campaign.h"
#include "budgetd/base/common.h"
#include "budgetd/wire/messages.h"

/** The budget guard's counters of one plan (docs/solving.md, The budget
 *  guard).  @locality any thread (atomics). */
typedef struct bd_plan_guard_s {
	_Atomic double committed; /**< expected cost of the decisions made */
	_Atomic uint64_t guarded; /**< decisions turned to control */
	_Atomic int tripped;      /**< 1 once a decision was guarded */
	_Atomic uint64_t *campaign_guarded; /**< the campaign's count over all
					       its plans (NULL: none); owned
					       by the daemon, outlives plans */
	/** the charged cost of the campaign's decisions over all its plans
	 *  (NULL: this plan's committed alone); owned by the daemon, outlives
	 *  plans.  With it the plan's limit counts from ledger_base, the
	 *  ledger's value when the estimates behind the plan were gathered:
	 *  a decision made while the plan was solved, under the plan before,
	 *  is in neither the plan's estimates nor a fresh allowance, so
	 *  plans solved in quick succession during a burst do not stack their
	 *  allowances (docs/solving.md, The budget guard) */
	_Atomic double *campaign_ledger;
	double ledger_base;
} bd_plan_guard_t;

typedef struct bd_plan_s {
	bd_refcnt_t refcnt;
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
	const char *traffic_profile; /**< static: what the forecast's hours of
				     day came from: "days" (past days), "log"
				     (a first day's log of historical
				     samples), "flat" (the prior); NULL: no
				     estimates */
	double cost_cal;        /**< today's cost calibration the cells' costs
				     were scaled by (1: none; NAN: no
				     estimates) */
	char note[256];         /**< why the plan is what it is, in words ("")*/
	/* the budget guard: the estimated cost of one decision by cluster and
	 * treatment (k x j) the plan was solved with (NULL: no estimates, no
	 * guard), and the expected cost its decisions may commit */
	double *cost;
	double guard_limit;
	bd_plan_guard_t *guard; /**< always allocated */
} bd_plan_t;

/** A plan of @p k clusters and @p j treatments, all probabilities 1/j. */
bd_plan_t *bd_plan_new_uniform(const char *campaign_id, int k, int j);
int bd_plan_curve_alloc(bd_plan_t *p, int n) BD_WUR;
bd_plan_t *bd_plan_ref(bd_plan_t *p);
void bd_plan_unref(bd_plan_t *p);

/**
 * The budget guard: commits the estimated cost of one decision of
 * @p cluster given @p treatment (> 0) under @p p, unless the plan's
 * committed cost would then pass p->guard_limit.  @returns 0 committed (or
 * no guard: no cost estimates, a cell outside the plan), 1 refused (the
 * decision must get control; counted), 2 refused, the plan's first.
 */
int bd_plan_guard_commit(const bd_plan_t *p, int cluster, int treatment);

/** A view of @p p as a message (pointers into p). */
void bd_plan_to_msg(const bd_plan_t *p, bd_plan_msg_t *m);

/**
 * The inverse of bd_plan_to_msg, for a plan read back from the store at
 * start-up (the plans column family holds each campaign's last published
 * plan, encoded by bd_encode_plan).  On success @p *out is a new plan
 * (reference count 1) of @p m's campaign holding its probabilities, traffic
 * shares, plan and model versions, time, daily and remaining budget, lambda
 * and exploration, with solver "restored"; what the message does not carry
 * back (the pace at solve time, the curve, the uplift estimates, the
 * guard's cost estimates, the expected spend and value) is as
 * bd_plan_new_uniform leaves it: no budget guard and an off-pace plan until
 * the next solve replaces it.
 * @p k and @p j are the shape the caller decides with (the model's K, the
 * campaign's treatments): a message of another shape is refused, as is one
 * bd_plan_check refuses (a non-finite number, a probability outside
 * [0, 1]), so a damaged record is never decided with.
 * @returns 0, BD_EINVAL with why in @p errstr (then @p *out is NULL), or
 * -ENOMEM.  @locality any thread; @p m's arrays are only read.
 */
int bd_plan_from_msg(const bd_plan_msg_t *m, int k, int j, bd_plan_t **out,
		     char *errstr, size_t errstr_size) BD_WUR;

/**
 * 0 when every number @p p would publish (its message, /api/plans,
 * /metrics) is finite and its probabilities are in [0, 1]; else BD_EINVAL
 * and which one in @p why.  A plan that fails is never published.
 */
int bd_plan_check(const bd_plan_t *p, char *why, size_t why_size) BD_WUR;

#endif
