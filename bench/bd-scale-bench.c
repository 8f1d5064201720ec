/*
 * bd-scale-bench: how training, assignment and the budget solve grow with
 * the number of users (issue 5's scale sweep), budgetd's cluster method
 * beside the per-user method (TSM-SL) in the same run.
 *
 *   bd-scale-bench [N ...]        (default 100000 1000000 10000000)
 *
 * Models are trained once (RCT samples of a 100 000-user world, 3 epochs):
 * the representation network, k-means (K=8) and the distilled classifier;
 * and TSM-SL.  Then per size N (N arrivals drawn from the world):
 *  - epoch_s: one training epoch over N RCT samples, representation network
 *    (budgetd) and TSM-SL;
 *  - assign_s: budgetd classifies N users with the distilled classifier;
 *    TSM-SL predicts value and cost of every treatment for N users;
 *  - solve: budgetd: the exact cluster LP at half the value-maximising
 *    spend (the daemon keeps the cluster shares in its statistics; here
 *    they are also counted over the N ids, reported with the LP as
 *    with_share_count_ms); per user: the Lagrangian bisection on the N
 *    users' predictions, 60 steps, as TSM-SL allocates.
 * Ends with
 *   scale: users=N1,.. cluster_solve_us=.. with_share_count_ms=.. per_user_solve_ms=..
 *          rep_epoch_s=.. tsm_epoch_s=..
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "budgetd/lab/baselines.h"
#include "budgetd/learn/distill.h"
#include "budgetd/learn/kmeans.h"
#include "budgetd/learn/represent.h"
#include "budgetd/lab/simworld.h"
#include "budgetd/policy/solver.h"

#define K 8
#define MAXN 16

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct rct_s {
	int n;
	float *x;
	int *t;
	double *p, *cv, *v, *c;
} rct_t;

static void rct_free(rct_t *r)
{
	free(r->x);
	free(r->t);
	free(r->p);
	free(r->cv);
	free(r->v);
	free(r->c);
}

static int rct_make(const bd_sim_world_t *w, int n, uint64_t seed, rct_t *r)
{
	const int J = bd_sim_n_treatments(w), dim = bd_sim_dim(w), U = bd_sim_n_users(w);
	uint64_t rng = seed;
	r->n = n;
	r->x = malloc(sizeof(float) * (size_t)n * (size_t)dim);
	r->t = malloc(sizeof(int) * (size_t)n);
	r->p = malloc(sizeof(double) * (size_t)n);
	r->cv = malloc(sizeof(double) * (size_t)n);
	r->v = malloc(sizeof(double) * (size_t)n);
	r->c = malloc(sizeof(double) * (size_t)n);
	if (!r->x || !r->t || !r->p || !r->cv || !r->v || !r->c)
		return -1;
	for (int i = 0; i < n; i++) {
		int u = (int)(bd_sim_rng_next(&rng) % (uint64_t)U);
		bd_sim_outcome_t o;
		r->t[i] = (int)(bd_sim_rng_next(&rng) % (uint64_t)J);
		r->p[i] = 1.0 / J;
		bd_sim_outcome(w, u, r->t[i], &rng, &o);
		r->cv[i] = o.converted;
		r->v[i] = o.value;
		r->c[i] = o.cost;
		memcpy(r->x + (size_t)i * dim, bd_sim_user_features(w, u), sizeof(float) * (size_t)dim);
	}
	return 0;
}

/* Per-capita spend of the per-user argmax at lambda; z receives the arms. */
static double spend_at(const double *rh, const double *ch, int n, int J, double lam)
{
	double s = 0;
	for (int i = 0; i < n; i++) {
		const double *r = rh + (size_t)i * J, *c = ch + (size_t)i * J;
		int z = 0;
		for (int t = 1; t < J; t++)
			if (r[t] - lam * c[t] > r[z] - lam * c[z])
				z = t;
		s += c[z];
	}
	return s / n;
}

/* " name=v1,v2,..", each value with @p decimals decimals. */
static void print_list(const char *name, const double *v, int n, int decimals)
{
	printf(" %s=", name);
	for (int i = 0; i < n; i++)
		printf("%s%.*f", i ? "," : "", decimals, v[i]);
}

