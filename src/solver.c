#include "budgetd/solver.h"

#include <math.h>
#include <string.h>

/* Best arm of cluster k at lambda; ties go to the cheaper arm. */
static int best_arm(const bd_solver_problem_t *p, int k, double lambda)
{
	int best = 0;
	double bs = -INFINITY;
	for (int t = 0; t < p->j; t++) {
		double r = p->r[k * p->j + t], c = p->c[k * p->j + t];
		double s = r - lambda * c;
		if (s > bs + 1e-15 ||
		    (fabs(s - bs) <= 1e-15 && c < p->c[k * p->j + best])) {
			bs = s;
			best = t;
		}
	}
	return best;
}

static void totals(const bd_solver_problem_t *p, double lambda, int *arm,
		   double *value, double *cost)
{
	*value = *cost = 0;
	for (int k = 0; k < p->k; k++) {
		int t = best_arm(p, k, lambda);
		if (arm)
			arm[k] = t;
		*value += p->share[k] * p->r[k * p->j + t];
		*cost += p->share[k] * p->c[k * p->j + t];
	}
}

double bd_solver_max_cost(const bd_solver_problem_t *p)
{
	double v, c;
	totals(p, 0, NULL, &v, &c);
	return c;
}

int bd_solver_lagrange(const bd_solver_problem_t *p, double budget,
		       double *prob, bd_solver_result_t *res)
{
	int arm_lo[4096], arm_hi[4096];
	double v_lo, c_lo, v_hi, c_hi, lo = 0, hi = 1;

	if (p->k <= 0 || p->j <= 0 || p->k > 4096)
		return BD_EINVAL;
	memset(prob, 0, (size_t)p->k * (size_t)p->j * sizeof(double));
	if (!(budget > 0))
		budget = 0;
	totals(p, 0, arm_hi, &v_hi, &c_hi);
	if (c_hi <= budget) {
		/* the budget buys the value-maximising plan */
		for (int k = 0; k < p->k; k++)
			prob[k * p->j + arm_hi[k]] = 1;
		*res = (bd_solver_result_t){0, v_hi, c_hi};
		return 0;
	}
	/* find hi with spend(hi) <= budget */
	for (int i = 0; i < 200; i++) {
		totals(p, hi, NULL, &v_hi, &c_hi);
		if (c_hi <= budget)
			break;
		lo = hi;
		hi *= 2;
	}
	for (int i = 0; i < 100; i++) {
		double mid = 0.5 * (lo + hi), v, c;
		totals(p, mid, NULL, &v, &c);
		if (c <= budget)
			hi = mid;
		else
			lo = mid;
	}
	totals(p, lo, arm_lo, &v_lo, &c_lo);
	totals(p, hi, arm_hi, &v_hi, &c_hi);
	/* mix: theta of the over-budget assignment, 1-theta of the other */
	double theta = c_lo > c_hi ? (budget - c_hi) / (c_lo - c_hi) : 0;
	if (theta < 0)
		theta = 0;
	if (theta > 1)
		theta = 1;
	for (int k = 0; k < p->k; k++) {
		prob[k * p->j + arm_hi[k]] += 1 - theta;
		prob[k * p->j + arm_lo[k]] += theta;
	}
	*res = (bd_solver_result_t){hi, v_hi + theta * (v_lo - v_hi),
				    c_hi + theta * (c_lo - c_hi)};
	return 0;
}
