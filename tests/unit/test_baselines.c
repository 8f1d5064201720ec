/* baselines.c, bidfcl.c and budgetd's own pipeline: TSM-SL, DFCL-PL,
 * DFCL-IFD and the end-to-end method fine-tuned from it, Bi-DFCL
 * (observational target, TSM-SL teacher), and representation + k-means +
 * the cluster LP (hrc), learn on an easy simulated world (no feature noise,
 * no individual variation): its per-user Lagrangian policy buys clearly
 * more true incremental value than random allocation at the same spend,
 * and spends near the budget. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/lab/baselines.h"
#include "budgetd/lab/bidfcl.h"
#include "budgetd/learn/kmeans.h"
#include "budgetd/learn/represent.h"
#include "budgetd/lab/simworld.h"
#include "budgetd/policy/solver.h"

/* A policy of true value @p tv and spend @p ts at @p budget against random
 * allocation at the same spend (control plus uniform coupons). */
static void beats_random(const bd_sim_world_t *w, const int *users, int U, double tv,
			 double ts, double budget, const char *name, double min_spend)
{
	double uv, us, cv = 0, orc;
	assert_int_equal(bd_sim_uniform_value(w, users, U, &uv, &us), 0);
	assert_int_equal(bd_sim_oracle(w, users, U, budget, &orc, NULL, NULL), 0);
	for (int u = 0; u < U; u++)
		cv += bd_sim_user_ev(w, u, 0);
	double rv = cv + fmin(1, ts / us) * (uv - cv);
	print_message("%s: value %.0f (incremental %.0f) at spend %.0f for budget %.0f; "
		      "random %.0f (incremental %.0f); oracle %.0f\n",
		      name, tv, tv - cv, ts, budget, rv, rv - cv, orc);
	/* clearly more incremental value than random at the same spend (here
	 * TSM-SL 1.34x, DFCL-PL 1.24x, end-to-end 1.30x, hrc 1.37x; the oracle
	 * 2.8x), and a spend near the budget (TSM-SL's cost predictions run
	 * high: 75%; DFCL-IFD's decision gradient pushes them higher still:
	 * 36%, so its floor is lower, see docs/offline.md) */
	assert_true(tv - cv > 1.2 * (rv - cv));
	assert_true(ts / budget > min_spend && ts / budget < 1.2);
}

/* The per-user Lagrangian policy of @p m's predictions at 30% of the
 * value-maximising spend, against random allocation at the same spend. */
static void evaluate(const bd_sim_world_t *w, bd_tsm_t *m, const float *xu, const int *users,
		     int U, double *rh, double *ch, int *z, const char *name, double min_spend)
{
	const int J = bd_sim_n_treatments(w);
	assert_int_equal(bd_tsm_predict(m, xu, U, rh, ch), 0);
	/* every user once, a budget of 30% of the value-maximising spend */
	double maxs, budget;
	assert_int_equal(bd_sim_oracle_assign(w, users, U, 0, NULL, NULL, &maxs), 0);
	budget = 0.3 * maxs;
	/* per-user Lagrangian on the predictions */
	double lo = 0, hi = 1000;
	for (int it = 0; it < 60; it++) {
		double lam = 0.5 * (lo + hi), pc = 0;
		for (int u = 0; u < U; u++) {
			int b = 0;
			for (int k = 1; k < J; k++)
				if (rh[u * J + k] - lam * ch[u * J + k] > rh[u * J + b] - lam * ch[u * J + b])
					b = k;
			z[u] = b;
			pc += ch[u * J + b];
		}
		if (pc > budget)
			lo = lam;
		else
			hi = lam;
	}
	double tv, ts;
	assert_int_equal(bd_sim_policy_value(w, users, U, z, &tv, &ts), 0);
	beats_random(w, users, U, tv, ts, budget, name, min_spend);
}

/* budgetd's method offline: representation, k-means (K=8) on h(x), cell
 * means per (cluster, treatment), the exact cluster LP at 30% of the
 * value-maximising spend; its true value against random at the same
 * spend, as evaluate() does for the per-user methods. */
