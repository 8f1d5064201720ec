/**
 * @file baselines_int.h
 * @brief Internals shared by the baselines' files (baselines.c, bidfcl.c):
 *        the S-learner's input rows, the warm-start lambdas and the
 *        softmax policy-learning gradient.  Not part of the public API.
 */
#ifndef BUDGETD_BASELINES_INT_H
#define BUDGETD_BASELINES_INT_H

#include "budgetd/lab/baselines.h"

/** Row input of @p m: normalised features of @p x, then one-hot @p t. */
void bd__tsm_input_row(const bd_tsm_t *m, const float *x, int t, double *in);

/** The lambdas at which @p m's predictions spend 30, 50 and 70% of what
 *  maximising predicted value spends on @p d's rows (3 into @p lam).
 *  @returns 0 or -ENOMEM. */
int bd__tsm_warm_lambdas(bd_tsm_t *m, const bd_tsm_data_t *d, double *lam) BD_WUR;

/**
 * Adds the gradient of the policy-learning loss of RCT row @p i,
 *   - w (r_i - lambda c_i) softmax_j((r_hat_ij - lambda c_hat_ij) / tau)[t_i]
 * summed over @p n_lam lambdas and scaled by @p inv_b, with respect to the
 * row's scaled outputs @p oi (J x 2: value, cost) into @p di.
 */
void bd__pll_grad(const bd_tsm_t *m, const bd_tsm_data_t *d, int i, const double *oi,
		  double *di, double w, double inv_b, const double *lam, int n_lam,
		  double tau);

#endif
