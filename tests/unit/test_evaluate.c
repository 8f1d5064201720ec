/* evaluate.c: EOM and AUCC on hand-computed cases, and AUCC's ~0.5 for a
 * random ranking against more for an informed one. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "budgetd/base/hash.h"
#include "budgetd/lab/evaluate.h"

/* Four users, control and one coupon, arm shares 1/2:
 *   user 0: coupon, r 10, c 2; treat iff lambda < 4
 *   user 1: control, r 3;      treat iff lambda < 1
 *   user 2: coupon, r 4, c 2;  treat iff lambda < 1
 *   user 3: control, r 6;      treat iff lambda < 0.5 */
static const int T4[4] = {1, 0, 1, 0};
static const double P4[4] = {0.5, 0.5, 0.5, 0.5}, R4[4] = {10, 3, 4, 6}, C4[4] = {2, 0, 2, 0};
static const double RH4[8] = {1, 5, 2, 3, 1, 2, 6, 7}, CH4[8] = {0, 1, 0, 1, 0, 1, 0, 2};

static void test_eom_by_hand(void **state)
{
	bd_rct_t d = {4, 2, T4, P4, R4, C4, RH4, CH4};
	bd_eom_t e;
	(void)state;
	/* lambda 0: everyone treated; users 0 and 2 match: (20 + 8) / 4 */
	assert_int_equal(bd_eval_eom_at(&d, 0, 0, &e), 0);
	assert_true(fabs(e.value - 7) < 1e-12 && fabs(e.cost - 2) < 1e-12);
	/* lambda 2: only user 0 treated; users 0, 1, 3 match: (20 + 6 + 12) / 4 */
	assert_int_equal(bd_eval_eom_at(&d, 2, 0, &e), 0);
	assert_true(fabs(e.value - 9.5) < 1e-12 && fabs(e.cost - 1) < 1e-12);
	/* Hajek: divided by the matched weight 2 + 2 + 2 */
	assert_int_equal(bd_eval_eom_at(&d, 2, 1, &e), 0);
	assert_true(fabs(e.value - 38.0 / 6) < 1e-12 && fabs(e.cost - 4.0 / 6) < 1e-12);
	/* lambda 5: nobody treated: users 1 and 3 */
	assert_int_equal(bd_eval_eom_at(&d, 5, 0, &e), 0);
	assert_true(fabs(e.value - 4.5) < 1e-12 && e.cost == 0);
	/* budget 1.5 per capita: lambda 0.5..1 still costs 2, from 1 on 1 */
	assert_int_equal(bd_eval_eom(&d, 1.5, 0, &e), 0);
	assert_true(fabs(e.lambda - 1) < 1e-9 && fabs(e.value - 9.5) < 1e-12 && e.cost <= 1.5);
	/* a budget the value-maximising policy fits: lambda 0 */
	assert_int_equal(bd_eval_eom(&d, 5, 0, &e), 0);
	assert_true(e.lambda == 0 && e.value == 7);
	/* bad input */
	int bad_t[4] = {1, 0, 2, 0};
	bd_rct_t b = d;
	b.t = bad_t;
	assert_int_equal(bd_eval_eom_at(&b, 0, 0, &e), BD_EINVAL);
}

static void test_aucc_by_hand(void **state)
{
	/* ranked by predicted ROI 3, 2, 1, 0.5: treated a, control b, treated
	 * c, control d; N_t = N_0 = 2.  (dC, dR) along the ranking: (0.5, 2),
	 * (0.5, 1.5), (1, 2), (1, 1.5); at costs 0, 0.5, 1: 0, 2, 2; R = 1.5 */
	const int t[4] = {1, 0, 1, 0};
	const double p[4] = {0.5, 0.5, 0.5, 0.5}, r[4] = {4, 1, 1, 1}, c[4] = {1, 0, 1, 0};
	const double rh[8] = {0, 3, 0, 2, 0, 1, 0, 0.5}, ch[8] = {0, 1, 0, 1, 0, 1, 0, 1};
	bd_rct_t d = {4, 2, t, p, r, c, rh, ch};
	double a;
	(void)state;
	assert_int_equal(bd_eval_aucc(&d, 1, 2, &a), 0);
	assert_true(fabs(a - 4.0 / (1.5 * 3)) < 1e-12);
	assert_int_equal(bd_eval_aucc(&d, 0, 2, &a), BD_EINVAL); /* arm 0 is control */
	assert_int_equal(bd_eval_aucc(&d, 1, 0, &a), BD_EINVAL);
}

/* A large RCT where a user's true ROI is known: ranking by it beats 0.5,
 * a random ranking lands near 0.5, the reversed one below. */
static void test_aucc_random_vs_informed(void **state)
{
	const int n = 40000;
	int *t = malloc(sizeof(int) * n);
	double *p = malloc(sizeof(double) * n), *r = malloc(sizeof(double) * n),
	       *c = malloc(sizeof(double) * n), *rh = malloc(sizeof(double) * n * 2),
	       *ch = malloc(sizeof(double) * n * 2);
	uint64_t s = 3;
	(void)state;
	for (int pass = 0; pass < 3; pass++) {
		s = 3;
		for (int i = 0; i < n; i++) {
			double roi = 3 * bd_hash_unit(bd_hash_next(&s)); /* true value per cost */
			double cost = 0.5 + bd_hash_unit(bd_hash_next(&s));
			double base = 2 * bd_hash_unit(bd_hash_next(&s));
			t[i] = bd_hash_next(&s) & 1;
			p[i] = 0.5;
			c[i] = t[i] ? cost : 0;
			r[i] = base + (t[i] ? roi * cost : 0);
			double score = pass == 0   ? roi
				       : pass == 1 ? bd_hash_unit(bd_hash_next(&s))
						   : -roi;
			rh[2 * i] = 0;
			rh[2 * i + 1] = score;
			ch[2 * i] = 0;
			ch[2 * i + 1] = 1;
		}
		bd_rct_t d = {n, 2, t, p, r, c, rh, ch};
		double a;
		assert_int_equal(bd_eval_aucc(&d, 1, 100, &a), 0);
		print_message("AUCC %s: %.3f\n", pass == 0 ? "true ROI" : pass == 1 ? "random" : "reversed", a);
		if (pass == 0)
			assert_true(a > 0.6);
		else if (pass == 1)
			assert_true(fabs(a - 0.5) < 0.05);
		else
			assert_true(a < 0.4);
	}
	free(t);
	free(p);
	free(r);
	free(c);
	free(rh);
	free(ch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eom_by_hand),
		cmocka_unit_test(test_aucc_by_hand),
		cmocka_unit_test(test_aucc_random_vs_informed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
