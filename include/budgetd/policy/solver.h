/**
 * @file solver.h
 * @brief The budget split over K clusters x J treatments.
 *
 *   max  sum_k s_k sum_j x_kj r_kj
 *   s.t. sum_k s_k sum_j x_kj c_kj <= b,   sum_j x_kj = 1,   x_kj >= 0
 *
 * s_k: expected traffic share of cluster k; r, c: expected value and cost per
 * request; b: budget per request.  Three solvers share one structure, the
 * curve:
 *
 *  - LP, exactly (bd_solver_curve_new + bd_solver_curve_plan): each
 *    cluster's treatments reduce to the upper convex hull of (cost, value);
 *    the hull's segments, sorted by incremental efficiency dv/dc, taken in
 *    order from the cheapest plan, trace the whole concave budget/value
 *    curve in one pass (Sinha & Zoltners' greedy for the multiple-choice
 *    knapsack LP).  The plan at a budget is a prefix of that order: at most
 *    one cluster is split between two treatments, and a budget change is a
 *    binary search plus one O(K + prefix) pass, not a new solve.
 *  - integer (bd_solver_integer): one treatment per cluster, exact.  The LP
 *    gives an upper bound and lambda*; a rounded LP plan gives a lower bound;
 *    reduced-cost fixing drops every (cluster, treatment) whose Lagrangian
 *    penalty exceeds the gap, and a depth-first branch and bound over the
 *    few clusters left (bound: Lagrangian relaxation at lambda*) proves the
 *    optimum.  A node limit guards the worst case; the result says whether
 *    optimality was proven.
 *  - stochastic (bd_solver_stochastic): value and cost estimates are
 *    uncertain (standard errors), so is traffic, so is each request's
 *    outcome.  Scenarios drawn from that uncertainty price every plan along
 *    the LP curve; the chosen plan is the one with the best expected value
 *    whose probability of spending more than the remaining budget is at
 *    most the configured level.
 *
 * @locality any thread; pure functions of their arguments.
 */
#ifndef BUDGETD_SOLVER_H
#define BUDGETD_SOLVER_H

#include <stdint.h>

#include "budgetd/base/common.h"

typedef struct bd_solver_problem_s {
	int k, j;
	const double *share; /**< k, >= 0 */
	const double *r;     /**< k x j, expected value per request */
	const double *c;     /**< k x j, expected cost per request, >= 0 */
} bd_solver_problem_t;

typedef struct bd_solver_result_s {
	double lambda;   /**< value per unit of cost at the margin */
	double value;    /**< per request */
	double cost;     /**< per request */
	int feasible;    /**< 0: the budget is below the cheapest plan's cost */
	int split;       /**< the split cluster, or -1 */
} bd_solver_result_t;

/** The exact LP budget/value curve of one problem (opaque). */
typedef struct bd_solver_curve_s bd_solver_curve_t;

/** bd_solver_curve_build flag: continue the curve past the value-maximising
 *  plan to the costliest one, losing the least value per extra cost (the
 *  plan that spends exactly a budget the value-maximising plan cannot). */
#define BD_SOLVER_LAND 1

/**
 * Builds the curve of @p p: O(K J log J + S log S) for S hull segments.
 * @returns 0 and *out (caller frees with bd_solver_curve_free), or
 * BD_EINVAL (k or j < 1, a non-finite input, a negative share or cost) or
 * -ENOMEM.
 */
int bd_solver_curve_new(const bd_solver_problem_t *p, bd_solver_curve_t **out) BD_WUR;
/** bd_solver_curve_new with @p flags (BD_SOLVER_LAND). */
int bd_solver_curve_build(const bd_solver_problem_t *p, int flags,
			  bd_solver_curve_t **out) BD_WUR;
void bd_solver_curve_free(bd_solver_curve_t *cv);

/** Breakpoints of the curve: n points (cost, value) per request, cost
 *  increasing, value increasing and concave.  Pointers into @p cv. */