static void hrc(const bd_sim_world_t *w, const float *x, const int *t, const double *p,
		const double *cv, const double *v, const double *c, int n, const float *xu,
		const int *users, int U)
{
	enum { K = 8 };
	const int J = bd_sim_n_treatments(w), dim = bd_sim_dim(w);
	bd_rep_data_t rd = {n, dim, J, x, t, p, cv, v, c};
	bd_rep_params_t rp;
	bd_rep_metrics_t rm;
	bd_rep_t *rep;
	bd_rep_params_default(&rp);
	assert_int_equal(bd_rep_train(&rd, &rp, &rep, &rm), 0);
	double *h = malloc(sizeof(double) * (size_t)(n > U ? n : U) * rp.rep_dim);
	int *lab = malloc(sizeof(int) * n), *lu = malloc(sizeof(int) * U);
	bd_kmeans_params_t kp;
	bd_kmeans_result_t km;
	bd_kmeans_params_default(&kp);
	kp.k = K;
	assert_int_equal(bd_rep_embed(rep, x, n, h), 0);
	assert_int_equal(bd_kmeans_fit(h, n, rp.rep_dim, &kp, &km), 0);
	assert_int_equal(bd_kmeans_assign_all(&km, h, n, lab, NULL), 0);
	assert_int_equal(bd_rep_embed(rep, xu, U, h), 0);
	assert_int_equal(bd_kmeans_assign_all(&km, h, U, lu, NULL), 0);
	double share[K] = {0}, r[K * 8] = {0}, cc[K * 8] = {0}, cn[K * 8] = {0}, prob[K * 8];
	for (int i = 0; i < n; i++) {
		share[lab[i]] += 1.0 / n;
		r[lab[i] * J + t[i]] += v[i];
		cc[lab[i] * J + t[i]] += c[i];
		cn[lab[i] * J + t[i]]++;
	}
	for (int i = 0; i < K * J; i++) {
		r[i] = cn[i] > 0 ? r[i] / cn[i] : 0;
		cc[i] = cn[i] > 0 ? cc[i] / cn[i] : 0;
	}
	double maxs, tv = 0, ts = 0;
	assert_int_equal(bd_sim_oracle_assign(w, users, U, 0, NULL, NULL, &maxs), 0);
	const double budget = 0.3 * maxs;
	bd_solver_problem_t sp = {K, J, share, r, cc};
	bd_solver_result_t res;
	assert_int_equal(bd_solver_lp(&sp, budget / U, prob, &res), 0);
	for (int u = 0; u < U; u++)
		for (int a = 0; a < J; a++) {
			tv += prob[lu[u] * J + a] * bd_sim_user_ev(w, u, a);
			ts += prob[lu[u] * J + a] * bd_sim_user_ec(w, u, a);
		}
	beats_random(w, users, U, tv, ts, budget, "hrc", 0.6);
	bd_kmeans_result_free(&km);
	bd_rep_free(rep);
	free(h);
	free(lab);
	free(lu);
}

