/* cluster.c (the initial assignment) and solver.c (the budget split). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/cluster.h"
#include "budgetd/hash.h"
#include "budgetd/solver.h"

static double gauss(uint64_t *s)
{
	double u1 = bd_hash_unit(bd_hash_mix(++*s)), u2 = bd_hash_unit(bd_hash_mix(++*s));
	return sqrt(-2 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
}

static void test_initial_assignment(void **state)
{
	bd_cluster_model_t *a, *b;
	int used[8] = {0};
	uint64_t s = 1;
	float x[12];
	(void)state;
	assert_int_equal(bd_cluster_model_initial(12, 8, &a), 0);
	assert_int_equal(bd_cluster_model_initial(12, 8, &b), 0);
	for (int i = 0; i < 10000; i++) {
		for (int j = 0; j < 12; j++)
			x[j] = (float)gauss(&s);
		int k = bd_cluster_assign(a, x);
		assert_in_range(k, 0, 7);
		assert_int_equal(k, bd_cluster_assign(b, x));
		used[k]++;
	}
	for (int k = 0; k < 8; k++)
		assert_true(used[k] > 300); /* every cluster gets users */
	/* scaling a vector does not move it: the assignment is by direction */
	for (int j = 0; j < 12; j++)
		x[j] *= 3;
	int k3 = bd_cluster_assign(a, x);
	for (int j = 0; j < 12; j++)
		x[j] /= 3;
	assert_int_equal(k3, bd_cluster_assign(a, x));
	bd_cluster_model_unref(bd_cluster_model_ref(a));
	bd_cluster_model_unref(a);
	bd_cluster_model_unref(b);
}

/* The LP optimum of a K=2 instance: the best feasible mixture of two pure
 * assignments (a vertex of the LP mixes at most one cluster's two arms). */
static double brute_lp(const bd_solver_problem_t *p, double budget)
{
	int J = p->j, n = J * J;
	double best = -INFINITY;
	for (int a = 0; a < n; a++)
		for (int b = 0; b < n; b++) {
			double va = 0, ca = 0, vb = 0, cb = 0;
			int A[2] = {a % J, a / J}, B[2] = {b % J, b / J};
			for (int k = 0; k < 2; k++) {
				va += p->share[k] * p->r[k * J + A[k]];
				ca += p->share[k] * p->c[k * J + A[k]];
				vb += p->share[k] * p->r[k * J + B[k]];
				cb += p->share[k] * p->c[k * J + B[k]];
			}
			if (ca <= budget && va > best)
				best = va;
			if (ca > budget && cb < budget) {
				double th = (budget - cb) / (ca - cb), v = th * va + (1 - th) * vb;
				if (v > best)
					best = v;
			}
		}
	return best;
}

static void test_solver_matches_brute_force(void **state)
{
	uint64_t s = 77;
	(void)state;
	for (int trial = 0; trial < 300; trial++) {
		double share[2], r[6], c[6], prob[6];
		share[0] = 0.2 + 0.6 * bd_hash_unit(bd_hash_mix(++s));
		share[1] = 1 - share[0];
		for (int k = 0; k < 2; k++)
			for (int t = 0; t < 3; t++) {
				r[k * 3 + t] = 1 + 2 * bd_hash_unit(bd_hash_mix(++s));
				c[k * 3 + t] = t == 0 ? 0 : 3 * bd_hash_unit(bd_hash_mix(++s));
			}
		bd_solver_problem_t p = {2, 3, share, r, c};
		double maxc = bd_solver_max_cost(&p);
		double budget = maxc * bd_hash_unit(bd_hash_mix(++s));
		bd_solver_result_t res;
		assert_int_equal(bd_solver_lagrange(&p, budget, prob, &res), 0);
		double v = 0, cost = 0;
		for (int k = 0; k < 2; k++) {
			double sum = 0;
			for (int t = 0; t < 3; t++) {
				assert_true(prob[k * 3 + t] >= -1e-12);
				sum += prob[k * 3 + t];
				v += share[k] * prob[k * 3 + t] * r[k * 3 + t];
				cost += share[k] * prob[k * 3 + t] * c[k * 3 + t];
			}
			assert_true(fabs(sum - 1) < 1e-9);
		}
		assert_true(cost <= budget + 1e-9);
		assert_true(fabs(v - res.value) < 1e-9 && fabs(cost - res.cost) < 1e-9);
		double opt = brute_lp(&p, budget);
		if (fabs(v - opt) > 1e-6 * fabs(opt))
			fail_msg("trial %d: solver %.12g, LP optimum %.12g", trial, v, opt);
	}
}

static void test_solver_edges(void **state)
{
	double share[1] = {1}, r[3] = {1, 2, 3}, c[3] = {0, 1, 2}, prob[3];
	bd_solver_problem_t p = {1, 3, share, r, c};
	bd_solver_result_t res;
	(void)state;
	assert_int_equal(bd_solver_lagrange(&p, 10, prob, &res), 0); /* budget not binding */
	assert_true(prob[2] == 1 && res.lambda == 0 && res.value == 3);
	assert_int_equal(bd_solver_lagrange(&p, 0, prob, &res), 0); /* nothing to spend */
	assert_true(res.cost <= 1e-12 && prob[0] > 0.999999);
	assert_int_equal(bd_solver_lagrange(&p, 1.5, prob, &res), 0); /* between arms */
	assert_true(fabs(res.cost - 1.5) < 1e-9 && fabs(res.value - 2.5) < 1e-9);
	p.k = 0;
	assert_int_equal(bd_solver_lagrange(&p, 1, prob, &res), BD_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_assignment),
		cmocka_unit_test(test_solver_matches_brute_force),
		cmocka_unit_test(test_solver_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
