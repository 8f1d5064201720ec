/**
 * @file promote.h
 * @brief Whether a trained candidate model would plan better than the one
 *        deciding: both models' cluster plans, valued off-policy on the
 *        logged samples.
 *
 * A retrain must not make decisions worse: trained on the daemon's own
 * decisions, on a noisy day or on a shifted log, a candidate can cluster
 * users worse than the model it replaces.  So, before it is promoted, both
 * models plan on the same samples and the plans are valued on samples they
 * were not planned on (two folds, each planned on the other):
 *  - each model assigns every sample to a cluster; a cell's value and cost
 *    per request are its samples' inverse-propensity (Hajek) means, pulled
 *    toward the treatment's mean by @p shrinkage pseudo-samples as the
 *    daemon's estimates are (the logged treatments follow the deciding
 *    model's clusters, so the candidate's cells need the weights);
 *  - each model's LP plan at budgets of 10%, 30% and 60% of what giving
 *    every sample the costliest treatment would cost (tight budgets are
 *    where clusters matter most);
 *  - a plan pi is valued on the other fold by inverse propensity:
 *    pi(t_i | x_i) (value_i - lambda cost_i) / p_i per sample, lambda the
 *    two plans' mean shadow price at that budget (so a plan that would
 *    spend more than its budget on the held-out fold pays for it);
 *  - the difference candidate minus current, per sample, averaged over the
 *    budgets: its mean and standard error (paired: both plans are valued on
 *    the same samples, so the shared noise cancels).
 * Unbiased for the plans' net value given the logged propensities; the
 * candidate's representation saw every sample, which this does not undo
 * (only the cells are cross-fitted).
 *
 * @locality any thread; pure (reads its arguments, allocates scratch).
 */
#ifndef BUDGETD_PROMOTE_H
#define BUDGETD_PROMOTE_H

#include "budgetd/base/common.h"
#include "budgetd/wire/cluster.h"

/** The logged samples (borrowed): features n x dim, treatment, propensity
 *  of that treatment under the policy that decided, value and cost. */
typedef struct bd_promote_data_s {
	int n, dim, j;
	const float *x;
	const int *t;
	const double *p, *value, *cost;
} bd_promote_data_t;

typedef struct bd_promote_result_s {
	double cur, cand; /**< each plan's net value per request, mean over budgets */
	double diff, se;  /**< cand - cur, paired, and its standard error */
	int n;            /**< samples valued (propensity in (0, 1]) */
} bd_promote_result_t;

/**
 * Values @p cand's plans against @p cur's on @p d (models of the same
 * dim).  @returns 0, BD_EINVAL (no usable samples, dims differ, more than
 * 64 treatments) or -ENOMEM.
 */
int bd_promote_compare(const bd_cluster_model_t *cur, const bd_cluster_model_t *cand,
		       const bd_promote_data_t *d, double shrinkage,
		       bd_promote_result_t *r) BD_WUR;

#endif
