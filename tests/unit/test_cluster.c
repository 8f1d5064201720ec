/* cluster.c: the initial assignment (the solver has tests/unit/test_solver.c). */
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_assignment),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
