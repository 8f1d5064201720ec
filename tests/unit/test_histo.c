/* histo.c: the latency histograms of /metrics (Prometheus' cumulative
 * "le" buckets, _sum, _count). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/base/histo.h"

static bd_histo_snap_t snap_of(const bd_histo_t *h)
{
	bd_histo_snap_t s;
	memset(&s, 0, sizeof(s));
	bd_histo_add_to(h, &s);
	return s;
}

/* "le": a duration equal to a bound counts in that bound's bucket, one a
 * little above it in the next; beyond the last bound, +Inf. */
static void test_bucket_edges(void **state)
{
	(void)state;
	for (int i = 0; i < BD_HISTO_BUCKETS; i++) {
		bd_histo_t h = {0};
		bd_histo_observe(&h, bd_histo_bounds[i]);
		bd_histo_observe(&h, nextafter(bd_histo_bounds[i], INFINITY));
		bd_histo_snap_t s = snap_of(&h);
		for (int j = 0; j <= BD_HISTO_BUCKETS; j++)
			assert_int_equal(s.bucket[j], (uint64_t)(j == i) + (j == i + 1));
	}
	for (int i = 1; i < BD_HISTO_BUCKETS; i++)
		assert_true(bd_histo_bounds[i] > bd_histo_bounds[i - 1]);
}

/* A clock step backwards or NaN counts as 0 s: in the first bucket, adding
 * nothing to the sum.  A duration too long to be real (a producer's clock
 * decades off, +Inf) counts in +Inf and can never wrap the sum. */
static void test_odd_durations(void **state)
{
	bd_histo_t h = {0};
	(void)state;
	bd_histo_observe(&h, -3.0);
	bd_histo_observe(&h, NAN);
	bd_histo_observe(&h, 0.0000004); /* below a microsecond */
	bd_histo_snap_t s = snap_of(&h);
	assert_int_equal(s.bucket[0], 3);
	assert_true(s.sum_s == 0);

	/* one at a time: two wrapped additions could cancel out */
	static const double huge[] = {INFINITY, 1e300, 1e16};
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		bd_histo_t g = {0};
		bd_histo_observe(&g, 2.0);
		bd_histo_observe(&g, huge[i]);
		s = snap_of(&g);
		assert_int_equal(s.bucket[BD_HISTO_BUCKETS], 1);
		if (!(s.sum_s >= 2.0 && s.sum_s <= 2.0 + BD_HISTO_MAX_S))
			fail_msg("observing %g s made the sum %g s", huge[i], s.sum_s);
	}
}

/* add_to adds: the daemon merges its workers' histograms into one. */
static void test_merge(void **state)
{
	bd_histo_t a = {0}, b = {0};
	bd_histo_snap_t s;
	(void)state;
	bd_histo_observe(&a, 0.002);
	bd_histo_observe(&a, 0.25);
	bd_histo_observe(&b, 0.002);
	bd_histo_observe(&b, 100);
	memset(&s, 0, sizeof(s));
	bd_histo_add_to(&a, &s);
	bd_histo_add_to(&b, &s);
	assert_int_equal(s.bucket[1], 2); /* le 0.0025 */
	assert_int_equal(s.bucket[7], 1); /* le 0.25 */
	assert_int_equal(s.bucket[BD_HISTO_BUCKETS], 1);
	assert_true(fabs(s.sum_s - 100.254) < 1e-9);
}

/* The text format, byte for byte: cumulative buckets, +Inf equal to
 * _count, labels first and le last, braces only with labels. */
static void test_render(void **state)
{
	bd_histo_t h = {0};
	bd_sbuf_t out = BD_SBUF_INIT;
	(void)state;
	bd_histo_observe(&h, 0.0005);
	bd_histo_observe(&h, 0.003);
	bd_histo_observe(&h, 0.003);
	bd_histo_observe(&h, 45);
	bd_histo_snap_t s = snap_of(&h);
	bd_histo_render(&s, "x_seconds", NULL, &out);
	bd_histo_render(&s, "y_seconds", "topic=\"t\"", &out);
	assert_false(bd_sbuf_failed(&out));
	const char *want =
		"x_seconds_bucket{le=\"0.001\"} 1\n"
		"x_seconds_bucket{le=\"0.0025\"} 1\n"
		"x_seconds_bucket{le=\"0.005\"} 3\n"
		"x_seconds_bucket{le=\"0.01\"} 3\n"
		"x_seconds_bucket{le=\"0.025\"} 3\n"
		"x_seconds_bucket{le=\"0.05\"} 3\n"
		"x_seconds_bucket{le=\"0.1\"} 3\n"
		"x_seconds_bucket{le=\"0.25\"} 3\n"
		"x_seconds_bucket{le=\"0.5\"} 3\n"
		"x_seconds_bucket{le=\"1\"} 3\n"
		"x_seconds_bucket{le=\"2.5\"} 3\n"
		"x_seconds_bucket{le=\"5\"} 3\n"
		"x_seconds_bucket{le=\"10\"} 3\n"
		"x_seconds_bucket{le=\"30\"} 3\n"
		"x_seconds_bucket{le=\"+Inf\"} 4\n"
		"x_seconds_sum 45.006500\n"
		"x_seconds_count 4\n";
	assert_memory_equal(out.s, want, strlen(want));
	const char *tail = out.s + strlen(want);
	assert_non_null(strstr(tail, "y_seconds_bucket{topic=\"t\",le=\"0.001\"} 1\n"));
	assert_non_null(strstr(tail, "y_seconds_bucket{topic=\"t\",le=\"+Inf\"} 4\n"));
	assert_non_null(strstr(tail, "y_seconds_sum{topic=\"t\"} 45.006500\n"));
	assert_non_null(strstr(tail, "y_seconds_count{topic=\"t\"} 4\n"));
	bd_sbuf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_edges),
		cmocka_unit_test(test_odd_durations),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
