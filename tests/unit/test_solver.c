/*
 * solver.c against GLPK: the LP optimum (simplex) and the integer optimum
 * (branch and cut) of many random instances, to 1e-9 relative; the plans'
 * structure (rows sum to 1, within budget, at most one split cluster); the
 * curve; the integer solver against brute force on tiny instances; the
 * chance-constrained plan's guarantees.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <glpk.h>

#include "budgetd/base/hash.h"
#include "budgetd/policy/solver.h"

#define REL 1e-9

typedef struct inst_s {
	int k, j;
	double *share, *r, *c, budget;
} inst_t;

static double unit(uint64_t *s)
{
	return bd_hash_unit(bd_hash_next(s));
}

/* Random instance; @p kind varies the shape: 0 plain, 1 control arm free
 * and values increasing with cost (the usual coupon ladder), 2 ties and
 * duplicates, 3 zero shares and negative values. */
static void inst_random(inst_t *in, uint64_t *s, int kmax, int jmax, int kind)
{
	in->k = 1 + (int)(unit(s) * kmax);
	in->j = 1 + (int)(unit(s) * jmax);
	in->share = malloc(sizeof(double) * in->k);
	in->r = malloc(sizeof(double) * in->k * in->j);
	in->c = malloc(sizeof(double) * in->k * in->j);
	double tot = 0;
	for (int k = 0; k < in->k; k++) {
		in->share[k] = (kind == 3 && unit(s) < 0.2) ? 0 : 0.05 + unit(s);
		tot += in->share[k];
		double base = unit(s) * 5;
		for (int t = 0; t < in->j; t++) {
			double *r = &in->r[k * in->j + t], *c = &in->c[k * in->j + t];
			switch (kind) {
			case 1:
				*c = t == 0 ? 0 : t * (0.5 + unit(s));
				*r = base + (t == 0 ? 0 : 3 * sqrt(*c) * unit(s) + t * 0.1);
				break;
			case 2:
				*c = floor(unit(s) * 4);
				*r = floor(unit(s) * 4);
				break;
			case 3:
				*c = unit(s) * 3;
				*r = unit(s) * 4 - 2;
				break;
			default:
				*c = unit(s) * 3;
				*r = unit(s) * 5;
			}
		}
	}
	if (tot == 0)
		in->share[0] = tot = 1;
	for (int k = 0; k < in->k; k++)
		in->share[k] /= tot;
	/* budgets across the whole range, incl. below the cheapest plan and
	 * above the value-maximising one */
	double minc = 0, maxc = 0;
	for (int k = 0; k < in->k; k++) {
		double lo = INFINITY, hi = 0;
		for (int t = 0; t < in->j; t++) {
			lo = fmin(lo, in->c[k * in->j + t]);
			hi = fmax(hi, in->c[k * in->j + t]);
		}
		minc += in->share[k] * lo;
		maxc += in->share[k] * hi;
	}
	in->budget = minc + (maxc - minc) * (unit(s) * 1.2 - 0.1);
}

static void inst_free(inst_t *in)
{
	free(in->share);
	free(in->r);
	free(in->c);
}

/* GLPK's optimum (@p eq: the budget spent exactly); @returns 0 when
 * feasible. */
