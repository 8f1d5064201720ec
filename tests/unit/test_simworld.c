/* Unit tests of the world simulator's model (lab/simworld.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/lab/simworld.h"

static bd_sim_world_t *make_world(uint64_t seed, int users, int T)
{
	bd_sim_params_t p;
	bd_sim_world_t *w = NULL;
	bd_sim_params_default(&p);
	p.seed = seed;
	p.n_users = users;
	if (T == 3) {
		char err[128];
		assert_int_equal(bd_sim_params_set(&p, "coupons", "0,4,8", err, sizeof(err)), 0);
	}
	assert_int_equal(bd_sim_world_new(&p, &w), 0);
	assert_non_null(w);
	return w;
}

static const int families[] = {BD_SIM_WORLD_DEFAULT, BD_SIM_WORLD_SMOOTH, BD_SIM_WORLD_SPARSE};
#define N_FAMILIES ((int)(sizeof(families) / sizeof(families[0])))

/* A world of @p family at its own defaults (coupons, segments, delays). */
static bd_sim_world_t *make_family(int family, uint64_t seed, int users)
{
	bd_sim_params_t p;
	bd_sim_world_t *w = NULL;
	bd_sim_params_default(&p);
	assert_int_equal(bd_sim_params_family(&p, family), 0);
	p.seed = seed;
	p.n_users = users;
	assert_int_equal(bd_sim_world_new(&p, &w), 0);
	assert_non_null(w);
	return w;
}

/* ---- parameters ------------------------------------------------------ */

