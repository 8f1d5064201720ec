/**
 * @file represent.h
 * @brief The multi-task representation network of the method (hidden
 *        representation clustering, Meituan 2025; docs/learning.md).
 *
 *   x -> normalise (robust.h: median, robust scale, clip) -> trunk (2 dense
 *        ReLU layers) -> h(x)
 *   h -> conversion head  (dense ReLU, dense sigmoid): P(order | x, t) for every t
 *   h -> value head       (dense ReLU, dense linear):  E[value | x, t]
 *   h -> cost head        (dense ReLU, dense linear):  E[redeemed cost | x, t]
 *
 * Each sample has one observed treatment t: its heads' losses look at
 * column t only (a mask), weighted by the task weight and by 1/propensity
 * (inverse propensity), so exploration (randomised) and logged policy
 * traffic are both usable.  h(x), the trunk's output, is the user's hidden
 * representation that budgetd clusters.
 *
 * @locality one thread per model.
 */
#ifndef BUDGETD_REPRESENT_H
#define BUDGETD_REPRESENT_H

#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/learn/nn.h"

/** A training set: n samples, row-major features (n x dim). */
typedef struct bd_rep_data_s {
	int n, dim, n_treatments;
	const float *x;        /**< n x dim */
	const int *treatment;  /**< n */
	const double *propensity, *converted, *value, *cost; /**< n each */
} bd_rep_data_t;

typedef struct bd_rep_params_s {
	int hidden, rep_dim, head_hidden; /**< trunk width, h size, head width */
	int epochs, batch, patience;      /**< patience: epochs without a
					       held-out improvement */
	double lr, l2, holdout;           /**< holdout share for early stopping */
	double w_conv, w_value, w_cost;   /**< task weights */
	double huber;                     /**< > 0: Huber loss on value and cost */
	double max_ipw;                   /**< inverse propensities are capped */
	double clip;                      /**< normalised features are clipped
					       to +-clip robust units (0: not) */
	uint64_t seed;
} bd_rep_params_t;

void bd_rep_params_default(bd_rep_params_t *p);

typedef struct bd_rep_s {
	int dim, n_treatments, rep_dim;
	double *mean, *scale; /**< feature normalisation, dim each: the
				   median and the robust scale (robust.h) */
	double clip;          /**< and the clip */
	bd_nn_t *trunk, *conv, *value, *cost;
	double value_scale, cost_scale; /**< targets are divided by these */
} bd_rep_t;

typedef struct bd_rep_metrics_s {
	int epochs;
	double train_loss;
	/** per-task held-out losses, weighted means (value and cost in units
	 *  of their scales: root mean squares of value and cost) */
	double holdout_conv, holdout_value, holdout_cost;
	double seconds;
} bd_rep_metrics_t;

/** Trains a network on @p d.  @returns 0 or an error. */
int bd_rep_train(const bd_rep_data_t *d, const bd_rep_params_t *p, bd_rep_t **out,
		 bd_rep_metrics_t *m) BD_WUR;
void bd_rep_free(bd_rep_t *r);

/**
 * h(x) for @p n rows of @p x (n x dim): writes n x rep_dim into @p h.
 * Batches internally; allocation-free after the first call of a size.
 */
int bd_rep_embed(bd_rep_t *r, const float *x, int n, double *h) BD_WUR;

/** Predicted conversion, value and cost per treatment for one row (each J). */
int bd_rep_predict(bd_rep_t *r, const float *x, double *conv, double *value,
		   double *cost) BD_WUR;

#endif