static int glpk_solve_eq(const inst_t *in, int integer, int eq, double *opt)
{
	glp_prob *lp = glp_create_prob();
	int n = in->k * in->j, nz = 2 * n, *ia = malloc(sizeof(int) * (nz + 1)),
	    *ja = malloc(sizeof(int) * (nz + 1)), rc = 1;
	double *ar = malloc(sizeof(double) * (nz + 1));
	glp_set_obj_dir(lp, GLP_MAX);
	glp_add_rows(lp, in->k + 1);
	for (int k = 0; k < in->k; k++)
		glp_set_row_bnds(lp, k + 1, GLP_FX, 1, 1);
	glp_set_row_bnds(lp, in->k + 1, eq ? GLP_FX : GLP_UP, in->budget, in->budget);
	glp_add_cols(lp, n);
	int e = 0;
	for (int k = 0; k < in->k; k++)
		for (int t = 0; t < in->j; t++) {
			int col = k * in->j + t + 1;
			glp_set_col_bnds(lp, col, GLP_DB, 0, 1);
			if (integer)
				glp_set_col_kind(lp, col, GLP_BV);
			glp_set_obj_coef(lp, col, in->share[k] * in->r[col - 1]);
			++e, ia[e] = k + 1, ja[e] = col, ar[e] = 1;
			++e, ia[e] = in->k + 1, ja[e] = col, ar[e] = in->share[k] * in->c[col - 1];
		}
	glp_load_matrix(lp, e, ia, ja, ar);
	glp_smcp sp;
	glp_init_smcp(&sp);
	sp.msg_lev = GLP_MSG_OFF;
	sp.presolve = GLP_OFF;
	if (glp_simplex(lp, &sp) == 0 && glp_get_status(lp) == GLP_OPT) {
		if (!integer) {
			/* (glp_exact was tried: it stopped 2e-10 off the
			 * budget row on some instances; the double simplex
			 * agrees with the curve to ~1e-15) */
			*opt = glp_get_obj_val(lp);
			rc = 0;
		} else {
			glp_iocp ip;
			glp_init_iocp(&ip);
			ip.msg_lev = GLP_MSG_OFF;
			ip.mip_gap = 0;
			ip.tol_obj = 1e-13;
			if (glp_intopt(lp, &ip) == 0 && glp_mip_status(lp) == GLP_OPT) {
				*opt = glp_mip_obj_val(lp);
				rc = 0;
			}
		}
	}
	glp_delete_prob(lp);
	free(ia);
	free(ja);
	free(ar);
	return rc;
}

static int glpk_solve(const inst_t *in, int integer, double *opt)
{
	return glpk_solve_eq(in, integer, 0, opt);
}

static void check_plan(const inst_t *in, const double *prob, const bd_solver_result_t *res)
{
	double v = 0, c = 0;
	int split = 0;
	for (int k = 0; k < in->k; k++) {
		double sum = 0;
		int nz = 0;
		for (int t = 0; t < in->j; t++) {
			double x = prob[k * in->j + t];
			assert_true(x >= 0 && x <= 1);
			sum += x;
			nz += x > 0;
			v += in->share[k] * x * in->r[k * in->j + t];
			c += in->share[k] * x * in->c[k * in->j + t];
		}
		assert_true(fabs(sum - 1) < 1e-12);
		assert_in_range(nz, 1, 2);
		split += nz == 2;
	}
	assert_in_range(split, 0, 1);
	if (fabs(v - res->value) > 1e-12 * (1 + fabs(v)) || fabs(c - res->cost) > 1e-12 * (1 + c))
		fail_msg("plan value %.15g cost %.15g, result %.15g %.15g", v, c, res->value, res->cost);
	if (res->feasible && c > in->budget + 1e-12 * (1 + in->budget))
		fail_msg("plan cost %.15g over budget %.15g", c, in->budget);
}

static void expect_close(const char *what, int trial, double ours, double theirs)
{
	if (fabs(ours - theirs) > REL * fmax(1, fabs(theirs)))
		fail_msg("%s, instance %d: ours %.15g, GLPK %.15g (diff %.3g)", what, trial,
			 ours, theirs, ours - theirs);
}

static void test_lp_against_glpk(void **state)
{
	uint64_t s = 2026;
	int compared = 0, infeasible = 0;
	(void)state;
	for (int trial = 0; trial < 2000; trial++) {
		inst_t in;
		inst_random(&in, &s, trial < 1000 ? 8 : 60, trial < 1000 ? 4 : 10, trial % 4);
		double *prob = malloc(sizeof(double) * in.k * in.j), opt;
		bd_solver_problem_t p = {in.k, in.j, in.share, in.r, in.c};
		bd_solver_result_t res;
		assert_int_equal(bd_solver_lp(&p, in.budget, prob, &res), 0);
		check_plan(&in, prob, &res);
		if (glpk_solve(&in, 0, &opt) == 0) {
			assert_true(res.feasible);
			expect_close("LP", trial, res.value, opt);
			compared++;
		} else {
			assert_false(res.feasible);
			infeasible++;
		}
		free(prob);
		inst_free(&in);
	}
	print_message("LP: %d instances equal to GLPK's optimum, %d infeasible on both\n",
		      compared, infeasible);
	assert_true(compared > 1500 && infeasible > 20);
}

