/**
 * @file baselines.h
 * @brief The seed methods budgetd is measured against (DESIGN.md section 3).
 *
 * Built so far: TSM-SL, the two-stage method with an S-learner.  One network
 * takes the features and the treatment (one-hot) and predicts the value and
 * the cost of that treatment (squared loss, targets scaled by their root
 * mean squares; an incentive's predicted cost is at least 1e-6 of the
 * cost scale, the control's is 0);
 * allocation is per user by Lagrangian bisection on its
 * predictions (bd_metrics_eom and the bench do that).  DFCL, the end-to-end
 * method and Bi-DFCL are not built yet.
 *
 * @locality one thread per model.
 */
#ifndef BUDGETD_BASELINES_H
#define BUDGETD_BASELINES_H

#include <stdint.h>

#include "budgetd/common.h"
#include "budgetd/nn.h"

/** Training data: n RCT (or logged) samples. */
typedef struct bd_tsm_data_s {
	int n, dim, j;
	const float *x;       /**< n x dim */
	const int *t;         /**< n */
	const double *p;      /**< n: propensity (samples weigh 1/p, capped) */
	const double *value;  /**< n */
	const double *cost;   /**< n */
} bd_tsm_data_t;

typedef struct bd_tsm_params_s {
	int hidden, epochs, batch;
	double lr, l2, max_ipw;
	uint64_t seed;
} bd_tsm_params_t;

void bd_tsm_params_default(bd_tsm_params_t *p);

typedef struct bd_tsm_s {
	int dim, j;
	double *mean, *scale;           /**< feature normalisation */
	double value_scale, cost_scale; /**< target scales */
	bd_nn_t *nn;                    /**< (dim + j) -> hidden -> hidden -> 2 */
} bd_tsm_t;

int bd_tsm_train(const bd_tsm_data_t *d, const bd_tsm_params_t *p, bd_tsm_t **out) BD_WUR;
void bd_tsm_free(bd_tsm_t *m);
/** Predicted value and cost of every treatment for @p n rows (n x j each). */
int bd_tsm_predict(bd_tsm_t *m, const float *x, int n, double *r_hat, double *c_hat) BD_WUR;

#endif
