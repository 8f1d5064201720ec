/*
 * bd-solver-bench: our solvers beside GLPK on the same instances, in one run.
 *
 *   bd-solver-bench [K] [J] [INSTANCES]      (defaults 1000 10 10)
 *
 * Instances look like a coupon ladder: treatment 0 is the free control,
 * cost rises with the treatment, value rises with diminishing and noisy
 * returns (so many arms fall off the hull), traffic shares are uneven, and
 * the budget is drawn between 10% and 90% of the spend-everything level.
 * Timed: our LP (the whole curve plus the plan at the budget), a budget
 * change on a built curve (lookup + plan), our exact integer plan, GLPK's
 * simplex on the LP and GLPK's branch and cut on the integer programme
 * (model building excluded for GLPK, included for us).  Gaps are relative
 * to GLPK's optimum.  Ends with one line:
 *   solver: K=.. J=.. lp_ms=X glpk_lp_ms=Y speedup=Y/X max_rel_gap=G int_ms=Z glpk_int_ms=V
 */
#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "budgetd/base/hash.h"
#include "budgetd/policy/solver.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static glp_prob *glpk_model(int K, int J, const double *share, const double *r,
			    const double *c, double budget, int integer)
{
	glp_prob *lp = glp_create_prob();
	int n = K * J, *ia = malloc(sizeof(int) * (2 * n + 1)), *ja = malloc(sizeof(int) * (2 * n + 1));
	double *ar = malloc(sizeof(double) * (2 * n + 1));
	glp_set_obj_dir(lp, GLP_MAX);
	glp_add_rows(lp, K + 1);
	for (int k = 0; k < K; k++)
		glp_set_row_bnds(lp, k + 1, GLP_FX, 1, 1);
	glp_set_row_bnds(lp, K + 1, GLP_UP, 0, budget);
	glp_add_cols(lp, n);
	int e = 0;
	for (int k = 0; k < K; k++)
		for (int t = 0; t < J; t++) {
			int col = k * J + t + 1;
			glp_set_col_bnds(lp, col, GLP_DB, 0, 1);
			if (integer)
				glp_set_col_kind(lp, col, GLP_BV);
			glp_set_obj_coef(lp, col, share[k] * r[col - 1]);
			++e, ia[e] = k + 1, ja[e] = col, ar[e] = 1;
			++e, ia[e] = K + 1, ja[e] = col, ar[e] = share[k] * c[col - 1];
		}
	glp_load_matrix(lp, e, ia, ja, ar);
	free(ia);
	free(ja);
	free(ar);
	return lp;
}