/* BD_SOLVER_LAND: the best plan that spends the budget exactly, up to the
 * costliest plan: GLPK with the budget row fixed. */
static void test_land_against_glpk(void **state)
{
	uint64_t s = 4049;
	int compared = 0, past_peak = 0;
	(void)state;
	for (int trial = 0; trial < 1000; trial++) {
		inst_t in;
		inst_random(&in, &s, trial < 500 ? 8 : 40, trial < 500 ? 4 : 8, trial % 4);
		double *prob = malloc(sizeof(double) * in.k * in.j), opt;
		bd_solver_problem_t p = {in.k, in.j, in.share, in.r, in.c};
		bd_solver_curve_t *cv, *plain;
		bd_solver_result_t res;
		assert_int_equal(bd_solver_curve_build(&p, BD_SOLVER_LAND, &cv), 0);
		assert_int_equal(bd_solver_curve_new(&p, &plain), 0);
		assert_true(bd_solver_curve_max_cost(cv) >= bd_solver_curve_max_cost(plain));
		if (in.budget > bd_solver_curve_max_cost(cv))
			in.budget = bd_solver_curve_max_cost(cv) * unit(&s);
		past_peak += in.budget > bd_solver_curve_max_cost(plain);
		assert_int_equal(bd_solver_curve_plan(cv, in.budget, prob, &res), 0);
		check_plan(&in, prob, &res);
		if (glpk_solve_eq(&in, 0, 1, &opt) == 0) {
			assert_true(res.feasible);
			assert_true(fabs(res.cost - in.budget) < 1e-9 * (1 + in.budget));
			expect_close("LP spending the budget", trial, res.value, opt);
			compared++;
		}
		bd_solver_curve_free(cv);
		bd_solver_curve_free(plain);
		free(prob);
		inst_free(&in);
	}
	print_message("land: %d instances equal to GLPK's (budget row fixed), %d past the "
		      "value-maximising spend\n", compared, past_peak);
	assert_true(compared > 800 && past_peak > 100);
}

static void test_integer_against_glpk(void **state)
{
	uint64_t s = 7;
	int compared = 0;
	long nodes = 0;
	(void)state;
	for (int trial = 0; trial < 600; trial++) {
		inst_t in;
		inst_random(&in, &s, trial < 300 ? 8 : 40, trial < 300 ? 4 : 8, trial % 4);
		int *arm = malloc(sizeof(int) * in.k);
		double opt;
		bd_solver_problem_t p = {in.k, in.j, in.share, in.r, in.c};
		bd_solver_result_t res;
		bd_solver_int_stats_t st;
		assert_int_equal(bd_solver_integer(&p, in.budget, 0, arm, &res, &st), 0);
		if (!st.proven)
			fail_msg("instance %d: not proven (%ld nodes, core %d)", trial, st.nodes, st.core);
		double v = 0, c = 0;
		for (int k = 0; k < in.k; k++) {
			assert_in_range(arm[k], 0, in.j - 1);
			v += in.share[k] * in.r[k * in.j + arm[k]];
			c += in.share[k] * in.c[k * in.j + arm[k]];
		}
		assert_true(fabs(v - res.value) < 1e-12 * (1 + fabs(v)));
		if (glpk_solve(&in, 1, &opt) == 0) {
			assert_true(res.feasible);
			assert_true(c <= in.budget * (1 + 1e-12) + 1e-12);
			expect_close("integer", trial, res.value, opt);
			assert_true(res.value <= st.lp_value + 1e-12 * (1 + fabs(st.lp_value)));
			compared++;
			nodes += st.nodes;
		} else {
			assert_false(res.feasible);
		}
		free(arm);
		inst_free(&in);
	}
	print_message("integer: %d instances equal to GLPK's MILP optimum (%ld B&B nodes)\n",
		      compared, nodes);
	assert_true(compared > 450);
}

