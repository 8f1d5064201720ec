/* robust.c: medians and robust spreads per feature that outliers and heavy
 * tails do not move, the clip, and the clip as model layers that give the
 * same clusters as clipping by hand. */
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
#include "budgetd/learn/robust.h"

static double gauss(uint64_t *s)
{
	double u1 = bd_hash_unit(bd_hash_mix(++*s)), u2 = bd_hash_unit(bd_hash_mix(++*s));
	return sqrt(-2 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
}

enum { N = 20001, D = 5 };

static void near(double got, double want, double rel, const char *what)
{
	if (!(fabs(got - want) <= rel * fabs(want)))
		fail_msg("%s: %g, want %g (+-%g%%)", what, got, want, 100 * rel);
}

static void test_fit(void **state)
{
	static float x[N * D];
	double c[D], s[D];
	uint64_t r = 3;
	(void)state;
	for (int i = 0; i < N; i++) {
		double z = gauss(&r);
		x[i * D + 0] = (float)(3 + 2 * gauss(&r));              /* normal */
		x[i * D + 1] = (float)exp(2 * z);                          /* log-normal */
		x[i * D + 2] = i % 10 == 0;                                /* 90% zeros */
		x[i * D + 3] = 7;                                          /* constant */
		x[i * D + 4] = (float)(1e6 + 1e4 * gauss(&r));             /* raw scale */
	}
	/* outliers on every feature: a hundred users 1e9 away */
	for (int i = 0; i < 100; i++)
		for (int j = 0; j < D; j++)
			x[(i * 97) * D + j] = j == 3 ? 7 : 1e9f;
	assert_int_equal(bd_robust_fit(x, D, NULL, N, c, s), 0);
	near(c[0], 3, 0.02, "median of N(3, 2^2)");
	near(s[0], 2, 0.04, "robust scale of N(3, 2^2)");
	/* log-normal(0, 2): median 1, (q75 - q25) / 1.349 = 2 sinh(2 x 0.674) / 1.349 */
	near(c[1], 1, 0.05, "median of the log-normal");
	near(s[1], 2 * sinh(2 * 0.6745) / 1.349, 0.05, "robust scale of the log-normal");
	/* 90% zeros: no quartile spread; the 10-90% range is 1 */
	assert_true(c[2] == 0);
	near(s[2], 1 / 2.563, 1e-9, "robust scale of a mostly-zero feature");
	assert_true(c[3] == 7 && s[3] == 1);
	near(c[4], 1e6, 1e-3, "median at a raw scale");
	near(s[4], 1e4, 0.04, "robust scale at a raw scale");
	/* the outliers end at the clip, the bulk is untouched */
	assert_true(bd_robust_z(1e9, c[1], s[1], BD_ROBUST_CLIP) == BD_ROBUST_CLIP);
	assert_true(bd_robust_z(-1e9, c[4], s[4], BD_ROBUST_CLIP) == -BD_ROBUST_CLIP);
	assert_true(bd_robust_z(5, 3, 2, BD_ROBUST_CLIP) == 1);
	assert_true(bd_robust_z(1e9, 3, 2, 0) == (1e9 - 3) / 2);
	/* chosen rows only; none is an error */
	int rows[3] = {1, 2, 3};
	assert_int_equal(bd_robust_fit(x, D, rows, 3, c, s), 0);
	float a = x[1 * D], b = x[2 * D], e = x[3 * D];
	float mid = a > b ? (b > e ? b : a > e ? e : a) : (a > e ? a : b > e ? e : b);
	assert_true(c[0] == mid);
	assert_int_equal(bd_robust_fit(x, D, rows, 0, c, s), BD_EINVAL);
}

/* A random 2-layer model clipped by layers assigns every input as the same
 * model applied to the clipped normalised input by hand. */
static void test_clip_layers(void **state)
{
	int sizes[3] = {D, 7, 4};
	bd_activation_t acts[2] = {BD_ACT_RELU, BD_ACT_NONE};
	bd_cluster_model_t *m, *c, *hand;
	uint64_t r = 11;
	(void)state;
	assert_int_equal(bd_cluster_model_new(2, sizes, acts, &m), 0);
	assert_int_equal(bd_cluster_model_new(2, sizes, acts, &hand), 0);
	for (int l = 0; l < 2; l++)
		for (int i = 0; i < m->layer[l].rows; i++) {
			m->layer[l].b[i] = hand->layer[l].b[i] = gauss(&r);
			for (int j = 0; j < m->layer[l].cols; j++)
				m->layer[l].w[i * m->layer[l].cols + j] =
					hand->layer[l].w[i * m->layer[l].cols + j] = gauss(&r);
		}
	for (int j = 0; j < D; j++) {
		m->mean[j] = j - 2.0;
		m->scale[j] = 0.5 + j;
	}
	m->version = 9;
	m->kind = "mlp";
	assert_int_equal(bd_robust_clip_layers(m, 1.5, &c), 0);
	assert_int_equal(c->n_layers, 3);
	assert_int_equal(c->layer[0].rows, 2 * D);
	assert_true(c->version == 9 && c->k == 4 && c->dim == D);
	int differ = 0, clipped = 0;
	for (int i = 0; i < 20000; i++) {
		float x[D], z[D];
		for (int j = 0; j < D; j++) {
			/* heavy tails: every so often far outside the clip */
			x[j] = (float)(gauss(&r) * (i % 3 ? 3 : 1e4));
			double zz = bd_robust_z(x[j], m->mean[j], m->scale[j], 1.5);
			clipped += fabs(zz) == 1.5;
			z[j] = (float)zz; /* hand's normalisation is 0 / 1 */
		}
		differ += bd_cluster_assign(c, x) != bd_cluster_assign(hand, z);
	}
	assert_true(clipped > 10000);
	if (differ)
		fail_msg("%d of 20000 inputs get another cluster from the clip layers", differ);
	/* one layer too many, or no clip, is refused */
	bd_cluster_model_t *cc;
	assert_int_equal(bd_robust_clip_layers(m, 0, &cc), BD_EINVAL);
	int big[5] = {D, 3, 3, 3, 4};
	bd_activation_t a4[4] = {BD_ACT_RELU, BD_ACT_RELU, BD_ACT_RELU, BD_ACT_NONE};
	bd_cluster_model_t *m4;
	assert_int_equal(bd_cluster_model_new(4, big, a4, &m4), 0);
	assert_int_equal(bd_robust_clip_layers(m4, 1, &cc), BD_EINVAL);
	bd_cluster_model_unref(m4);
	bd_cluster_model_unref(m);
	bd_cluster_model_unref(hand);
	bd_cluster_model_unref(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_clip_layers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