static void test_params(void **state)
{
	bd_sim_params_t p, q;
	char err[256];
	(void)state;

	bd_sim_params_default(&p);
	assert_int_equal(p.n_users, 100000);
	assert_int_equal(p.n_segments, 8);
	assert_int_equal(p.dim, 12);
	assert_int_equal(p.n_treatments, 4);
	assert_true(p.coupon[0] == 0 && p.coupon[1] == 2 && p.coupon[2] == 4 && p.coupon[3] == 8);
	assert_true(p.feature_noise == 0.3 && p.label_noise == 0 && p.heavy_tail == 0);
	assert_true(p.individual_sd == 0.25 && p.mean_delay_s == 1800 && p.day_seconds == 86400);
	assert_int_equal(bd_sim_params_validate(&p, err, sizeof(err)), 0);

	assert_int_equal(bd_sim_params_set(&p, "users", "1000", err, sizeof(err)), 0);
	assert_int_equal(p.n_users, 1000);
	assert_int_equal(bd_sim_params_set(&p, "seed", "0x10", err, sizeof(err)), 0);
	assert_true(p.seed == 16);
	assert_int_equal(bd_sim_params_set(&p, "label_noise", "0.2", err, sizeof(err)), 0);
	assert_true(p.label_noise == 0.2);

	q = p;
	assert_int_equal(bd_sim_params_set(&p, "bogus", "1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown simulator knob 'bogus'"));
	assert_int_equal(bd_sim_params_set(&p, "users", "0", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "users: 0 is out of range"));
	assert_int_equal(bd_sim_params_set(&p, "users", "12x", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not an integer"));
	assert_int_equal(bd_sim_params_set(&p, "label_noise", "1.5", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "label_noise: 1.5 is out of range [0, 1]"));
	assert_int_equal(bd_sim_params_set(&p, "feature_noise", "nan", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a finite number"));
	assert_int_equal(bd_sim_params_set(&p, "seed", "-1", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "seed"));
	assert_int_equal(bd_sim_params_set(&p, "coupons", "1,2", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "must be 0"));
	assert_int_equal(bd_sim_params_set(&p, "coupons", "0,2,x", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "comma-separated"));
	assert_int_equal(bd_sim_params_set(&p, "coupons", "0", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "at least 2"));
	assert_int_equal(bd_sim_params_set(&p, "coupons", "0,-1", err, sizeof(err)), -EINVAL);
	assert_int_equal(bd_sim_params_set(&p, "treatments", "17", err, sizeof(err)), -EINVAL);
	assert_int_equal(bd_sim_params_set(&p, "tail_shape", "1", err, sizeof(err)), -EINVAL);
	assert_int_equal(bd_sim_params_set(&p, "day_seconds", "0", err, sizeof(err)), -EINVAL);
	assert_int_equal(bd_sim_params_set(&p, "users", "", NULL, 0), -EINVAL);
	assert_memory_equal(&p, &q, sizeof(p)); /* unchanged by failures */

	assert_int_equal(bd_sim_params_set(&p, "coupons", "0,3,6", err, sizeof(err)), 0);
	assert_int_equal(p.n_treatments, 3);
	assert_true(p.coupon[1] == 3 && p.coupon[2] == 6 && p.coupon[3] == 0);
	assert_int_equal(bd_sim_params_set(&p, "treatments", "5", err, sizeof(err)), 0);
	assert_int_equal(p.n_treatments, 5);
	assert_true(p.coupon[3] == 9 && p.coupon[4] == 12);
	assert_int_equal(bd_sim_params_set(&p, "treatments", "2", err, sizeof(err)), 0);
	assert_true(p.coupon[1] == 3 && p.coupon[2] == 0);

	/* world families: names, their own knobs, the order of -p settings */
	for (int f = 0; f < BD_SIM_WORLD__COUNT; f++)
		assert_int_equal(bd_sim_family_parse(bd_sim_family_name(f)), f);
	assert_null(bd_sim_family_name(BD_SIM_WORLD__COUNT));
	assert_int_equal(bd_sim_family_parse("nope"), -EINVAL);
	q = p;
	assert_int_equal(bd_sim_params_set(&p, "world", "nope", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "unknown family 'nope'"));
	assert_memory_equal(&p, &q, sizeof(p));
	assert_int_equal(bd_sim_params_set(&p, "world", "sparse", err, sizeof(err)), 0);
	assert_int_equal(p.family, BD_SIM_WORLD_SPARSE);
	assert_int_equal(p.n_treatments, 6);
	assert_true(p.coupon[5] == 10 && p.n_segments == 6 && p.mean_delay_s == 2700);
	assert_true(p.seed == q.seed && p.n_users == q.n_users && p.label_noise == q.label_noise);
	assert_int_equal(bd_sim_params_set(&p, "world", "smooth", err, sizeof(err)), 0);
	assert_true(p.family == BD_SIM_WORLD_SMOOTH && p.n_treatments == 5 && p.coupon[4] == 12 &&
		    p.coupon[5] == 0);
	assert_int_equal(bd_sim_params_set(&p, "world", "default", err, sizeof(err)), 0);
	assert_true(p.family == 0 && p.n_treatments == 4 && p.coupon[3] == 8 && p.n_segments == 8);
	{
		const char *kv[] = {"coupons=0,5", "world=sparse", "seed=9"};
		const char *bad[] = {"seed=3", "coupons"};
		bd_sim_params_t r;
		bd_sim_params_default(&r);
		assert_int_equal(bd_sim_params_set_list(&r, kv, 3, err, sizeof(err)), 0);
		assert_true(r.family == BD_SIM_WORLD_SPARSE && r.n_treatments == 2 && r.coupon[1] == 5);
		assert_true(r.seed == 9 && r.n_segments == 6);
		q = r;
		assert_int_equal(bd_sim_params_set_list(&r, bad, 2, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "expected KEY=VALUE"));
		assert_memory_equal(&r, &q, sizeof(r));
		r.family = 7;
		assert_int_equal(bd_sim_params_validate(&r, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "world"));
	}
	bd_sim_params_default(&p);
	p.coupon[0] = 1;
	assert_int_equal(bd_sim_params_validate(&p, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "control"));
	{
		bd_sim_world_t *w = (bd_sim_world_t *)&p;
		assert_int_equal(bd_sim_world_new(&p, &w), -EINVAL);
		assert_null(w);
	}
}

/* ---- determinism and ranges ------------------------------------------ */

static int worlds_equal(const bd_sim_world_t *a, const bd_sim_world_t *b, int n)
{
	int T = bd_sim_n_treatments(a), d = bd_sim_dim(a);
	for (int i = 0; i < n; i++) {
		if (bd_sim_user_segment(a, i) != bd_sim_user_segment(b, i))
			return 0;
		if (memcmp(bd_sim_user_features(a, i), bd_sim_user_features(b, i),
			   sizeof(float) * (size_t)d) != 0)
			return 0;
		for (int t = 0; t < T; t++)
			if (bd_sim_user_ev(a, i, t) != bd_sim_user_ev(b, i, t) ||
			    bd_sim_user_ec(a, i, t) != bd_sim_user_ec(b, i, t) ||
			    bd_sim_user_pconv(a, i, t) != bd_sim_user_pconv(b, i, t))
				return 0;
	}
	return 1;
}

static void test_determinism(void **state)
{
	(void)state;
	for (int f = 0; f < N_FAMILIES; f++) {
		bd_sim_world_t *a = make_family(families[f], 42, 2000);
		bd_sim_world_t *b = make_family(families[f], 42, 2000);
		bd_sim_world_t *c = make_family(families[f], 43, 2000);
		bd_sim_world_t *small = make_family(families[f], 42, 300);
		bd_sim_world_t *other = make_family(families[(f + 1) % N_FAMILIES], 42, 2000);
		int T = bd_sim_n_treatments(a);
		uint64_t r1 = 5, r2 = 5;
		bd_sim_outcome_t o1, o2;

		assert_true(worlds_equal(a, b, 2000));
		assert_false(worlds_equal(a, c, 2000));
		assert_true(worlds_equal(a, small, 300)); /* a prefix of a bigger world */
		if (bd_sim_n_treatments(other) == T)
			assert_false(worlds_equal(a, other, 2000));
		for (int k = 0; k < 1000; k++) {
			bd_sim_outcome(a, k, k % T, &r1, &o1);
			bd_sim_outcome(b, k, k % T, &r2, &o2);
			assert_memory_equal(&o1, &o2, sizeof(o1));
		}
		bd_sim_world_free(a);
		bd_sim_world_free(b);
		bd_sim_world_free(c);
		bd_sim_world_free(small);
		bd_sim_world_free(other);
	}
}

static void check_ranges(int family)
{
	bd_sim_world_t *w = make_family(family, 1, 5000);
	int T = bd_sim_n_treatments(w), S = bd_sim_n_segments(w);
	double share = 0;

	for (int k = 0; k < S; k++) {
		assert_non_null(bd_sim_segment_name(w, k));
		share += bd_sim_segment_share(w, k);
	}
	assert_true(fabs(share - 1) < 1e-9);
	for (int i = 0; i < bd_sim_n_users(w); i++) {
		const float *x = bd_sim_user_features(w, i);
		int s = bd_sim_user_segment(w, i);
		assert_true(s >= 0 && s < S);
		for (int j = 0; j < bd_sim_dim(w); j++)
			assert_true(isfinite(x[j]));
		assert_true(bd_sim_user_ec(w, i, 0) == 0);
		assert_true(bd_sim_user_redeem(w, i) > 0 && bd_sim_user_redeem(w, i) < 1);
		for (int t = 0; t < T; t++) {
			double p = bd_sim_user_pconv(w, i, t), v = bd_sim_user_ev(w, i, t);
			double c = bd_sim_user_ec(w, i, t);
			assert_true(p > 0 && p < 1);
			assert_true(isfinite(v) && v > 0 && isfinite(c) && c >= 0);
			assert_true(fabs(v - p * bd_sim_user_order_value(w, i, t)) <= 1e-9 * v);
			if (t > 0) { /* every family's ladder is increasing */
				assert_true(c > 0);
				if (family != BD_SIM_WORLD_SPARSE) /* sparse: do-not-disturb */
					assert_true(p >= bd_sim_user_pconv(w, i, t - 1));
				assert_true(c > bd_sim_user_ec(w, i, t - 1));
			}
		}
	}
	bd_sim_world_free(w);
}

static void test_ranges(void **state)
{
	(void)state;
	for (int f = 0; f < N_FAMILIES; f++)
		check_ranges(families[f]);
}

static void check_aggregates(int family)
{
	bd_sim_world_t *w = make_family(family, 1, 20000);
	int n = bd_sim_n_users(w), T = bd_sim_n_treatments(w), S = bd_sim_n_segments(w);
	double pc[BD_SIM_MAX_T] = {0};
	double seg_lift_min = INFINITY, seg_lift_max = -INFINITY;

	for (int i = 0; i < n; i++)
		for (int t = 0; t < T; t++)
			pc[t] += bd_sim_user_pconv(w, i, t) / n;
	assert_true(pc[0] > 0.02 && pc[0] < 0.08); /* a few percent */
	for (int t = 1; t < T; t++) { /* a few to tens of relative percent */
		double lift = pc[t] / pc[0] - 1;
		assert_true(lift > 0.01 && lift < 0.6);
		assert_true(pc[t] > pc[t - 1]);
	}
	assert_true(pc[T - 1] / pc[0] - 1 > 0.1);
	/* strong heterogeneity: top-coupon lift differs a lot across segments */
	for (int k = 0; k < S; k++) {
		double a = 0, b = 0;
		for (int i = 0; i < n; i++)
			if (bd_sim_user_segment(w, i) == k) {
				a += bd_sim_user_pconv(w, i, 0);
				b += bd_sim_user_pconv(w, i, T - 1);
			}
		seg_lift_min = fmin(seg_lift_min, b / a - 1);
		seg_lift_max = fmax(seg_lift_max, b / a - 1);
	}
	assert_true(seg_lift_min < 0.1 && seg_lift_max > 0.3);
	bd_sim_world_free(w);
}

static void test_aggregates(void **state)
{
	(void)state;
	for (int f = 0; f < N_FAMILIES; f++)
		check_aggregates(families[f]);
}

/* ---- outcome sampling ------------------------------------------------ */

static void check_outcome_means(int family, double label_noise, double heavy_tail)
{
	bd_sim_params_t p;
	bd_sim_world_t *w;
	const int draws = 200000;
	uint64_t rng = 99;
	bd_sim_params_default(&p);
	assert_int_equal(bd_sim_params_family(&p, family), 0);
	p.n_users = 1000;
	p.label_noise = label_noise;
	p.heavy_tail = heavy_tail;
	assert_int_equal(bd_sim_world_new(&p, &w), 0);

	for (int t = 0; t < p.n_treatments; t += p.n_treatments - 1) {
		double sc = 0, sv = 0, sv2 = 0, scost = 0, scost2 = 0, sdel = 0;
		double ec = 0, ev = 0, epc = 0;
		int nconv = 0;
		for (int k = 0; k < draws; k++) {
			int i = k % p.n_users;
			bd_sim_outcome_t o;
			bd_sim_outcome(w, i, t, &rng, &o);
			assert_true(o.converted == 0 || o.converted == 1);
			assert_true(o.converted ? o.orders >= 1 && o.value > 0 : o.orders == 0 && o.value == 0);
			assert_true(o.cost == 0 || (o.redeemed && o.cost == p.coupon[t]));
			sc += o.converted;
			sv += o.value;
			sv2 += o.value * o.value;
			scost += o.cost;
			scost2 += o.cost * o.cost;
			if (o.converted) {
				nconv++;
				sdel += o.delay_s;
				assert_true(o.delay_s >= 0);
			}
			epc += bd_sim_user_pconv(w, i, t);
			ev += bd_sim_user_ev(w, i, t);
			ec += bd_sim_user_ec(w, i, t);
		}
		{
			double m = sc / draws, mt = epc / draws, se = sqrt(mt * (1 - mt) / draws);
			assert_true(fabs(m - mt) < 5 * se);
		}
		{
			double m = sv / draws, mt = ev / draws;
			double se = sqrt((sv2 / draws - m * m) / draws);
			assert_true(fabs(m - mt) < 5 * se + 1e-12);
			assert_true(fabs(m / mt - 1) < 0.1);
		}
		if (t > 0) {
			double m = scost / draws, mt = ec / draws;
			double se = sqrt((scost2 / draws - m * m) / draws);
			assert_true(fabs(m - mt) < 5 * se);
		} else {
			assert_true(scost == 0);
		}
		assert_true(fabs(sdel / nconv / p.mean_delay_s - 1) < 0.1);
	}
	bd_sim_world_free(w);
}

static void test_outcome_means(void **state)
{
	(void)state;
	for (int f = 0; f < N_FAMILIES; f++) {
		check_outcome_means(families[f], 0, 0);
		check_outcome_means(families[f], 0.3, 0.3); /* the noise knobs are mean-preserving */
	}
}

/* Every family's delays have mean mean_delay_s, in different shapes:
 * exponential (default), lognormal (smooth, median ~0.49 of the mean), a
 * fast/slow mixture (sparse: a quarter within 0.1 of the mean). */
static void test_delays(void **state)
{
	(void)state;
	for (int f = 0; f < N_FAMILIES; f++) {
		bd_sim_world_t *w = make_family(families[f], 1, 100);
		double M = bd_sim_world_params(w)->mean_delay_s, sum = 0, below_median = 0, fast = 0;
		const int n = 200000;
		uint64_t rng = 17;
		for (int k = 0; k < n; k++) {
			double d = bd_sim_delay(w, &rng);
			assert_true(d >= 0);
			sum += d;
			below_median += d < 0.49 * M;
			fast += d < 0.1 * M;
		}
		/* P(d < 0.49 M), P(d < 0.1 M): exponential 0.387, 0.095; lognormal
		 * 0.5, 0.093; mixture 0.65, 0.242 */
		double below = families[f] == BD_SIM_WORLD_SMOOTH   ? 0.5
			       : families[f] == BD_SIM_WORLD_SPARSE ? 0.65
								     : 1 - exp(-0.49);
		assert_true(fabs(sum / n / M - 1) < 0.03);
		assert_true(fabs(below_median / n - below) < 0.01);
		assert_true(fabs(fast / n - (families[f] == BD_SIM_WORLD_SPARSE ? 0.242 : 0.094)) < 0.01);
		bd_sim_world_free(w);
	}
}

static void test_rng(void **state)
{
	uint64_t s = 7;
	double m = 0, v = 0;
	const int n = 100000;
	(void)state;
	for (int k = 0; k < n; k++) {
		double u = bd_sim_rng_uniform(&s);
		assert_true(u >= 0 && u < 1);
	}
	for (int k = 0; k < n; k++) {
		double z = bd_sim_rng_normal(&s);
		m += z;
		v += z * z;
	}
	m /= n;
	v = v / n - m * m;
	assert_true(fabs(m) < 0.02 && fabs(v - 1) < 0.03);
	assert_true(bd_sim_rng_seed(1, 1) != bd_sim_rng_seed(1, 2));
	assert_true(bd_sim_rng_seed(1, 1) != bd_sim_rng_seed(2, 1));
}

/* ---- arrivals -------------------------------------------------------- */

static double integrate01(double (*f)(const void *, double), const void *arg)
{
	const int n = 4000;
	double s = 0;
	for (int k = 0; k < n; k++)
		s += f(arg, (k + 0.5) / n);
	return s / n;
}

static double f_ref(const void *arg, double x)
{
	(void)arg;
	return bd_sim_traffic_profile(x);
}

static double f_world(const void *arg, double x)
{
	return bd_sim_world_profile(arg, x);
}

static const bd_sim_world_t *g_world;

static double f_seg(const void *arg, double x)
{
	return bd_sim_segment_profile(g_world, *(const int *)arg, x);
}

static void test_profile_and_arrivals(void **state)
{
	bd_sim_world_t *w = make_world(3, 2000, 4);
	const int n = 20000;
	double *ts = malloc(sizeof(double) * n), day = bd_sim_world_params(w)->day_seconds;
	int *us = malloc(sizeof(int) * n), night = 0, dinner = 0;
	uint64_t rng = 11;
	(void)state;

	assert_true(fabs(integrate01(f_ref, NULL) - 1) < 1e-6);
	assert_true(fabs(integrate01(f_world, w) - 1) < 1e-6);
	g_world = w;
	for (int k = 0; k < bd_sim_n_segments(w); k++)
		assert_true(fabs(integrate01(f_seg, &k) - 1) < 1e-6);
	/* low at night, lunch and dinner peaks */
	assert_true(bd_sim_traffic_profile(4.0 / 24) < 0.3);
	assert_true(bd_sim_traffic_profile(12.0 / 24) > 2 * bd_sim_traffic_profile(9.0 / 24));
	assert_true(bd_sim_traffic_profile(18.75 / 24) > 2 * bd_sim_traffic_profile(15.5 / 24) * 0.9);
	assert_true(bd_sim_traffic_profile(18.75 / 24) > 5 * bd_sim_traffic_profile(4.0 / 24));
	assert_true(fabs(bd_sim_traffic_profile(1.25) - bd_sim_traffic_profile(0.25)) < 1e-12);

	assert_int_equal(bd_sim_day_arrivals(w, n, &rng, ts, us), 0);
	for (int k = 0; k < n; k++) {
		assert_true(ts[k] >= 0 && ts[k] < day);
		assert_true(us[k] >= 0 && us[k] < bd_sim_n_users(w));
		if (k)
			assert_true(ts[k] >= ts[k - 1]);
		night += ts[k] >= 3 * 3600 && ts[k] < 5 * 3600;
		dinner += ts[k] >= 18 * 3600 && ts[k] < 20 * 3600;
	}
	assert_true(dinner > 5 * night);
	assert_int_equal(bd_sim_day_arrivals(w, -1, &rng, ts, us), -EINVAL);
	assert_int_equal(bd_sim_day_arrivals(w, 0, &rng, NULL, NULL), 0);
	free(ts);
	free(us);
	bd_sim_world_free(w);
}

/* The largest ratio of the world's density to its density 15 minutes
 * earlier or later: bursts change within minutes, meal peaks do not. */
static double steepest_change(const bd_sim_world_t *w)
{
	double worst = 0, q = 0.25 / 24;
	for (int k = 0; k < 2880; k++) {
		double x = k / 2880.0, f = bd_sim_world_profile(w, x);
		worst = fmax(worst, f / bd_sim_world_profile(w, x - q));
		worst = fmax(worst, f / bd_sim_world_profile(w, x + q));
	}
	return worst;
}

/* Every family's profiles integrate to 1 and its arrivals follow them;
 * smooth peaks in the evening, sparse comes in bursts. */
static void test_family_traffic(void **state)
{
	(void)state;
	for (int f = 0; f < N_FAMILIES; f++) {
		bd_sim_world_t *w = make_family(families[f], 3, 2000);
		const int n = 40000;
		double *ts = malloc(sizeof(double) * n), day = bd_sim_world_params(w)->day_seconds;
		int *us = malloc(sizeof(int) * n), bins[96] = {0}, busiest = 0, evening = 0, lunch = 0;
		uint64_t rng = 13;

		assert_true(fabs(integrate01(f_world, w) - 1) < 1e-6);
		g_world = w;
		for (int k = 0; k < bd_sim_n_segments(w); k++)
			assert_true(fabs(integrate01(f_seg, &k) - 1) < 1e-6);
		assert_int_equal(bd_sim_day_arrivals(w, n, &rng, ts, us), 0);
		for (int k = 0; k < n; k++) {
			assert_true(ts[k] >= 0 && ts[k] < day);
			assert_true(k == 0 || ts[k] >= ts[k - 1]);
			bins[(int)(ts[k] / day * 96)]++;
			evening += ts[k] >= 19.5 * 3600 && ts[k] < 21.5 * 3600;
			lunch += ts[k] >= 11 * 3600 && ts[k] < 13 * 3600;
		}
		for (int b = 0; b < 96; b++)
			busiest = bins[b] > busiest ? bins[b] : busiest;
		switch (families[f]) {
		case BD_SIM_WORLD_SMOOTH: /* evening peak, quiet lunch */
			assert_true(evening > 3 * lunch);
			assert_true(bd_sim_world_profile(w, 20.5 / 24) > 2 * bd_sim_world_profile(w, 8.5 / 24));
			assert_true(steepest_change(w) < 2);
			break;
		case BD_SIM_WORLD_SPARSE: /* push bursts */
			assert_true(steepest_change(w) > 4);
			assert_true(busiest > 6 * n / 96);
			break;
		default: /* lunch and dinner */
			assert_true(lunch > evening / 2 && lunch > 2 * n / 12);
			assert_true(steepest_change(w) < 2);
		}
		free(ts);
		free(us);
		bd_sim_world_free(w);
	}
}

/* ---- oracle ---------------------------------------------------------- */

static void check_oracle(int family)
{
	bd_sim_world_t *w = make_family(family, 5, 5000);
	int n = bd_sim_n_users(w), T = bd_sim_n_treatments(w);
	double vmax = 0, v0 = 0, V, S, lam, Vall, Sall, Vu, Su, prev = -1, Vc, Vua;
	int *tr = malloc(sizeof(int) * (size_t)n), *twice = malloc(sizeof(int) * 2 * (size_t)n);
	double budgets[41], cv[41], cs[41], cl[41];

	for (int i = 0; i < n; i++) {
		double m = 0;
		for (int t = 0; t < T; t++)
			m = fmax(m, bd_sim_user_ev(w, i, t));
		vmax += m;
		v0 += bd_sim_user_ev(w, i, 0);
	}
	/* spend-everything and zero budget */
	assert_int_equal(bd_sim_oracle(w, NULL, n, INFINITY, &Vall, &Sall, &lam), 0);
	assert_true(fabs(Vall - vmax) < 1e-9 * vmax && lam == 0);
	assert_int_equal(bd_sim_oracle(w, NULL, n, Sall * 1.5, &V, &S, &lam), 0);
	assert_true(V == Vall && S == Sall);
	assert_int_equal(bd_sim_oracle(w, NULL, n, 0, &V, &S, &lam), 0);
	assert_true(fabs(V - v0) < 1e-9 * v0 && S == 0);
	/* all-control: its value is v0 and it spends nothing */
	assert_int_equal(bd_sim_control_value(w, NULL, n, &Vc), 0);
	assert_true(fabs(Vc - v0) < 1e-9 * v0);
	for (int i = 0; i < n; i++)
		tr[i] = 0;
	assert_int_equal(bd_sim_policy_value(w, NULL, n, tr, &V, &S), 0);
	assert_true(S == 0 && fabs(V - v0) < 1e-9 * v0);
	assert_int_equal(bd_sim_uniform_value_at(w, NULL, n, 0, &Vua), 0);
	assert_true(fabs(Vua - v0) < 1e-9 * v0);

	/* monotone, within budget, agrees with the curve */
	for (int q = 0; q <= 40; q++)
		budgets[q] = Sall * q / 40.0;
	assert_int_equal(bd_sim_oracle_curve(w, NULL, n, budgets, 41, cv, cs, cl), 0);
	for (int q = 0; q <= 40; q++) {
		double va, sa;
		assert_int_equal(bd_sim_oracle(w, NULL, n, budgets[q], &V, &S, &lam), 0);
		assert_true(S <= budgets[q] * (1 + 1e-12) + 1e-12);
		assert_true(V >= prev - 1e-9 * V);
		prev = V;
		assert_true(fabs(V - cv[q]) < 1e-8 * V);
		assert_true(cs[q] <= budgets[q] * (1 + 1e-12) + 1e-12);
		if (q > 0 && q < 40)
			assert_true(fabs(lam - cl[q]) < 1e-6 * (1 + cl[q]));
		/* the pure assignment at lambda_out is feasible and near-optimal */
		assert_int_equal(bd_sim_oracle_assign(w, NULL, n, lam, tr, &va, &sa), 0);
		assert_true(sa <= budgets[q] * (1 + 1e-12) + 1e-12);
		assert_true(va <= V * (1 + 1e-12));
		assert_true(va >= V - (vmax - v0) * 0.01);
		{
			double pv, ps;
			assert_int_equal(bd_sim_policy_value(w, NULL, n, tr, &pv, &ps), 0);
			assert_true(fabs(pv - va) < 1e-9 * va && fabs(ps - sa) < 1e-9 * (1 + sa));
		}
		/* never below uniform at the same spend */
		assert_int_equal(bd_sim_uniform_value_at(w, NULL, n, budgets[q], &Vua), 0);
		assert_true(V >= Vua - 1e-9 * V);
		if (q > 0 && q < 30)
			assert_true(V - v0 > 1.2 * (Vua - v0));
		/* concave: repeated arrivals at twice the budget give twice the value */
		if (q % 10 == 5) {
			double V2;
			for (int k = 0; k < 2 * n; k++)
				twice[k] = k % n;
			assert_int_equal(bd_sim_oracle(w, twice, 2 * n, 2 * budgets[q], &V2, NULL, NULL), 0);
			assert_true(fabs(V2 - 2 * V) < 1e-8 * V);
		}
	}
	/* beats uniform random allocation at the uniform policy's own spend */
	assert_int_equal(bd_sim_uniform_value(w, NULL, n, &Vu, &Su), 0);
	assert_true(Su > 0 && Su < Sall && Vu > v0);
	assert_int_equal(bd_sim_oracle(w, NULL, n, Su, &V, &S, &lam), 0);
	assert_true(V > Vu);
	assert_true(V - v0 > 1.3 * (Vu - v0));
	assert_int_equal(bd_sim_uniform_value_at(w, NULL, n, Su, &Vua), 0);
	assert_true(fabs(Vua - Vu) < 1e-9 * Vu);
	assert_int_equal(bd_sim_uniform_value_at(w, NULL, n, 2 * Su, &Vua), 0);
	assert_true(fabs(Vua - Vu) < 1e-9 * Vu); /* it cannot spend more */
	assert_int_equal(bd_sim_uniform_value_at(w, NULL, n, Su / 4, &Vua), 0);
	assert_true(fabs(Vua - (v0 + (Vu - v0) / 4)) < 1e-9 * Vu);
	assert_int_equal(bd_sim_uniform_value_at(w, NULL, n, -1, &Vua), -EINVAL);

	/* errors */
	twice[0] = n;
	assert_int_equal(bd_sim_oracle(w, twice, 1, 1, &V, &S, &lam), -EINVAL);
	assert_int_equal(bd_sim_oracle(w, NULL, n, -1, &V, &S, &lam), -EINVAL);
	assert_int_equal(bd_sim_oracle(w, NULL, n, NAN, &V, &S, &lam), -EINVAL);
	assert_int_equal(bd_sim_oracle(w, NULL, n + 1, 1, &V, &S, &lam), -EINVAL);
	assert_int_equal(bd_sim_oracle_assign(w, NULL, n, -1, tr, &V, &S), -EINVAL);
	tr[0] = T;
	assert_int_equal(bd_sim_policy_value(w, NULL, n, tr, &V, &S), -EINVAL);
	assert_int_equal(bd_sim_oracle(w, NULL, 0, 1, &V, &S, &lam), 0);
	assert_true(V == 0 && S == 0);
	free(tr);
	free(twice);
	bd_sim_world_free(w);
}

static void test_oracle(void **state)
{
	(void)state;
	for (int f = 0; f < N_FAMILIES; f++)
		check_oracle(families[f]);
}

static void test_oracle_bruteforce(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 4 + 2 * N_FAMILIES; seed++) {
		/* seeds 1-4 the default world at 3 treatments, then each family at
		 * its own ladder (up to 6^6 allocations) */
		int fam = seed <= 4 ? -1 : families[(seed - 5) / 2];
		bd_sim_world_t *w = fam < 0 ? make_world(seed, 6, 3) : make_family(fam, seed, 6);
		const int n = 6, T = bd_sim_n_treatments(w);
		double ev[6][BD_SIM_MAX_T], ec[6][BD_SIM_MAX_T], maxsingle = 0, total = 0;
		int combos = 1;

		for (int i = 0; i < n; i++)
			for (int t = 0; t < T; t++) {
				ev[i][t] = bd_sim_user_ev(w, i, t);
				ec[i][t] = bd_sim_user_ec(w, i, t);
				maxsingle = fmax(maxsingle, ev[i][t]);
				if (t == T - 1)
					total += ec[i][t];
			}
		for (int i = 0; i < n; i++)
			combos *= T;
		for (int q = 0; q <= 30; q++) {
			double B = total * q / 25.0, best = -1, V, S, cv;
			for (int code = 0; code < combos; code++) {
				double v = 0, c = 0;
				for (int i = 0, x = code; i < n; i++, x /= T) {
					v += ev[i][x % T];
					c += ec[i][x % T];
				}
				if (c <= B && v > best)
					best = v;
			}
			assert_int_equal(bd_sim_oracle(w, NULL, n, B, &V, &S, NULL), 0);
			assert_true(V >= best - 1e-12);
			assert_true(V <= best + maxsingle);
			assert_true(S <= B + 1e-15);
			assert_int_equal(bd_sim_oracle_curve(w, NULL, n, &B, 1, &cv, NULL, NULL), 0);
			assert_true(fabs(cv - V) < 1e-9 * V);
		}
		bd_sim_world_free(w);
	}
}

/* ---- family-specific response structure ------------------------------ */

static int cmp_desc(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

static double corr(const double *a, const double *b, int n)
{
	double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
	for (int i = 0; i < n; i++) {
		ma += a[i] / n;
		mb += b[i] / n;
	}
	for (int i = 0; i < n; i++) {
		sab += (a[i] - ma) * (b[i] - mb);
		saa += (a[i] - ma) * (a[i] - ma);
		sbb += (b[i] - mb) * (b[i] - mb);
	}
	return sab / sqrt(saa * sbb + 1e-300);
}

/* sparse: most users gain (almost) nothing or lose from a coupon, a
 * minority carries the uplift, and costs follow value. */
static void test_sparse_minority(void **state)
{
	bd_sim_world_t *w = make_family(BD_SIM_WORLD_SPARSE, 1, 20000);
	int n = bd_sim_n_users(w), T = bd_sim_n_treatments(w), negative = 0, flat = 0;
	double *best = malloc(sizeof(double) * (size_t)n), *v0 = malloc(sizeof(double) * (size_t)n);
	double *cT = malloc(sizeof(double) * (size_t)n), total = 0, top = 0;
	(void)state;

	for (int i = 0; i < n; i++) {
		v0[i] = bd_sim_user_ev(w, i, 0);
		cT[i] = bd_sim_user_ec(w, i, T - 1);
		best[i] = 0;
		for (int t = 1; t < T; t++)
			best[i] = fmax(best[i], bd_sim_user_ev(w, i, t) - v0[i]);
		negative += bd_sim_user_ev(w, i, T - 1) < v0[i];
		flat += best[i] < 0.05 * v0[i];
		total += best[i];
	}
	assert_true(negative > 0.05 * n && negative < 0.4 * n); /* do-not-disturb */
	assert_true(flat > n / 2);				/* most users: ~nothing */
	assert_true(corr(v0, cT, n) > 0.3);			/* costs follow value */
	qsort(best, (size_t)n, sizeof(double), cmp_desc);
	for (int i = 0; i < n / 5; i++)
		top += best[i];
	assert_true(top > 0.6 * total); /* the top 20% carry most of the uplift */
	free(best);
	free(v0);
	free(cT);
	bd_sim_world_free(w);
}

/* smooth: the response is a smooth function of a few raw, heavy-tailed
 * columns; the other columns carry nothing; no segment step explains it. */
static void test_smooth_response(void **state)
{
	bd_sim_world_t *w = make_family(BD_SIM_WORLD_SMOOTH, 1, 20000);
	int n = bd_sim_n_users(w), T = bd_sim_n_treatments(w), d = bd_sim_dim(w), S = bd_sim_n_segments(w);
	double *rel = malloc(sizeof(double) * (size_t)n), *lv0 = malloc(sizeof(double) * (size_t)n);
	double *col = malloc(sizeof(double) * (size_t)n), sm[64] = {0}, sn[64] = {0};
	double mean = 0, tot = 0, within = 0, med0;
	(void)state;

	for (int i = 0; i < n; i++) {
		lv0[i] = log(bd_sim_user_ev(w, i, 0));
		rel[i] = bd_sim_user_pconv(w, i, T - 1) / bd_sim_user_pconv(w, i, 0) - 1;
		mean += rel[i] / n;
		sm[bd_sim_user_segment(w, i)] += rel[i];
		sn[bd_sim_user_segment(w, i)] += 1;
	}
	for (int j = 0; j < d; j++) {
		for (int i = 0; i < n; i++)
			col[i] = bd_sim_user_features(w, i)[j];
		if (j >= 6) { /* irrelevant columns */
			assert_true(fabs(corr(col, lv0, n)) < 0.04);
			assert_true(fabs(corr(col, rel, n)) < 0.04);
		}
		if (j == 4) /* coupon_use_share: the price-sensitivity signal */
			assert_true(corr(col, rel, n) > 0.3);
		if (j == 0) { /* spend_90d: raw and heavy-tailed, tracks value */
			double mx = 0;
			for (int i = 0; i < n; i++)
				mx = fmax(mx, col[i]);
			qsort(col, (size_t)n, sizeof(double), cmp_desc);
			med0 = col[n / 2];
			assert_true(mx > 20 * med0);
		}
	}
	/* the sensitivity bands leave much of the lift's variance inside them */
	for (int i = 0; i < n; i++) {
		int k = bd_sim_user_segment(w, i);
		tot += (rel[i] - mean) * (rel[i] - mean);
		within += (rel[i] - sm[k] / sn[k]) * (rel[i] - sm[k] / sn[k]);
	}
	assert_true(S == 8 && within > 0.25 * tot);
	free(rel);
	free(lv0);
	free(col);
	bd_sim_world_free(w);
}

/* ---- features -------------------------------------------------------- */

/* k-means (Lloyd, farthest-point-free deterministic seeding) purity. */
static double kmeans_purity(const double *X, const int *lab, int n, int d, int K)
{
	double *C = malloc(sizeof(double) * (size_t)K * (size_t)d);
	int *a = calloc((size_t)n, sizeof(int)), *cnt = calloc((size_t)K * (size_t)K, sizeof(int));
	double pur = 0;
	uint64_t r = 3;

	for (int k = 0; k < K; k++) { /* random distinct-ish users as seeds */
		int i = (int)(bd_sim_rng_uniform(&r) * n);
		memcpy(C + (size_t)k * d, X + (size_t)i * d, sizeof(double) * (size_t)d);
	}
	for (int it = 0; it < 50; it++) {
		double *sum = calloc((size_t)K * (size_t)d + (size_t)K, sizeof(double)), *m = sum + K * d;
		for (int i = 0; i < n; i++) {
			double bd = INFINITY;
			for (int k = 0; k < K; k++) {
				double s = 0;
				for (int j = 0; j < d; j++) {
					double z = X[(size_t)i * d + j] - C[(size_t)k * d + j];
					s += z * z;
				}
				if (s < bd) {
					bd = s;
					a[i] = k;
				}
			}
			m[a[i]] += 1;
			for (int j = 0; j < d; j++)
				sum[(size_t)a[i] * d + j] += X[(size_t)i * d + j];
		}
		for (int k = 0; k < K; k++)
			if (m[k] > 0)
				for (int j = 0; j < d; j++)
					C[(size_t)k * d + j] = sum[(size_t)k * d + j] / m[k];
		free(sum);
	}
	for (int i = 0; i < n; i++)
		cnt[a[i] * K + lab[i]]++;
	for (int k = 0; k < K; k++) {
		int mx = 0;
		for (int s = 0; s < K; s++)
			mx = cnt[k * K + s] > mx ? cnt[k * K + s] : mx;
		pur += mx;
	}
	free(C);
	free(a);
	free(cnt);
	return pur / n;
}

static void test_features_hide_segments(void **state)
{
	bd_sim_world_t *w = make_world(1, 3000, 4);
	int n = bd_sim_n_users(w), d = bd_sim_dim(w), K = bd_sim_n_segments(w), ok = 0;
	double *X = malloc(sizeof(double) * (size_t)n * (size_t)d);
	int *lab = malloc(sizeof(int) * (size_t)n);
	(void)state;

	for (int i = 0; i < n; i++) {
		const float *x = bd_sim_user_features(w, i);
		lab[i] = bd_sim_user_segment(w, i);
		for (int j = 0; j < d; j++)
			X[(size_t)i * d + j] = x[j];
	}
	for (int j = 0; j < d; j++) { /* standardise */
		double m = 0, v = 0;
		for (int i = 0; i < n; i++)
			m += X[(size_t)i * d + j] / n;
		for (int i = 0; i < n; i++)
			v += (X[(size_t)i * d + j] - m) * (X[(size_t)i * d + j] - m) / n;
		for (int i = 0; i < n; i++)
			X[(size_t)i * d + j] = (X[(size_t)i * d + j] - m) / sqrt(v);
	}
	/* k-means on the features does not recover the segments ... */
	assert_true(kmeans_purity(X, lab, n, d, K) < 0.55);
	/* ... yet the features do carry them: 1-nearest-neighbour accuracy */
	for (int i = 0; i < 1000; i++) {
		double bd = INFINITY;
		int bl = -1;
		for (int k = 0; k < n; k++) {
			double s = 0;
			if (k == i)
				continue;
			for (int j = 0; j < d; j++) {
				double z = X[(size_t)i * d + j] - X[(size_t)k * d + j];
				s += z * z;
			}
			if (s < bd) {
				bd = s;
				bl = lab[k];
			}
		}
		ok += bl == lab[i];
	}
	assert_true(ok > 650);
	free(X);
	free(lab);
	bd_sim_world_free(w);
}

/* ---- samples --------------------------------------------------------- */

static int count_fields(const char *line)
{
	int n = 1;
	for (; *line; line++)
		n += *line == ',';
	return n;
}

static void test_samples(void **state)
{
	bd_sim_world_t *w = make_world(9, 3000, 4);
	int T = bd_sim_n_treatments(w), d = bd_sim_dim(w), rows = 0;
	char line[4096], expect[1024];
	uint64_t rng = 21;
	double mean_big_hi = 0, mean_big_lo = 0;
	int n_hi = 0, n_lo = 0;
	(void)state;

	strcpy(expect, "user_id,segment,treatment,propensity,converted,orders,value,cost");
	for (int j = 0; j < d; j++)
		sprintf(expect + strlen(expect), ",f%d", j);
	strcat(expect, "\n");

	for (int policy = 0; policy <= 1; policy++) {
		FILE *f = tmpfile();
		assert_non_null(f);
		assert_int_equal(bd_sim_write_samples(w, f, 2000, policy, 0.2, &rng), 0);
		rewind(f);
		assert_non_null(fgets(line, sizeof(line), f));
		assert_string_equal(line, expect);
		rows = 0;
		while (fgets(line, sizeof(line), f)) {
			int uid, seg, t, conv, orders;
			double prop, value, cost, probs[BD_SIM_MAX_T];
			assert_int_equal(count_fields(line), 8 + d);
			assert_int_equal(sscanf(line, "%d,%d,%d,%lf,%d,%d,%lf,%lf", &uid, &seg, &t, &prop,
						&conv, &orders, &value, &cost),
					 8);
			assert_true(uid >= 0 && uid < bd_sim_n_users(w));
			assert_int_equal(seg, bd_sim_user_segment(w, uid));
			assert_true(t >= 0 && t < T);
			assert_true(cost == 0 || cost == bd_sim_coupon(w, t));
			if (policy == 0) {
				assert_true(prop == 1.0 / T);
			} else {
				double sum = 0;
				bd_sim_logging_probs(w, uid, 0.2, probs);
				for (int q = 0; q < T; q++) {
					assert_true(probs[q] >= 0.2 / T - 1e-15);
					sum += probs[q];
				}
				assert_true(fabs(sum - 1) < 1e-12);
				assert_true(prop == probs[t]);
				if (log(bd_sim_user_ev(w, uid, 0)) > 0.5) {
					mean_big_hi += t == T - 1;
					n_hi++;
				} else if (log(bd_sim_user_ev(w, uid, 0)) < 0) {
					mean_big_lo += t == T - 1;
					n_lo++;
				}
			}
			rows++;
		}
		assert_int_equal(rows, 2000);
		fclose(f);
	}
	/* the biased policy gives the top coupon to high-value users more often */
	assert_true(n_hi > 50 && n_lo > 50);
	assert_true(mean_big_hi / n_hi > 1.5 * mean_big_lo / n_lo);
	assert_int_equal(bd_sim_write_samples(w, stdout, 1, 2, 0, &rng), -EINVAL);
	assert_int_equal(bd_sim_write_samples(w, stdout, 1, 1, 1.5, &rng), -EINVAL);
	bd_sim_world_free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_aggregates),
		cmocka_unit_test(test_rng),
		cmocka_unit_test(test_outcome_means),
		cmocka_unit_test(test_profile_and_arrivals),
		cmocka_unit_test(test_family_traffic),
		cmocka_unit_test(test_delays),
		cmocka_unit_test(test_sparse_minority),
		cmocka_unit_test(test_smooth_response),
		cmocka_unit_test(test_oracle),
		cmocka_unit_test(test_oracle_bruteforce),
		cmocka_unit_test(test_features_hide_segments),
		cmocka_unit_test(test_samples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