static void test_integer_brute_force(void **state)
{
	uint64_t s = 99;
	(void)state;
	for (int trial = 0; trial < 500; trial++) {
		inst_t in;
		inst_random(&in, &s, 6, 4, trial % 4);
		int *arm = malloc(sizeof(int) * in.k), *x = calloc(in.k, sizeof(int));
		bd_solver_problem_t p = {in.k, in.j, in.share, in.r, in.c};
		bd_solver_result_t res;
		bd_solver_int_stats_t st;
		assert_int_equal(bd_solver_integer(&p, in.budget, 0, arm, &res, &st), 0);
		double best = -INFINITY;
		for (;;) {
			double v = 0, c = 0;
			for (int k = 0; k < in.k; k++) {
				v += in.share[k] * in.r[k * in.j + x[k]];
				c += in.share[k] * in.c[k * in.j + x[k]];
			}
			if (c <= in.budget && v > best)
				best = v;
			int k = 0;
			while (k < in.k && ++x[k] == in.j)
				x[k++] = 0;
			if (k == in.k)
				break;
		}
		if (best > -INFINITY)
			expect_close("integer vs enumeration", trial, res.value, best);
		else
			assert_false(res.feasible);
		free(arm);
		free(x);
		inst_free(&in);
	}
}

static void test_curve(void **state)
{
	uint64_t s = 5;
	(void)state;
	for (int trial = 0; trial < 200; trial++) {
		inst_t in;
		inst_random(&in, &s, 30, 6, trial % 4);
		bd_solver_problem_t p = {in.k, in.j, in.share, in.r, in.c};
		bd_solver_curve_t *cv;
		const double *cc, *cvv;
		double *prob = malloc(sizeof(double) * in.k * in.j);
		assert_int_equal(bd_solver_curve_new(&p, &cv), 0);
		int n = bd_solver_curve_points(cv, &cc, &cvv);
		for (int i = 1; i < n; i++) {
			assert_true(cc[i] >= cc[i - 1] && cvv[i] >= cvv[i - 1]);
			if (i >= 2) { /* concave: slopes do not increase */
				double s1 = (cvv[i - 1] - cvv[i - 2]) / (cc[i - 1] - cc[i - 2]);
				double s2 = (cvv[i] - cvv[i - 1]) / (cc[i] - cc[i - 1]);
				if (cc[i] - cc[i - 1] > 1e-9 && cc[i - 1] - cc[i - 2] > 1e-9)
					assert_true(s2 <= s1 * (1 + 1e-9) + 1e-12);
			}
		}
		assert_true(bd_solver_curve_max_cost(cv) == cc[n - 1]);
		/* a lookup equals a solve at every budget, and lambda is the slope */
		for (int b = 0; b < 20; b++) {
			double budget = cc[n - 1] * unit(&s) * 1.1, lambda;
			bd_solver_result_t res;
			double v = bd_solver_curve_value(cv, budget, &lambda);
			assert_int_equal(bd_solver_curve_plan(cv, budget, prob, &res), 0);
			assert_true(fabs(v - res.value) < 1e-12 * (1 + fabs(v)));
			assert_true(lambda == res.lambda && lambda >= 0);
			if (budget >= cc[n - 1])
				assert_true(lambda == 0);
		}
		bd_solver_curve_free(cv);
		free(prob);
		inst_free(&in);
	}
}

static void test_edges(void **state)
{
	double share[1] = {1}, r[3] = {1, 2, 3}, c[3] = {0, 1, 2}, prob[3];
	bd_solver_problem_t p = {1, 3, share, r, c};
	bd_solver_result_t res;
	(void)state;
	assert_int_equal(bd_solver_lp(&p, 10, prob, &res), 0); /* budget not binding */
	assert_true(prob[2] == 1 && res.lambda == 0 && res.value == 3 && res.split == -1);
	assert_int_equal(bd_solver_lp(&p, 0, prob, &res), 0); /* nothing to spend */
	assert_true(res.cost == 0 && prob[0] == 1 && res.lambda == 1);
	assert_int_equal(bd_solver_lp(&p, 1.5, prob, &res), 0); /* between arms */
	assert_true(fabs(res.cost - 1.5) < 1e-12 && fabs(res.value - 2.5) < 1e-12 && res.split == 0);
	assert_int_equal(bd_solver_lp(&p, -1, prob, &res), 0); /* infeasible */
	assert_true(!res.feasible && prob[0] == 1);
	assert_int_equal(bd_solver_lp(&p, NAN, prob, &res), BD_EINVAL);
	r[1] = NAN;
	assert_int_equal(bd_solver_lp(&p, 1, prob, &res), BD_EINVAL);
	r[1] = 2;
	c[2] = -1;
	assert_int_equal(bd_solver_lp(&p, 1, prob, &res), BD_EINVAL);
	c[2] = 2;
	p.k = 0;
	assert_int_equal(bd_solver_lp(&p, 1, prob, &res), BD_EINVAL);
}