int bd_solver_curve_points(const bd_solver_curve_t *cv, const double **cost,
			   const double **value);
/** Value per request of the LP optimum at @p budget (O(log S));
 *  @p lambda (may be NULL) gets the shadow price there. */
double bd_solver_curve_value(const bd_solver_curve_t *cv, double budget, double *lambda);
/** Cost per request where the curve ends: the value-maximising plan, or
 *  with BD_SOLVER_LAND the costliest plan. */
double bd_solver_curve_max_cost(const bd_solver_curve_t *cv);

/**
 * The LP-optimal plan at @p budget per request into @p prob (k x j, rows
 * sum to 1).  Below the cheapest plan's cost it returns the cheapest plan
 * with res->feasible = 0.  @returns 0 or BD_EINVAL.
 */
int bd_solver_curve_plan(const bd_solver_curve_t *cv, double budget, double *prob,
			 bd_solver_result_t *res) BD_WUR;

/** bd_solver_curve_new + bd_solver_curve_plan + free. */
int bd_solver_lp(const bd_solver_problem_t *p, double budget, double *prob,
		 bd_solver_result_t *res) BD_WUR;

typedef struct bd_solver_int_stats_s {
	double lp_value;  /**< the LP bound */
	long nodes;       /**< branch-and-bound nodes visited */
	int core;         /**< clusters left free after reduced-cost fixing */
	int proven;       /**< 1: optimal; 0: the node limit stopped the search */
} bd_solver_int_stats_t;

/**
 * The best plan with one treatment per cluster: @p arm (k) gets the
 * treatments.  @p max_nodes bounds the search (0: 50 million).  Infeasible
 * budgets give the cheapest plan with res->feasible = 0.
 * @returns 0, BD_EINVAL or -ENOMEM.
 */
int bd_solver_integer(const bd_solver_problem_t *p, double budget, long max_nodes,
		      int *arm, bd_solver_result_t *res, bd_solver_int_stats_t *st) BD_WUR;

/** Uncertainty of a problem, for the stochastic solver. */
typedef struct bd_solver_uncertainty_s {
	const double *r_se;   /**< k x j standard errors of r (may be NULL: 0) */
	const double *c_se;   /**< k x j standard errors of c (may be NULL: 0) */
	const double *c_var;  /**< k x j per-request variance of cost; NULL:
				   requests are not random (only the estimates
				   and the traffic are) */
	double requests;      /**< expected requests left (n) */
	double requests_cv;   /**< coefficient of variation of n */
	int scenarios;        /**< scenarios drawn (>= 10) */
	uint64_t seed;
	double max_overspend; /**< allowed probability of spending > the budget */
	/** Share of the requests whose spend no later solve can correct (the
	 *  deviations of the scenarios apply to it only); 0 or 1: all of them.
	 *  A daemon that re-solves as spend comes in only risks the spend of
	 *  the decisions whose outcomes arrive after its last solve. */
	double horizon;
} bd_solver_uncertainty_t;

typedef struct bd_solver_stoch_result_s {
	bd_solver_result_t plan;   /**< of the chosen plan, per request */
	double planned_budget;     /**< per request: the LP budget of the plan */
	double expected_value;     /**< over the rest of the day, mean of scenarios */
	double expected_spend;     /**< idem */
	double overspend_prob;     /**< share of scenarios spending > the budget */
} bd_solver_stoch_result_t;

/**
 * The plan on the LP curve of @p cv (built from @p p) with the best
 * expected value whose overspend probability is at most u->max_overspend,
 * for a remaining budget of @p budget per request (total budget * n).
 * @returns 0 or BD_EINVAL / -ENOMEM.
 */
int bd_solver_stochastic(const bd_solver_problem_t *p, const bd_solver_curve_t *cv,
			 double budget, const bd_solver_uncertainty_t *u, double *prob,
			 bd_solver_stoch_result_t *res) BD_WUR;

#endif