static void test_tsm_beats_random(void **state)
{
	bd_sim_params_t wp;
	bd_sim_world_t *w;
	char err[128];
	(void)state;
	bd_sim_params_default(&wp);
	assert_int_equal(bd_sim_params_set(&wp, "users", "20000", err, sizeof(err)), 0);
	assert_int_equal(bd_sim_params_set(&wp, "feature_noise", "0", err, sizeof(err)), 0);
	assert_int_equal(bd_sim_params_set(&wp, "individual_sd", "0", err, sizeof(err)), 0);
	assert_int_equal(bd_sim_world_new(&wp, &w), 0);
	const int n = 40000, dim = bd_sim_dim(w), J = bd_sim_n_treatments(w), U = 20000;
	float *x = malloc(sizeof(float) * n * dim);
	int *t = malloc(sizeof(int) * n), *users = malloc(sizeof(int) * U), *z = malloc(sizeof(int) * U);
	double *p = malloc(sizeof(double) * n), *v = malloc(sizeof(double) * n),
	       *c = malloc(sizeof(double) * n), *rh = malloc(sizeof(double) * U * J),
	       *ch = malloc(sizeof(double) * U * J), *cv = malloc(sizeof(double) * n);
	float *xu = malloc(sizeof(float) * U * dim);
	uint64_t rng = bd_sim_rng_seed(7, 1);
	for (int i = 0; i < n; i++) {
		bd_sim_outcome_t o;
		int u = (int)(bd_sim_rng_uniform(&rng) * U);
		t[i] = (int)(bd_sim_rng_uniform(&rng) * J);
		bd_sim_outcome(w, u, t[i], &rng, &o);
		p[i] = 1.0 / J;
		v[i] = o.value;
		c[i] = o.cost;
		cv[i] = o.converted;
		memcpy(x + (size_t)i * dim, bd_sim_user_features(w, u), sizeof(float) * dim);
	}
	bd_tsm_params_t tp;
	bd_tsm_params_default(&tp);
	tp.epochs = 20;
	bd_tsm_data_t d = {n, dim, J, x, t, p, v, c};
	bd_tsm_t *m;
	assert_int_equal(bd_tsm_train(&d, &tp, &m), 0);
	for (int u = 0; u < U; u++) {
		users[u] = u;
		memcpy(xu + (size_t)u * dim, bd_sim_user_features(w, u), sizeof(float) * dim);
	}
	evaluate(w, m, xu, users, U, rh, ch, z, "TSM-SL", 0.6);
	hrc(w, x, t, p, cv, v, c, n, xu, users, U);
	/* Bi-DFCL: a biased observational log of the same size, TSM-SL the
	 * teacher; a short bi-level run */
	{
		float *xo = malloc(sizeof(float) * n * dim);
		int *to = malloc(sizeof(int) * n);
		double *po = malloc(sizeof(double) * n), *vo = malloc(sizeof(double) * n),
		       *co = malloc(sizeof(double) * n), lp[16];
		for (int i = 0; i < n; i++) {
			bd_sim_outcome_t o;
			int u = (int)(bd_sim_rng_uniform(&rng) * U);
			double q = bd_sim_rng_uniform(&rng), acc = 0;
			bd_sim_logging_probs(w, u, 0.1, lp);
			for (to[i] = 0; to[i] < J - 1; to[i]++)
				if (q < (acc += lp[to[i]]))
					break;
			bd_sim_outcome(w, u, to[i], &rng, &o);
			po[i] = 1;
			vo[i] = o.value;
			co[i] = o.cost;
			memcpy(xo + (size_t)i * dim, bd_sim_user_features(w, u), sizeof(float) * dim);
		}
		bd_tsm_data_t od = {n, dim, J, xo, to, po, vo, co};
		bd_bidfcl_params_t bp;
		bd_bidfcl_params_default(&bp);
		bp.outer = 30;
		bd_bidfcl_stats_t st;
		bd_tsm_t *bi;
		assert_int_equal(bd_bidfcl_train(&od, &d, m, &tp, &bp, &bi, &st), 0);
		assert_int_equal(st.upper_steps, 30);
		assert_true(st.gate_value > 0 && st.gate_value < 1 && st.gate_cost > 0 &&
			    st.gate_cost < 1);
		evaluate(w, bi, xu, users, U, rh, ch, z, "Bi-DFCL", 0.6);
		bd_tsm_free(bi);
		/* the implicit-differentiation parts against finite differences */
		double he, gs, gv, me;
		bd_tsm_params_t quick = tp;
		quick.epochs = 2;
		assert_int_equal(bd_bidfcl_check(&od, &d, m, &quick, &bp, &he, &gs, &gv, &me), 0);
		print_message("Bi-DFCL checks: v'Hv relative error %.2e, Gauss-Newton asymmetry "
			      "%.2e (v'Gv %.3g), mixed product %.2e\n", he, gs, gv, me);
		assert_true(gs < 1e-2 && gv > 0); /* measured 1.2e-3 */
		/* both sides are finite differences over ReLU kinks: measured
		 * 5.8e-3 and 1.7e-3; a wrong sign or factor gives ~1 or more */
		assert_true(he < 2e-2);
		assert_true(me < 2e-2);
		bp.cg_iters = 0; /* bad parameters */
		assert_int_equal(bd_bidfcl_train(&od, &d, m, &tp, &bp, &bi, NULL), BD_EINVAL);
		assert_null(bi);
		free(xo);
		free(to);
		free(po);
		free(vo);
		free(co);
	}
	/* DFCL-IFD on a copy of the warm start */
	bd_dfcl_params_t dp;
	bd_dfcl_params_default(&dp);
	{
		bd_tsm_t *cp;
		assert_int_equal(bd_tsm_clone(m, &cp), 0);
		dp.ifd = 1;
		assert_int_equal(bd_dfcl_finetune(cp, &d, &dp), 0);
		evaluate(w, cp, xu, users, U, rh, ch, z, "DFCL-IFD", 0.3);
		bd_tsm_free(cp);
		dp.ifd = 0;
	}
	/* DFCL-PL: the same model fine-tuned with the decision loss */
	assert_int_equal(bd_dfcl_finetune(m, &d, &dp), 0);
	evaluate(w, m, xu, users, U, rh, ch, z, "DFCL-PL", 0.6);
	/* the end-to-end method: a fresh warm start, the perturbation gradient */
	bd_tsm_t *e2e;
	bd_e2e_params_t ep;
	bd_e2e_params_default(&ep);
	assert_int_equal(bd_tsm_train(&d, &tp, &e2e), 0);
	assert_int_equal(bd_e2e_finetune(e2e, &d, &ep), 0);
	evaluate(w, e2e, xu, users, U, rh, ch, z, "end-to-end", 0.6);
	bd_tsm_free(e2e);
	bd_tsm_free(m);
	bd_sim_world_free(w);
	free(x);
	free(t);
	free(users);
	free(z);
	free(p);
	free(v);
	free(c);
	free(rh);
	free(ch);
	free(cv);
	free(xu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tsm_beats_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
