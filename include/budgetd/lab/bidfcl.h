/**
 * @file bidfcl.h
 * @brief Bi-DFCL (Meituan, NeurIPS 2025; docs/offline.md): a target model
 *        trained on plentiful biased observational data, corrected through
 *        a bridge network by the decision loss on scarce RCT data.
 *
 * Networks, all S-learners of one input layout (normalised features and
 * the one-hot treatment):
 *  - teacher  psi:   TSM-SL trained on the RCT set (the caller's; frozen);
 *  - obs model:      TSM-SL trained on the observational set (frozen copy
 *                    of the target's warm start);
 *  - target   theta: starts as the obs model; what the method deploys;
 *  - bridge   phi:   (dim + J) -> bridge_hidden -> 2, sigmoid: per sample
 *                    and arm, gates w_v, w_c in (0, 1).
 * For an observational sample's unobserved arms j != t_i the pseudo-labels
 * are r_cf = w_v T_r + (1 - w_v) O_r (likewise cost), T the teacher's and O
 * the obs model's prediction.
 *   Lower level: min_theta L_PL = 1/B sum_i [factual squared error on t_i
 *                + pseudo_weight sum_{j != t_i} squared error to the
 *                pseudo-labels]  (targets in the target's scaled units).
 *   Upper level: min_phi L_DL(theta*(phi)) on the RCT set: DFCL's softmax
 *                policy loss - (N / N_t) (r - lambda c) softmax_j((r_hat -
 *                lambda c_hat) / tau)[t] at the three warm-start lambdas
 *                (30/50/70% of the teacher's value-maximising spend).
 *   Hypergradient (implicit differentiation):
 *     dL_DL/dphi = - (d2 L_PL / dphi dtheta) v,  (H + mu I) v = grad_theta L_DL,
 *   H = d2 L_PL / dtheta2 on a batch of observational rows, v by conjugate
 *   gradient.  Choices (documented in docs/offline.md): H is the
 *   Gauss-Newton matrix J' D J of the squared loss (its positive
 *   semi-definite part; the full Hessian of the network is indefinite here:
 *   with it, CG met negative curvature in 94 of 100 solves and its residual
 *   grew 70-fold), its products J' D (J v) with J v a central finite
 *   difference of the outputs, (F(theta + e v) - F(theta - e v)) / 2e,
 *   e = fd_eps (1 + |theta|) / |v|, and J' by a backward pass;
 *   `full_hessian` = 1 uses the finite-difference Hessian-vector product
 *   (g(theta + e v) - g(theta - e v)) / 2e of the exact gradient instead.
 *   The mixed product also needs only the outputs at theta +- e v and one
 *   backward pass through the bridge.  Damping mu; CG stops on a direction
 *   of non-positive curvature.  One upper step every `inner` lower steps.
 * The observational set is used as plain observational data: its logged
 * propensities are not used (the method's premise is a biased log).
 *
 * @locality one thread per call.
 */
#ifndef BUDGETD_BIDFCL_H
#define BUDGETD_BIDFCL_H

#include <stdint.h>

#include "budgetd/lab/baselines.h"
#include "budgetd/base/common.h"

typedef struct bd_bidfcl_params_s {
	int outer;         /**< upper steps (default 100) */
	int inner;         /**< lower steps per upper step (5) */
	int cg_iters;      /**< conjugate-gradient iterations (50) */
	int batch;         /**< observational rows per lower step (256) */
	int hyper_batch;   /**< observational rows in the Hessian (512) */
	int rct_batch;     /**< RCT rows in the upper gradient (2048) */
	int bridge_hidden; /**< bridge width (32) */
	double lr;         /**< target's Adam learning rate (3e-4) */
	double bridge_lr;  /**< bridge's Adam learning rate (1e-2) */
	double tau;        /**< softmax temperature in value units (0.1) */
	double pseudo_weight; /**< weight of the pseudo-label terms (1) */
	double damping;    /**< mu (0.03) */
	double fd_eps;     /**< relative finite-difference step (1e-4) */
	int full_hessian;  /**< 1: the full Hessian, 0: Gauss-Newton (default) */
	uint64_t seed;
} bd_bidfcl_params_t;

void bd_bidfcl_params_default(bd_bidfcl_params_t *p);

typedef struct bd_bidfcl_stats_s {
	int upper_steps;
	int cg_iters;          /**< CG iterations run, summed over upper steps */
	int negative_curvature; /**< CG runs stopped by a direction with p'Hp <= 0 */
	double cg_rel_resid;   /**< mean final |r| / |g| */
	double gate_value, gate_cost; /**< mean bridge gates on the obs set at the end */
	double seconds_warm, seconds_bilevel;
} bd_bidfcl_stats_t;

/**
 * Trains Bi-DFCL: the obs model (TSM-SL with @p tp on @p obs), then the
 * bi-level loop.  @p teacher is read only (its forward buffers are used).
 * @p out receives the target, owned by the caller (bd_tsm_free);
 * @p st (may be NULL) the diagnostics.
 * @returns 0, BD_EINVAL (shapes, parameters) or -ENOMEM.
 */
int bd_bidfcl_train(const bd_tsm_data_t *obs, const bd_tsm_data_t *rct, bd_tsm_t *teacher,
		    const bd_tsm_params_t *tp, const bd_bidfcl_params_t *p, bd_tsm_t **out,
		    bd_bidfcl_stats_t *st) BD_WUR;

/**
 * The checks behind the hypergradient, on the warm start of the same
 * inputs (tests/unit/test_baselines.c): v'Hv from the finite-difference
 * Hessian-vector product against the second difference of L_PL along a
 * random v (@p hvp_rel_err); the Gauss-Newton product's asymmetry
 * |u'Gv - v'Gu| / |u'Gv| (@p gn_sym_err) and v'Gv (@p gn_vgv, > 0); and the
 * mixed product d/dphi (grad_theta L_PL . v) from the bridge's backward
 * pass against central differences over bridge weights (@p mixed_rel_err,
 * worst of 8 weights over the largest).  @returns 0, BD_EINVAL or -ENOMEM.
 */
int bd_bidfcl_check(const bd_tsm_data_t *obs, const bd_tsm_data_t *rct, bd_tsm_t *teacher,
		    const bd_tsm_params_t *tp, const bd_bidfcl_params_t *p,
		    double *hvp_rel_err, double *gn_sym_err, double *gn_vgv,
		    double *mixed_rel_err) BD_WUR;

#endif
