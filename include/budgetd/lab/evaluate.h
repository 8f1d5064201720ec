/**
 * @file evaluate.h
 * @brief The offline metrics of the seed papers (docs/offline.md), on RCT data.
 *
 * Data: n users, each shown treatment t_i with probability p_i (its arm's
 * share in the RCT), with observed value r_i and cost c_i, and a method's
 * predictions r_hat (n x j) and c_hat (n x j) for every treatment.
 *
 *  - EOM (expected outcome metric): for a lambda, every user gets
 *    z_i = argmax_j (r_hat_ij - lambda c_hat_ij) (ties: the lower j);
 *    rbar = 1/n sum_i r_i 1[t_i = z_i] / p_i, cbar likewise with costs
 *    (the Hajek variant divides by sum_i 1[t_i = z_i] / p_i instead of n).
 *    lambda is found by bisection so that cbar meets the budget per capita;
 *    the report is rbar there.
 *  - AUCC (area under the cost curve), one treatment t against control:
 *    users of arms t and 0 ranked by predicted incremental ROI
 *    (r_hat_it - r_hat_i0) / (c_hat_it - c_hat_i0), best first; along the
 *    ranking, incremental cost and value per capita with the full group
 *    sizes: dC(k) = C_t(k)/N_t - C_0(k)/N_0, dR(k) likewise; Q + 1 points
 *    evenly spaced on the cost axis from 0 to dC(all); AUCC =
 *    sum_q dR(at q) / (dR(all) (Q + 1)).  A random ranking gives ~0.5.
 *
 * @locality any thread; pure.
 */
#ifndef BUDGETD_EVALUATE_H
#define BUDGETD_EVALUATE_H

#include "budgetd/base/common.h"

typedef struct bd_rct_s {
	int n, j;
	const int *t;      /**< n: treatment shown */
	const double *p;   /**< n: its probability */
	const double *r;   /**< n: observed value */
	const double *c;   /**< n: observed cost */
	const double *r_hat, *c_hat; /**< n x j: predictions */
} bd_rct_t;

typedef struct bd_eom_s {
	double lambda;
	double value; /**< rbar: value per capita of the policy at lambda */
	double cost;  /**< cbar */
} bd_eom_t;

/** rbar and cbar of the policy at @p lambda (@p hajek: self-normalised). */
int bd_eval_eom_at(const bd_rct_t *d, double lambda, int hajek, bd_eom_t *out) BD_WUR;

/**
 * EOM at @p budget per capita: the smallest lambda >= 0 whose policy's cbar
 * is at most the budget (bisection, 100 steps after bracketing).
 * @returns 0 or BD_EINVAL.
 */
int bd_eval_eom(const bd_rct_t *d, double budget, int hajek, bd_eom_t *out) BD_WUR;

/**
 * AUCC of treatment @p arm (>= 1) against control (0), @p q points.
 * @returns 0 and *aucc, or BD_EINVAL (no users in an arm, no incremental
 * cost or value overall) or -ENOMEM.
 */
int bd_eval_aucc(const bd_rct_t *d, int arm, int q, double *aucc) BD_WUR;

#endif
