/* promote.c: a candidate that clusters users on what moves them beats one
 * that does not, whichever is deciding, under uniform and under
 * plan-shaped logging; a candidate that only fits noise does not look
 * better (its cells are valued on samples they were not estimated on). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/learn/promote.h"

#define N 40000
#define DIM 2

static float x[N * DIM];
static int t[N];
static double p[N], value[N], cost[N];

static double unif(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(*s >> 11) / 9007199254740992.0;
}

static double gauss(uint64_t *s)
{
	double u = unif(s), v = unif(s);
	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* x uniform on [-1, 1]^2; the coupon (t = 1) costs 1 and buys @p uplift
 * value for users with x0 > 0, nothing for the others; value is noisy.
 * @p biased: the coupon goes to x0 > 0 with probability 0.9 and to the
 * others with 0.1 (a plan on the right clusters), else 0.5. */
static bd_promote_data_t world(uint64_t seed, double uplift, double noise, int biased)
{
	uint64_t s = seed;
	for (int i = 0; i < N; i++) {
		x[i * DIM] = (float)(2 * unif(&s) - 1);
		x[i * DIM + 1] = (float)(2 * unif(&s) - 1);
		double q = biased ? (x[i * DIM] > 0 ? 0.9 : 0.1) : 0.5;
		t[i] = unif(&s) < q;
		p[i] = t[i] ? q : 1 - q;
		cost[i] = t[i];
		value[i] = 10 + (t[i] && x[i * DIM] > 0 ? uplift : 0) + noise * gauss(&s);
	}
	return (bd_promote_data_t){N, DIM, 2, x, t, p, value, cost};
}

/* K clusters: the argmax of K linear scores w_k . x (normalisation 0/1). */
static bd_cluster_model_t *model(int k, const double *w)
{
	int sizes[2] = {DIM, k};
	bd_activation_t acts[] = {BD_ACT_NONE};
	bd_cluster_model_t *m = NULL;
	assert_int_equal(bd_cluster_model_new(1, sizes, acts, &m), 0);
	memcpy(m->layer[0].w, w, sizeof(double) * (size_t)k * DIM);
	return m;
}

static bd_cluster_model_t *by_x0(void)
{
	const double w[] = {1, 0, -1, 0};
	return model(2, w);
}

static bd_cluster_model_t *by_x1(void)
{
	const double w[] = {0, 1, 0, -1};
	return model(2, w);
}

static void test_better_clusters_win(void **state)
{
	bd_cluster_model_t *good = by_x0(), *bad = by_x1();
	bd_promote_result_t r;
	(void)state;
	for (int biased = 0; biased < 2; biased++) {
		bd_promote_data_t d = world(7 + biased, 3, 2, biased);
		assert_int_equal(bd_promote_compare(bad, good, &d, 50, &r), 0);
		assert_int_equal(r.n, N);
		if (!(r.diff > 3 * r.se))
			fail_msg("biased %d: the right clusters gain %.4f (se %.4f)", biased, r.diff,
				 r.se);
		assert_int_equal(bd_promote_compare(good, bad, &d, 50, &r), 0);
		if (!(r.diff < -3 * r.se))
			fail_msg("biased %d: the wrong clusters gain %.4f (se %.4f)", biased, r.diff,
				 r.se);
		/* the same model: nothing to tell apart */
		assert_int_equal(bd_promote_compare(good, good, &d, 50, &r), 0);
		assert_true(r.diff == 0 && r.se == 0 && r.cur == r.cand);
	}
	bd_cluster_model_unref(good);
	bd_cluster_model_unref(bad);
}

static void test_noise_is_not_a_gain(void **state)
{
	/* no coupon moves anyone; 64 angular sectors fit the noise of their
	 * cells, which a plan valued on its own samples would credit */
	double w[64 * DIM];
	for (int k = 0; k < 64; k++) {
		w[k * DIM] = cos(2 * M_PI * k / 64);
		w[k * DIM + 1] = sin(2 * M_PI * k / 64);
	}
	bd_cluster_model_t *cur = by_x0(), *fine = model(64, w);
	bd_promote_result_t r;
	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		bd_promote_data_t d = world(seed, 0, 5, 0);
		assert_int_equal(bd_promote_compare(cur, fine, &d, 0, &r), 0);
		if (!(r.diff < 2.5 * r.se))
			fail_msg("seed %d: noise looks like a gain of %.4f (se %.4f)", (int)seed,
				 r.diff, r.se);
	}
	bd_cluster_model_unref(cur);
	bd_cluster_model_unref(fine);
}

static void test_refuses_bad_input(void **state)
{
	bd_cluster_model_t *m = by_x0();
	bd_promote_result_t r;
	bd_promote_data_t d = world(1, 1, 1, 0);
	(void)state;
	d.dim = 3;
	assert_int_equal(bd_promote_compare(m, m, &d, 50, &r), BD_EINVAL);
	d = world(1, 1, 1, 0);
	for (int i = 0; i < N; i++)
		p[i] = 0; /* no usable propensity */
	assert_int_equal(bd_promote_compare(m, m, &d, 50, &r), BD_EINVAL);
	bd_cluster_model_unref(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_better_clusters_win),
		cmocka_unit_test(test_noise_is_not_a_gain),
		cmocka_unit_test(test_refuses_bad_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
