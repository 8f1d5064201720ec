/**
 * @file baselines.h
 * @brief The seed methods budgetd is measured against (docs/offline.md).
 *
 * Built so far: TSM-SL, the two-stage method with an S-learner.  One network
 * takes the features and the treatment (one-hot) and predicts the value and
 * the cost of that treatment (squared loss, targets scaled by their root
 * mean squares; an incentive's predicted cost is at least 1e-6 of the
 * cost scale, the control's is 0);
 * allocation is per user by Lagrangian bisection on its
 * predictions (bd_eval_eom and the bench do that).
 *
 * DFCL-PL: the TSM-SL network fine-tuned with a decision loss on RCT data,
 *   L = alpha L_PL + L_PLL,  L_PLL = - sum_lambda 1/M sum_i (N / N_{t_i})
 *       (r_i - lambda c_i) softmax_j((r_hat_ij - lambda c_hat_ij) / tau)[t_i]
 * (the DFCL paper, Meituan, KDD 2024).  Choices: the lambdas are those at which the
 * warm-start predictions meet 30, 50 and 70% of their value-maximising
 * spend on the training set; tau is in value units (default 0.1: the
 * predicted differences between arms are tenths of the value here, so tau
 * = 1 would make the softmax nearly uniform); Adam lr 1e-4, 5 epochs.
 * DFCL-MER is the same loss at another temperature (the paper: 0.01 on
 * marketing data); the bench runs it at tau = 0.01.
 *
 * DFCL-IFD (ifd = 1): L = alpha L_PL + L_dual, L_dual = - (N / N_t)
 *   (r - lambda c) 1[argmax_j s_j = t], s_j = r_hat_j - lambda c_hat_j, its
 * gradient by finite differences over the smallest score change that flips
 * the argmax (raise a losing arm to the winner, or lower the winner to the
 * runner-up), the change at least delta_min = 0.05 value units.
 *
 * End-to-end (E2E): the TSM-SL network fine-tuned with the marketing goal as
 * a regularizer, L = alpha L_PL - beta G, G = 1/M sum_i (N / N_{t_i})
 * (r_i - lambda c_i) 1[argmax_j s_ij = t_i], s_ij = r_hat_ij - lambda
 * c_hat_ij: the Lagrangian value of the argmax policy on RCT data.  The
 * argmax has no gradient; it is estimated by perturbation (evolution
 * strategies): per row, antithetic Gaussian perturbations of the scores,
 * dG/ds_i ~ 1/(2 K sigma) sum_k (G_i(s_i + sigma e_k) - G_i(s_i - sigma e_k)) e_k,
 * then back through the network (ds/dr_hat = 1, ds/dc_hat = -lambda).
 * Choices: the lambdas as for DFCL; K = 8 pairs; sigma = 0.05 value units;
 * beta 1, alpha 1, Adam lr 1e-4, 5 epochs.  Bi-DFCL is not built yet.
 *
 * @locality one thread per model.
 */
#ifndef BUDGETD_BASELINES_H
#define BUDGETD_BASELINES_H

#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/learn/nn.h"

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
/** A copy of @p m's weights and normalisation (no optimiser state). */
int bd_tsm_clone(const bd_tsm_t *m, bd_tsm_t **out) BD_WUR;
/** Predicted value and cost of every treatment for @p n rows (n x j each). */
int bd_tsm_predict(bd_tsm_t *m, const float *x, int n, double *r_hat, double *c_hat) BD_WUR;

typedef struct bd_dfcl_params_s {
	double alpha, tau, lr;
	int epochs, batch, n_lambda;
	double lambda[8]; /**< 0 of them: chosen from the warm start (see above) */
	int ifd;          /**< 1: the IFD decision gradient instead of L_PLL */
	double delta_min; /**< IFD: smallest score change, value units (0.05) */
	uint64_t seed;
} bd_dfcl_params_t;

void bd_dfcl_params_default(bd_dfcl_params_t *p);
/** Fine-tunes @p m (a trained TSM-SL model) in place with the decision loss
 *  on @p d (RCT).  @returns 0, BD_EINVAL or -ENOMEM. */
int bd_dfcl_finetune(bd_tsm_t *m, const bd_tsm_data_t *d, const bd_dfcl_params_t *p) BD_WUR;

typedef struct bd_e2e_params_s {
	double alpha, beta, sigma, lr;
	int pairs, epochs, batch;
	uint64_t seed;
} bd_e2e_params_t;

void bd_e2e_params_default(bd_e2e_params_t *p);
/** Fine-tunes @p m in place with the perturbation-estimated goal (above). */
int bd_e2e_finetune(bd_tsm_t *m, const bd_tsm_data_t *d, const bd_e2e_params_t *p) BD_WUR;

#endif
