/* represent.c and distill.c on the simulator's data: the network learns
 * the responses (beats constant predictors, ranks true uplift), and the
 * student reproduces a teacher's labels. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/learn/distill.h"
#include "budgetd/learn/represent.h"
#include "budgetd/lab/simworld.h"

enum { N = 200000 };

static void test_learns_responses(void **state)
{
	bd_sim_params_t wp;
	bd_sim_world_t *w;
	uint64_t rng = 5;
	(void)state;
	bd_sim_params_default(&wp);
	wp.n_users = 5000;
	assert_int_equal(bd_sim_world_new(&wp, &w), 0);
	int J = bd_sim_n_treatments(w), dim = bd_sim_dim(w);
	float *x = malloc(sizeof(float) * N * (size_t)dim);
	int *t = malloc(sizeof(int) * N), *u = malloc(sizeof(int) * N);
	double *p = malloc(sizeof(double) * N), *cv = malloc(sizeof(double) * N);
	double *v = malloc(sizeof(double) * N), *c = malloc(sizeof(double) * N);
	for (int i = 0; i < N; i++) {
		u[i] = (int)(bd_sim_rng_next(&rng) % 5000);
		t[i] = (int)(bd_sim_rng_next(&rng) % (uint64_t)J);
		p[i] = 1.0 / J;
		bd_sim_outcome_t o;
		bd_sim_outcome(w, u[i], t[i], &rng, &o);
		cv[i] = o.converted;
		v[i] = o.value;
		c[i] = o.cost;
		memcpy(x + (size_t)i * dim, bd_sim_user_features(w, u[i]), sizeof(float) * dim);
	}
	bd_rep_data_t d = {N, dim, J, x, t, p, cv, v, c};
	bd_rep_params_t rp;
	bd_rep_metrics_t m;
	bd_rep_t *r;
	bd_rep_params_default(&rp);
	rp.epochs = 10;
	assert_int_equal(bd_rep_train(&d, &rp, &r, &m), 0);
	/* against the truth: the expected log loss of the predicted conversion
	 * beats the best constant, and predictions rank the true conversion
	 * probability and the true value uplift of the biggest coupon */
	double ll = 0, llc = 0, base = 0;
	double sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
	double uxy = 0, ux = 0, uy = 0, uxx = 0, uyy = 0;
	int n = 0;
	for (int i = 0; i < 5000; i++)
		for (int tt = 0; tt < J; tt++)
			base += bd_sim_user_pconv(w, i, tt) / (5000.0 * J);
	for (int i = 0; i < 5000; i++, n++) {
		double pc[16], pv[16], pk[16];
		assert_int_equal(bd_rep_predict(r, bd_sim_user_features(w, i), pc, pv, pk), 0);
		for (int tt = 0; tt < J; tt++) {
			double q = pc[tt], tr = bd_sim_user_pconv(w, i, tt);
			assert_true(q > 0 && q < 1 && isfinite(pk[tt]) && isfinite(pv[tt]));
			ll -= tr * log(q) + (1 - tr) * log(1 - q);
			llc -= tr * log(base) + (1 - tr) * log(1 - base);
		}
		double a = pc[0], b = bd_sim_user_pconv(w, i, 0);
		sx += a; sy += b; sxy += a * b; sxx += a * a; syy += b * b;
		a = pv[J - 1] - pv[0];
		b = bd_sim_user_ev(w, i, J - 1) - bd_sim_user_ev(w, i, 0);
		ux += a; uy += b; uxy += a * b; uxx += a * a; uyy += b * b;
	}
	if (!(ll < llc))
		fail_msg("expected log loss %.5f not below the constant's %.5f (%d epochs)",
			 ll / (5000.0 * J), llc / (5000.0 * J), m.epochs);
	double corr = (sxy - sx * sy / n) / sqrt((sxx - sx * sx / n) * (syy - sy * sy / n));
	double ucorr = (uxy - ux * uy / n) / sqrt((uxx - ux * ux / n) * (uyy - uy * uy / n));
	if (!(corr > 0.4 && ucorr > 0.1))
		fail_msg("correlation with the truth: conversion %.3f, value uplift %.3f", corr,
			 ucorr);
	/* h(x) is finite and deterministic */
	double h1[64], h2[64]; /* train.rep.dim is at most 64 */
	assert_int_equal(bd_rep_embed(r, x, 1, h1), 0);
	assert_int_equal(bd_rep_embed(r, x, 1, h2), 0);
	assert_memory_equal(h1, h2, sizeof(double) * (size_t)rp.rep_dim);

	/* the student reproduces teacher labels that are a function of x */
	int *lab = malloc(sizeof(int) * N);
	for (int i = 0; i < N; i++)
		lab[i] = (x[(size_t)i * dim] > r->mean[0]) * 2 + (x[(size_t)i * dim + 1] > r->mean[1]);
	bd_distill_params_t dp;
	bd_distill_metrics_t dm;
	bd_cluster_model_t *cm;
	bd_distill_params_default(&dp);
	dp.epochs = 10;
	assert_int_equal(bd_distill_train(x, N, dim, lab, 4, r->mean, r->scale, &dp, &cm, &dm), 0);
	if (!(dm.agreement > 0.95))
		fail_msg("student agreement %.4f", dm.agreement);
	int hit = 0;
	for (int i = 0; i < N; i++)
		hit += bd_cluster_assign(cm, x + (size_t)i * dim) == lab[i];
	/* the published form (cluster model) gives the student's answers */
	assert_true((double)hit / N > 0.95);
	assert_int_equal(cm->k, 4);
	bd_cluster_model_unref(cm);
	bd_rep_free(r);
	bd_sim_world_free(w);
	free(lab);
	free(x); free(t); free(u); free(p); free(cv); free(v); free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_learns_responses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
