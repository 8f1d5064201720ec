/**
 * @file solver.h
 * @brief The budget split over K clusters x J treatments.
 *
 *   max  sum_k s_k sum_j x_kj r_kj
 *   s.t. sum_k s_k sum_j x_kj c_kj <= b,   sum_j x_kj = 1,   x_kj >= 0
 *
 * s_k: expected traffic share of cluster k; r, c: expected value and cost per
 * request; b: budget per request.  This version solves the Lagrangian dual by
 * bisection on lambda and mixes the two assignments that bracket the budget
 * (the clusters whose best arm changes at lambda*), which reaches the LP
 * optimum when one breakpoint separates them.  The exact convex-hull solver,
 * the integer and the stochastic versions are the solver issue's work.
 *
 * @locality any thread; pure.
 */
#ifndef BUDGETD_SOLVER_H
#define BUDGETD_SOLVER_H

#include "budgetd/common.h"

typedef struct bd_solver_problem_s {
	int k, j;
	const double *share; /**< k */
	const double *r;     /**< k x j */
	const double *c;     /**< k x j */
} bd_solver_problem_t;

typedef struct bd_solver_result_s {
	double lambda, value, cost; /**< per request */
} bd_solver_result_t;

/** Fills @p prob (k x j). @returns 0 or BD_EINVAL. */
int bd_solver_lagrange(const bd_solver_problem_t *p, double budget,
		       double *prob, bd_solver_result_t *res) BD_WUR;

/** Cost per request of the plan that maximises value ignoring cost. */
double bd_solver_max_cost(const bd_solver_problem_t *p);

#endif
