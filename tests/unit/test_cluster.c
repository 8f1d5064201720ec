/* cluster.c: the initial assignment and the feature effects (the solver has
 * tests/unit/test_solver.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/wire/cluster.h"
#include "budgetd/base/hash.h"

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

/* Feature effects on a linear model whose answer is known: cluster 0
 * scores 2 x0, cluster 1 scores x1, cluster 2 scores -x1; x2 moves none.
 * One scale unit up in x0 raises cluster 0 by 2 over the others' mean (0);
 * in x1 raises cluster 1 by 1 - (0 - 1) / 2 = 1.5, lowers cluster 2 by
 * -1 - (0 + 1) / 2 = -1.5, and cluster 0's 0 - (1 - 1) / 2 = 0.  The scale
 * does not enter: effects are per scale unit. */
static void test_feature_effects(void **state)
{
	bd_cluster_model_t *m;
	int sizes[] = {3, 3};
	bd_activation_t acts[] = {BD_ACT_NONE};
	double eff[9];
	(void)state;
	assert_int_equal(bd_cluster_model_new(1, sizes, acts, &m), 0);
	double w[9] = {2, 0, 0, 0, 1, 0, 0, -1, 0};
	memcpy(m->layer[0].w, w, sizeof(w));
	m->layer[0].b[1] = 5; /* a bias moves a score, not an effect */
	for (int i = 0; i < 3; i++) {
		m->mean[i] = 10;
		m->scale[i] = 4;
	}
	assert_int_equal(bd_cluster_feature_effects(m, eff), 0);
	double want[9] = {2, 0, 0, -1, 1.5, 0, -1, -1.5, 0};
	for (int i = 0; i < 9; i++)
		assert_true(fabs(eff[i] - want[i]) < 1e-12);
	bd_cluster_model_unref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_assignment),
		cmocka_unit_test(test_feature_effects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