static void test_stochastic(void **state)
{
	uint64_t s = 11;
	(void)state;
	for (int trial = 0; trial < 100; trial++) {
		inst_t in;
		inst_random(&in, &s, 40, 6, 1);
		int kj = in.k * in.j;
		bd_solver_problem_t p = {in.k, in.j, in.share, in.r, in.c};
		bd_solver_curve_t *cv;
		double *prob = malloc(sizeof(double) * kj), *lp = malloc(sizeof(double) * kj),
		       *se = malloc(sizeof(double) * kj), *var = malloc(sizeof(double) * kj);
		for (int i = 0; i < kj; i++) {
			se[i] = 0.05 * in.c[i];
			var[i] = in.c[i] * 2;
		}
		assert_int_equal(bd_solver_curve_new(&p, &cv), 0);
		bd_solver_result_t lres;
		assert_int_equal(bd_solver_curve_plan(cv, in.budget, lp, &lres), 0);
		if (!lres.feasible || in.budget <= 0) {
			bd_solver_curve_free(cv);
			goto next;
		}
		/* no uncertainty: the LP plan itself, and it never overspends */
		bd_solver_uncertainty_t u = {NULL, NULL, NULL, 1000, 0, 200, 1, 0, 1};
		bd_solver_stoch_result_t sr;
		assert_int_equal(bd_solver_stochastic(&p, cv, in.budget, &u, prob, &sr), 0);
		if (fabs(sr.plan.value - lres.value) > 1e-12 * (1 + fabs(lres.value)))
			fail_msg("instance %d: stochastic %.15g (cost %.15g, P %g), LP %.15g (cost %.15g), budget %.15g",
				 trial, sr.plan.value, sr.plan.cost, sr.overspend_prob, lres.value, lres.cost, in.budget);
		assert_true(sr.overspend_prob == 0);
		assert_true(fabs(sr.expected_value - 1000 * lres.value) < 1e-9 * (1 + fabs(lres.value) * 1000));
		/* with uncertainty: within the allowed level, never above the LP,
		 * and a looser level never buys less */
		u.r_se = se;
		u.c_se = se;
		u.c_var = var;
		u.requests_cv = 0.05;
		double prev = -INFINITY;
		for (int a = 0; a < 3; a++) {
			u.max_overspend = (double[]){0.01, 0.1, 0.5}[a];
			assert_int_equal(bd_solver_stochastic(&p, cv, in.budget, &u, prob, &sr), 0);
			check_plan(&in, prob, &sr.plan);
			if (sr.plan.feasible)
				assert_true(sr.overspend_prob <= u.max_overspend);
			assert_true(sr.plan.value <= lres.value + 1e-12 * (1 + fabs(lres.value)));
			assert_true(sr.plan.cost <= in.budget * (1 + 1e-12));
			assert_true(sr.plan.value >= prev - 1e-12 * (1 + fabs(prev)));
			prev = sr.plan.value;
		}
		/* when later solves can correct most of the spend (horizon
		 * 0.1), less shading is needed: never less value */
		u.max_overspend = 0.1;
		assert_int_equal(bd_solver_stochastic(&p, cv, in.budget, &u, prob, &sr), 0);
		double full = sr.plan.value;
		u.horizon = 0.1;
		assert_int_equal(bd_solver_stochastic(&p, cv, in.budget, &u, prob, &sr), 0);
		assert_true(sr.plan.value >= full - 1e-12 * (1 + fabs(full)));
		if (sr.plan.feasible)
			assert_true(sr.overspend_prob <= 0.1);
		u.horizon = 1;
		bd_solver_curve_free(cv);
	next:
		free(prob);
		free(lp);
		free(se);
		free(var);
		inst_free(&in);
	}
}

int main(void)
{
	glp_term_out(GLP_OFF);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_lp_against_glpk),
		cmocka_unit_test(test_land_against_glpk),
		cmocka_unit_test(test_integer_against_glpk),
		cmocka_unit_test(test_integer_brute_force),
		cmocka_unit_test(test_curve),
		cmocka_unit_test(test_stochastic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