int main(int argc, char **argv)
{
	int sizes[MAXN], ns = 0;
	for (int a = 1; a < argc && ns < MAXN; a++)
		if ((sizes[ns++] = atoi(argv[a])) < 1000) {
			fprintf(stderr, "usage: bd-scale-bench [N >= 1000 ...]\n");
			return 2;
		}
	if (ns == 0) {
		sizes[0] = 100000;
		sizes[1] = 1000000;
		sizes[2] = 10000000;
		ns = 3;
	}
	bd_sim_params_t wp;
	bd_sim_world_t *w;
	bd_sim_params_default(&wp);
	if (bd_sim_world_new(&wp, &w))
		return 1;
	const int J = bd_sim_n_treatments(w), dim = bd_sim_dim(w);

	/* the models, once */
	rct_t tr = {0};
	if (rct_make(w, 100000, 17, &tr))
		return 1;
	bd_rep_data_t rd = {tr.n, dim, J, tr.x, tr.t, tr.p, tr.cv, tr.v, tr.c};
	bd_rep_params_t rp;
	bd_rep_metrics_t rm;
	bd_rep_t *rep = NULL;
	bd_rep_params_default(&rp);
	rp.epochs = 3;
	bd_tsm_params_t tp;
	bd_tsm_params_default(&tp);
	tp.epochs = 3;
	bd_tsm_data_t td = {tr.n, dim, J, tr.x, tr.t, tr.p, tr.v, tr.c};
	bd_tsm_t *tsm = NULL;
	if (bd_rep_train(&rd, &rp, &rep, &rm) || bd_tsm_train(&td, &tp, &tsm))
		return 1;
	double *h = malloc(sizeof(double) * (size_t)tr.n * (size_t)rp.rep_dim);
	int *lab = malloc(sizeof(int) * (size_t)tr.n);
	bd_kmeans_params_t kp;
	bd_kmeans_result_t km;
	bd_distill_params_t dp;
	bd_distill_metrics_t dm;
	bd_cluster_model_t *student = NULL;
	bd_kmeans_params_default(&kp);
	kp.k = K;
	if (!h || !lab || bd_rep_embed(rep, tr.x, tr.n, h) ||
	    bd_kmeans_fit(h, tr.n, rp.rep_dim, &kp, &km) ||
	    bd_kmeans_assign_all(&km, h, tr.n, lab, NULL))
		return 1;
	bd_distill_params_default(&dp);
	if (bd_distill_train(tr.x, tr.n, dim, lab, K, rep->mean, rep->scale, &dp, &student, &dm))
		return 1;
	/* cluster cell means from the training samples */
	double cr[K * 16] = {0}, cc[K * 16] = {0}, cn[K * 16] = {0};
	for (int i = 0; i < tr.n; i++) {
		int k = bd_cluster_assign(student, tr.x + (size_t)i * dim);
		cr[k * J + tr.t[i]] += tr.v[i];
		cc[k * J + tr.t[i]] += tr.c[i];
		cn[k * J + tr.t[i]]++;
	}
	for (int i = 0; i < K * J; i++) {
		cr[i] = cn[i] > 0 ? cr[i] / cn[i] : 0;
		cc[i] = cn[i] > 0 ? cc[i] / cn[i] : 0;
	}
	free(h);
	free(lab);

	printf("# %ld cores; models trained once on %d RCT samples (3 epochs); K=%d, %d treatments\n",
	       sysconf(_SC_NPROCESSORS_ONLN), tr.n, K, J);
	printf("# %10s %12s %12s %12s %12s %14s %12s %16s   (lambda, spend per capita: cluster/per-user)\n",
	       "users", "rep_epoch_s", "tsm_epoch_s", "classify_s", "predict_s", "cluster_sol_ms",
	       "(lp_only_us)", "per_user_sol_ms");
	double r_cl[MAXN], r_cnt[MAXN], r_pu[MAXN], r_re[MAXN], r_te[MAXN];
	for (int si = 0; si < ns; si++) {
		const int n = sizes[si];
		rct_t d = {0};
		if (rct_make(w, n, 1000 + (uint64_t)si, &d))
			return 1;
		/* one epoch each */
		bd_rep_data_t dd = {n, dim, J, d.x, d.t, d.p, d.cv, d.v, d.c};
		bd_rep_params_t r1 = rp;
		bd_rep_metrics_t m1;
		bd_rep_t *tmp = NULL;
		r1.epochs = 1;
		double t0 = now();
		if (bd_rep_train(&dd, &r1, &tmp, &m1))
			return 1;
		double rep_s = now() - t0;
		bd_rep_free(tmp);
		bd_tsm_data_t dt = {n, dim, J, d.x, d.t, d.p, d.v, d.c};
		bd_tsm_params_t t1p = tp;
		bd_tsm_t *tt = NULL;
		t1p.epochs = 1;
		t0 = now();
		if (bd_tsm_train(&dt, &t1p, &tt))
			return 1;
		double tsm_s = now() - t0;
		bd_tsm_free(tt);

		/* assignment: N users (the sample's features as the arrivals) */
		int *ids = malloc(sizeof(int) * (size_t)n);
		double *rh = malloc(sizeof(double) * (size_t)n * J),
		       *ch = malloc(sizeof(double) * (size_t)n * J);
		if (!ids || !rh || !ch)
			return 1;
		t0 = now();
		for (int i = 0; i < n; i++)
			ids[i] = bd_cluster_assign(student, d.x + (size_t)i * dim);
		double cls_s = now() - t0;
		t0 = now();
		if (bd_tsm_predict(tsm, d.x, n, rh, ch))
			return 1;
		double pred_s = now() - t0;

		/* the budget: half of what maximising predicted value spends */
		double budget = 0.5 * spend_at(rh, ch, n, J, 0);
		/* cluster solve: shares, then the LP */
		t0 = now();
		double share[K] = {0}, prob[K * 16];
		for (int i = 0; i < n; i++)
			share[ids[i]] += 1.0 / n;
		double t_lp = now();
		bd_solver_problem_t sp = {K, J, share, cr, cc};
		bd_solver_result_t res;
		if (bd_solver_lp(&sp, budget, prob, &res))
			return 1;
		double t_end = now();
		double cl_ms = (t_end - t0) * 1e3, lp_us = (t_end - t_lp) * 1e6;
		/* per-user: bisection on lambda */
		t0 = now();
		double lo = 0, hi = 1;
		while (spend_at(rh, ch, n, J, hi) > budget && hi < 1e9)
			hi *= 2;
		for (int it = 0; it < 60; it++) {
			double mid = 0.5 * (lo + hi);
			if (spend_at(rh, ch, n, J, mid) > budget)
				lo = mid;
			else
				hi = mid;
		}
		double pu_ms = (now() - t0) * 1e3;
		/* the results are used (printed), so no compiler can drop a solve */
		double pu_spend = spend_at(rh, ch, n, J, hi);
		printf("  %10d %12.2f %12.2f %12.3f %12.3f %14.3f %12.1f %16.1f   lambda %.4f/%.4f "
		       "spend %.4f/%.4f of %.4f\n",
		       n, rep_s, tsm_s, cls_s, pred_s, cl_ms, lp_us, pu_ms, res.lambda, hi, res.cost,
		       pu_spend, budget);
		fflush(stdout);
		r_cl[si] = lp_us;
		r_cnt[si] = cl_ms;
		r_pu[si] = pu_ms;
		r_re[si] = rep_s;
		r_te[si] = tsm_s;
		free(ids);
		free(rh);
		free(ch);
		rct_free(&d);
	}
	printf("scale:");
	double users[MAXN];
	for (int si = 0; si < ns; si++)
		users[si] = sizes[si];
	print_list("users", users, ns, 0);
	print_list("cluster_solve_us", r_cl, ns, 1);
	print_list("with_share_count_ms", r_cnt, ns, 2);
	print_list("per_user_solve_ms", r_pu, ns, 1);
	print_list("rep_epoch_s", r_re, ns, 2);
	print_list("tsm_epoch_s", r_te, ns, 2);
	printf("\n");
	bd_cluster_model_unref(student);
	bd_kmeans_result_free(&km);
	bd_rep_free(rep);
	bd_tsm_free(tsm);
	rct_free(&tr);
	bd_sim_world_free(w);
	return 0;
}
