/* Unit tests of the world simulator's model (src/simworld.c). */
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

#include "budgetd/simworld.h"

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
	bd_sim_world_t *a = make_world(42, 2000, 4), *b = make_world(42, 2000, 4);
	bd_sim_world_t *c = make_world(43, 2000, 4), *small = make_world(42, 300, 4);
	uint64_t r1 = 5, r2 = 5;
	bd_sim_outcome_t o1, o2;
	(void)state;

	assert_true(worlds_equal(a, b, 2000));
	assert_false(worlds_equal(a, c, 2000));
	assert_true(worlds_equal(a, small, 300)); /* a world is a prefix of a bigger one */
	for (int k = 0; k < 1000; k++) {
		bd_sim_outcome(a, k, k % 4, &r1, &o1);
		bd_sim_outcome(b, k, k % 4, &r2, &o2);
		assert_memory_equal(&o1, &o2, sizeof(o1));
	}
	bd_sim_world_free(a);
	bd_sim_world_free(b);
	bd_sim_world_free(c);
	bd_sim_world_free(small);
}

static void test_ranges(void **state)
{
	bd_sim_world_t *w = make_world(1, 5000, 4);
	int T = bd_sim_n_treatments(w), S = bd_sim_n_segments(w);
	double share = 0;
	(void)state;

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
			if (t > 0) { /* the default ladder is increasing */
				assert_true(c > 0);
				assert_true(p >= bd_sim_user_pconv(w, i, t - 1));
				assert_true(c > bd_sim_user_ec(w, i, t - 1));
			}
		}
	}
	bd_sim_world_free(w);
}

static void test_aggregates(void **state)
{
	bd_sim_world_t *w = make_world(1, 20000, 4);
	int n = bd_sim_n_users(w), T = bd_sim_n_treatments(w), S = bd_sim_n_segments(w);
	double pc[BD_SIM_MAX_T] = {0};
	double seg_lift_min = INFINITY, seg_lift_max = -INFINITY;
	(void)state;

	for (int i = 0; i < n; i++)
		for (int t = 0; t < T; t++)
			pc[t] += bd_sim_user_pconv(w, i, t) / n;
	assert_true(pc[0] > 0.02 && pc[0] < 0.08); /* a few percent */
	for (int t = 1; t < T; t++) {
		double lift = pc[t] / pc[0] - 1;
		assert_true(lift > 0.02 && lift < 0.6);
		assert_true(pc[t] > pc[t - 1]);
	}
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

/* ---- outcome sampling ------------------------------------------------ */

static void check_outcome_means(double label_noise, double heavy_tail)
{
	bd_sim_params_t p;
	bd_sim_world_t *w;
	const int draws = 200000;
	uint64_t rng = 99;
	bd_sim_params_default(&p);
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
	check_outcome_means(0, 0);
	check_outcome_means(0.3, 0.3); /* the noise knobs are mean-preserving */
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

/* ---- oracle ---------------------------------------------------------- */

static void test_oracle(void **state)
{
	bd_sim_world_t *w = make_world(5, 5000, 4);
	int n = bd_sim_n_users(w), T = bd_sim_n_treatments(w);
	double vmax = 0, v0 = 0, V, S, lam, Vall, Sall, Vu, Su, prev = -1;
	int *tr = malloc(sizeof(int) * (size_t)n), *twice = malloc(sizeof(int) * 2 * (size_t)n);
	double budgets[41], cv[41], cs[41], cl[41];
	(void)state;

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

static void test_oracle_bruteforce(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 4; seed++) {
		bd_sim_world_t *w = make_world(seed, 6, 3);
		const int n = 6, T = 3;
		double ev[6][3], ec[6][3], maxsingle = 0, total = 0;
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
		cmocka_unit_test(test_oracle),
		cmocka_unit_test(test_oracle_bruteforce),
		cmocka_unit_test(test_features_hide_segments),
		cmocka_unit_test(test_samples),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
