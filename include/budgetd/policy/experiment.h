/**
 * @file experiment.h
 * @brief A campaign's holdout: which users get no incentive, and what the
 *        treated users bought over them, with confidence intervals.
 *
 * A campaign's `holdout` share of its USERS (not requests) gets the control
 * treatment on every request, reason "holdout", and spends nothing.  The
 * assignment is a hash of campaign and user, so a user stays in the holdout
 * for the campaign's life, on any instance and after any restart; raising
 * the share keeps every user already held out (the hash is compared with
 * the share), lowering it releases users.
 *
 * While a campaign has a holdout, its requests and their outcomes are
 * summed (a decision records whether it was, so its outcome follows it)
 * per arm (treated, holdout), per day and per one of
 * BD_EXP_BUCKETS groups of users (another hash of the user), so every
 * request of a user falls in one group.  The groups are independent
 * samples of users, which gives a variance clustered by user from sums
 * alone: for an arm's mean per request m = sum Y_b / sum N_b over groups b,
 *   var(m) = B / (B - 1) * sum_b (Y_b - m N_b)^2 / (sum_b N_b)^2
 * (the linearised ratio estimator with the groups as clusters).  The
 * arms hold different users, so the variance of their difference is the
 * sum of theirs.  The intervals use Student's t quantile with one
 * degree of freedom less than the groups of the arm with fewer (63 when
 * every group has requests: 1.998 for 95%).  Over simulated A/A days on
 * three world families the 95% intervals held 0 on 94-95% of days
 * (tests/unit/test_experiment.c).
 *
 * What the report cannot tell: the uplift is the treated users' (plan,
 * exploration and budget guard together) over no incentive at all, for
 * the users and days that came; it is not the plan's uplift over uniform.
 *
 * @locality any thread; pure functions.
 */
#ifndef BUDGETD_EXPERIMENT_H
#define BUDGETD_EXPERIMENT_H

#include <stdbool.h>
#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/wire/messages.h" /* BD_HOLDOUT_MAX */
/** User groups of the clustered variance (see the file comment). */
#define BD_EXP_BUCKETS 64

/** The arms: the plan's users (treated), the holdout, the uniform arm. */
enum bd_exp_arm { BD_ARM_TREATED = 0, BD_ARM_HOLDOUT = 1, BD_ARM_UNIFORM = 2, BD_ARM__COUNT };

/** One group's sums (a stats vector of kind BD_STATS_EXPERIMENT). */
enum bd_exp_stat {
	BD_EXP_DECISIONS = 0,
	BD_EXP_OUTCOMES,
	BD_EXP_VALUE,
	BD_EXP_COST,
	BD_EXP_ORDERS,
	BD_EXP__COUNT
};

/** Whether @p user_id of campaign @p campaign_id is in a holdout of share
 *  @p holdout (0: nobody). */
bool bd_experiment_holdout(const char *campaign_id, const char *user_id, double holdout);
/** Whether @p user_id of campaign @p campaign_id is in a uniform arm of
 *  share @p share (0: nobody).  The same draw as the holdout's, from the
 *  other end: holdout and arm never share a user while their shares sum to
 *  at most 1, and each keeps its users when the other's share changes. */
bool bd_experiment_uniform_arm(const char *campaign_id, const char *user_id, double share);
/** The user's group, 0 .. BD_EXP_BUCKETS - 1. */
int bd_experiment_bucket(const char *campaign_id, const char *user_id);

/** Sums of one scope (a day, or the campaign to date) by arm and group. */
typedef struct bd_experiment_s {
	double x[BD_ARM__COUNT][BD_EXP_BUCKETS][BD_EXP__COUNT];
} bd_experiment_t;

/** Adds a group's vector (n <= BD_EXP__COUNT doubles); out-of-range arms
 *  or groups are ignored. */
void bd_experiment_add(bd_experiment_t *e, int arm, int bucket, const double *x, int n);

/** Days of sums kept apart for the report: the campaign's day and the ones
 *  before it. */
#define BD_EXP_DAYS 7

/** A campaign's sums: by day (day[i] is day0 - i) and over every day. */
typedef struct bd_experiment_days_s {
	int64_t day0;
	bd_experiment_t day[BD_EXP_DAYS];
	bd_experiment_t total;
} bd_experiment_days_t;

/** Adds a group's vector of day @p day to @p e's total and, within
 *  BD_EXP_DAYS of day0, to that day's sums. */
void bd_experiment_days_add(bd_experiment_days_t *e, int64_t day, int arm, int bucket,
			    const double *x, int n);

/** A mean per request with its standard error. */
typedef struct bd_exp_mean_s {
	double mean, se;
} bd_exp_mean_t;

/** What the report shows. */
typedef struct bd_exp_result_s {
	double requests[BD_ARM__COUNT], outcomes[BD_ARM__COUNT];
	/** per request, per arm: value, cost, orders */
	bd_exp_mean_t value[BD_ARM__COUNT], cost[BD_ARM__COUNT], orders[BD_ARM__COUNT];
	/** the arms compared: a (the policy) and b (its baseline) */
	int a, b;
	/** arm a minus arm b, per request */
	bd_exp_mean_t uplift_value, uplift_orders, uplift_cost;
	double z;	     /**< the intervals' quantile (t, see above) */
	double lo, hi;	     /**< uplift_value's interval */
	/** uplift_value x arm a's requests: the value arm a added over what
	 *  arm b's policy would have bought for them, and its interval; over
	 *  arm a's cost (against the holdout only): value per unit spent */
	double increment, increment_lo, increment_hi, roi;
	/** "better", "worse", "not yet known", "no holdout" or "no uniform arm" */
	const char *verdict;
	/** while not yet known: arm a's requests (in the same proportion to
	 *  arm b's) at which an effect of the current size would be z
	 *  standard errors from 0; 0 when there is no effect to find */
	double requests_needed;
} bd_exp_result_t;

/** Computes @p out from @p e: arm @p a against arm @p b, the intervals at
 *  the normal quantile @p z (1.96: 95%) made Student's t.  The two arms
 *  hold different users, so their difference's variance is the sum of
 *  theirs: arm against holdout and arm against arm alike. */
void bd_experiment_compare(const bd_experiment_t *e, int a, int b, double z,
			   bd_exp_result_t *out);
/** bd_experiment_compare of the plan's users (treated) and the holdout. */
void bd_experiment_result(const bd_experiment_t *e, double z, bd_exp_result_t *out);

#endif