int main(int argc, char **argv)
{
	int K = argc > 1 ? atoi(argv[1]) : 1000, J = argc > 2 ? atoi(argv[2]) : 10,
	    N = argc > 3 ? atoi(argv[3]) : 10;
	if (K < 1 || J < 2 || N < 1) {
		fprintf(stderr, "usage: bd-solver-bench [K >= 1] [J >= 2] [INSTANCES >= 1]\n");
		return 2;
	}
	glp_term_out(GLP_OFF);
	double *share = malloc(sizeof(double) * K), *r = malloc(sizeof(double) * K * J),
	       *c = malloc(sizeof(double) * K * J), *prob = malloc(sizeof(double) * K * J);
	int *arm = malloc(sizeof(int) * K);
	double t_lp = 0, t_glp = 0, t_int = 0, t_gint = 0, t_look = 0, gap_lp = 0, gap_int = 0;
	long nodes = 0;
	int core = 0, unproven = 0, curve_pts = 0;
	uint64_t s = 42;

	printf("# K=%d J=%d instances=%d\n", K, J, N);
	printf("# inst   lp_ms glpk_lp_ms   int_ms glpk_int_ms  core    nodes  lp_gap   int_gap\n");
	for (int i = 0; i < N; i++) {
		double tot = 0, maxc = 0;
		for (int k = 0; k < K; k++) {
			share[k] = exp(1.5 * (bd_hash_unit(bd_hash_next(&s)) - 0.5));
			tot += share[k];
			double base = 5 + 40 * bd_hash_unit(bd_hash_next(&s)),
			       resp = 0.2 + 2 * bd_hash_unit(bd_hash_next(&s)), hi = 0;
			for (int t = 0; t < J; t++) {
				double coupon = 2.0 * t;
				double u = bd_hash_unit(bd_hash_next(&s));
				c[k * J + t] = t == 0 ? 0 : coupon * (0.02 + 0.08 * u);
				r[k * J + t] = base * 0.05 +
					       (t == 0 ? 0 : resp * sqrt(coupon) * (0.7 + 0.6 * bd_hash_unit(bd_hash_next(&s))));
				hi = fmax(hi, c[k * J + t]);
			}
			maxc += share[k] * hi;
		}
		for (int k = 0; k < K; k++)
			share[k] /= tot;
		maxc /= tot;
		double budget = maxc * (0.1 + 0.8 * bd_hash_unit(bd_hash_next(&s)));
		bd_solver_problem_t p = {K, J, share, r, c};
		bd_solver_result_t res;
		bd_solver_curve_t *cv;

		double t0 = now_ms();
		if (bd_solver_curve_new(&p, &cv) || bd_solver_curve_plan(cv, budget, prob, &res)) {
			fprintf(stderr, "solver failed\n");
			return 1;
		}
		double t1 = now_ms();
		const double *cc, *vv;
		curve_pts = bd_solver_curve_points(cv, &cc, &vv);
		/* a budget change on the built curve: 100 lookups + plans */
		bd_solver_result_t r2;
		for (int b = 0; b < 100; b++)
			if (bd_solver_curve_plan(cv, maxc * b / 100.0, prob, &r2))
				return 1;
		double t2 = now_ms();
		bd_solver_curve_free(cv);
		double lp_v = res.value;

		glp_prob *lp = glpk_model(K, J, share, r, c, budget, 0);
		glp_smcp sp;
		glp_init_smcp(&sp);
		sp.msg_lev = GLP_MSG_OFF;
		double t3 = now_ms();
		if (glp_simplex(lp, &sp) || glp_get_status(lp) != GLP_OPT) {
			fprintf(stderr, "glpk simplex failed\n");
			return 1;
		}
		double t4 = now_ms(), glp_v = glp_get_obj_val(lp);
		glp_delete_prob(lp);

		bd_solver_int_stats_t st;
		double t5 = now_ms();
		if (bd_solver_integer(&p, budget, 0, arm, &res, &st))
			return 1;
		double t6 = now_ms();
		lp = glpk_model(K, J, share, r, c, budget, 1);
		glp_iocp ip;
		glp_init_iocp(&ip);
		ip.msg_lev = GLP_MSG_OFF;
		ip.presolve = GLP_ON;
		ip.mip_gap = 0;
		ip.tol_obj = 1e-13;
		double t7 = now_ms();
		if (glp_intopt(lp, &ip) || glp_mip_status(lp) != GLP_OPT) {
			fprintf(stderr, "glpk intopt failed\n");
			return 1;
		}
		double t8 = now_ms(), gint_v = glp_mip_obj_val(lp);
		glp_delete_prob(lp);

		double g1 = fabs(lp_v - glp_v) / fmax(1e-300, fabs(glp_v)),
		       g2 = fabs(res.value - gint_v) / fmax(1e-300, fabs(gint_v));
		printf("%6d %7.3f %10.3f %8.3f %11.3f %5d %8ld %7.1e %9.1e\n", i, t1 - t0,
		       t4 - t3, t6 - t5, t8 - t7, st.core, st.nodes, g1, g2);
		t_lp += t1 - t0;
		t_look += (t2 - t1) / 100;
		t_glp += t4 - t3;
		t_int += t6 - t5;
		t_gint += t8 - t7;
		gap_lp = fmax(gap_lp, g1);
		gap_int = fmax(gap_int, g2);
		nodes += st.nodes;
		core += st.core;
		unproven += !st.proven;
	}
	printf("# curve: %d breakpoints; budget change on a built curve: %.1f us; "
	       "integer: mean core %.1f clusters, %ld nodes, %d unproven; "
	       "lp_gap %.1e int_gap %.1e\n",
	       curve_pts, 1e3 * t_look / N, (double)core / N, nodes / N, unproven, gap_lp,
	       gap_int);
	printf("solver: K=%d J=%d lp_ms=%.3f glpk_lp_ms=%.3f speedup=%.1f max_rel_gap=%.1e "
	       "int_ms=%.3f glpk_int_ms=%.3f\n",
	       K, J, t_lp / N, t_glp / N, t_glp / t_lp, fmax(gap_lp, gap_int), t_int / N,
	       t_gint / N);
	free(share);
	free(r);
	free(c);
	free(prob);
	free(arm);
	return unproven ? 1 : 0;
}
