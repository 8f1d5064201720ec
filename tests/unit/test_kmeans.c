/* kmeans.c: recovers separated blobs, deterministic, no empty clusters, and
 * a floor on cluster sizes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/base/hash.h"
#include "budgetd/learn/kmeans.h"

static double gauss(uint64_t *s)
{
	double u1 = bd_hash_unit(bd_hash_mix(++*s)), u2 = bd_hash_unit(bd_hash_mix(++*s));
	return sqrt(-2 * log(u1 + 1e-300)) * cos(2 * M_PI * u2);
}

enum { N = 6000, D = 4, K = 6 };
static double x[N * D];
static int truth[N];

static void blobs(void)
{
	uint64_t s = 9;
	for (int i = 0; i < N; i++) {
		truth[i] = i % K;
		for (int j = 0; j < D; j++)
			x[i * D + j] = 10.0 * ((truth[i] >> (j % 3)) & 1) + 3.0 * (truth[i] == 5 && j == 3) +
				       0.3 * gauss(&s);
	}
}

static double purity(const int *labels)
{
	int table[K][K] = {{0}}, hit = 0;
	for (int i = 0; i < N; i++)
		table[labels[i]][truth[i]]++;
	for (int c = 0; c < K; c++) {
		int best = 0;
		for (int t = 0; t < K; t++)
			best = table[c][t] > best ? table[c][t] : best;
		hit += best;
	}
	return (double)hit / N;
}

static void test_blobs(void **state)
{
	bd_kmeans_params_t p;
	bd_kmeans_result_t a, b, mb;
	int labels[N];
	double in;
	(void)state;
	blobs();
	bd_kmeans_params_default(&p);
	p.k = K;
	assert_int_equal(bd_kmeans_fit(x, N, D, &p, &a), 0);
	assert_int_equal(bd_kmeans_assign_all(&a, x, N, labels, &in), 0);
	if (purity(labels) < 0.99)
		fail_msg("purity %.4f", purity(labels));
	assert_true(fabs(in - a.inertia) < 1e-6 * in);
	for (int c = 0; c < K; c++)
		assert_in_range(a.sizes[c], 900, 1100);
	assert_int_equal(bd_kmeans_assign(&a, x), labels[0]);
	/* deterministic for a seed */
	assert_int_equal(bd_kmeans_fit(x, N, D, &p, &b), 0);
	assert_memory_equal(a.centroids, b.centroids, sizeof(double) * K * D);
	/* mini-batch lands close to Lloyd */
	p.batch = 256;
	p.max_iter = 100;
	assert_int_equal(bd_kmeans_fit(x, N, D, &p, &mb), 0);
	if (mb.inertia > 1.05 * a.inertia)
		fail_msg("mini-batch inertia %.4g vs Lloyd %.4g", mb.inertia, a.inertia);
	bd_kmeans_result_free(&a);
	bd_kmeans_result_free(&b);
	bd_kmeans_result_free(&mb);
}

static void test_no_empty_clusters(void **state)
{
	bd_kmeans_params_t p;
	bd_kmeans_result_t r;
	static double same[500 * 2];
	(void)state;
	bd_kmeans_params_default(&p);
	/* three tight blobs, asked for 8 clusters: every cluster gets points */
	blobs();
	p.k = 8;
	p.min_size = 20;
	assert_int_equal(bd_kmeans_fit(x, 600, D, &p, &r), 0);
	for (int c = 0; c < 8; c++)
		assert_true(r.sizes[c] >= 1);
	bd_kmeans_result_free(&r);
	/* all points identical: no NaN, sizes add up */
	for (int i = 0; i < 1000; i++)
		same[i] = 1.5;
	p.k = 3;
	p.min_size = 1;
	assert_int_equal(bd_kmeans_fit(same, 500, 2, &p, &r), 0);
	int total = 0;
	for (int c = 0; c < 3; c++) {
		total += r.sizes[c];
		assert_false(isnan(r.centroids[c * 2]));
	}
	assert_int_equal(total, 500);
	assert_true(r.inertia == 0);
	bd_kmeans_result_free(&r);
	p.k = 600;
	assert_int_equal(bd_kmeans_fit(same, 500, 2, &p, &r), BD_EINVAL);
	p.k = 1;
	assert_int_equal(bd_kmeans_fit(x, N, D, &p, &r), 0);
	assert_int_equal(r.sizes[0], N);
	bd_kmeans_result_free(&r);
}

/* A far, tight handful of rows gets its own cluster from k-means; with a
 * floor every cluster holds at least that many rows, deterministically. */
static void test_floor(void **state)
{
	enum { M = N + 5 };
	static double y[M * D];
	bd_kmeans_params_t p;
	bd_kmeans_result_t r;
	int labels[M], again[M], sizes[K + 1];
	(void)state;
	blobs();
	memcpy(y, x, sizeof(x));
	for (int i = N; i < M; i++)
		for (int j = 0; j < D; j++)
			y[i * D + j] = 1000.0 + i - N;
	bd_kmeans_params_default(&p);
	p.k = K + 1;
	assert_int_equal(bd_kmeans_fit(y, M, D, &p, &r), 0);
	assert_int_equal(bd_kmeans_assign_all(&r, y, M, labels, NULL), 0);
	int tiny = 0;
	for (int c = 0; c < K + 1; c++)
		tiny |= r.sizes[c] <= 5;
	assert_true(tiny); /* the handful is a cluster of its own */
	int moved = bd_kmeans_enforce_min(&r, y, M, 200, labels);
	memset(sizes, 0, sizeof(sizes));
	for (int i = 0; i < M; i++) {
		assert_true(labels[i] >= 0 && labels[i] < K + 1);
		sizes[labels[i]]++;
	}
	for (int c = 0; c < K + 1; c++) {
		if (sizes[c] < 200)
			fail_msg("cluster %d holds %d rows after the floor of 200", c, sizes[c]);
		assert_int_equal(sizes[c], r.sizes[c]);
	}
	assert_true(moved >= 1);
	bd_kmeans_result_free(&r);
	/* the same again: the same labels */
	assert_int_equal(bd_kmeans_fit(y, M, D, &p, &r), 0);
	assert_int_equal(bd_kmeans_assign_all(&r, y, M, again, NULL), 0);
	assert_int_equal(bd_kmeans_enforce_min(&r, y, M, 200, again), moved);
	assert_memory_equal(labels, again, sizeof(labels));
	/* a floor above n / 2k is lowered to it: still no tiny cluster */
	assert_true(bd_kmeans_enforce_min(&r, y, M, M, again) >= 0);
	memset(sizes, 0, sizeof(sizes));
	for (int i = 0; i < M; i++)
		sizes[again[i]]++;
	for (int c = 0; c < K + 1; c++)
		assert_true(sizes[c] >= M / (2 * (K + 1)));
	bd_kmeans_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blobs),
		cmocka_unit_test(test_no_empty_clusters),
		cmocka_unit_test(test_floor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
