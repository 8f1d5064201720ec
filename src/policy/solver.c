/**
 * @file solver.c
 * @brief Exact LP curve, exact integer plan and chance-constrained plan
 *        over clusters x treatments (see solver.h for the method).
 */
#include "budgetd/policy/solver.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/hash.h"

typedef struct seg_s {
	int k, from, to;
	double dc, dv; /* per request: share-weighted */
	double eff;    /* dv / dc of the unweighted arms */
} seg_t;

struct bd_solver_curve_s {
	int k, j, nseg;
	int *a0;       /* k: cheapest hull arm of each cluster */
	seg_t *seg;    /* nseg, by decreasing efficiency */
	double *cum_c; /* nseg + 1 */
	double *cum_v; /* nseg + 1 */
};

static int check_problem(const bd_solver_problem_t *p)
{
	if (!p || p->k < 1 || p->j < 1 || !p->share || !p->r || !p->c)
		return BD_EINVAL;
	for (int k = 0; k < p->k; k++) {
		if (!isfinite(p->share[k]) || p->share[k] < 0)
			return BD_EINVAL;
		for (int t = 0; t < p->j; t++) {
			double r = p->r[(size_t)k * p->j + t], c = p->c[(size_t)k * p->j + t];
			if (!isfinite(r) || !isfinite(c) || c < 0)
				return BD_EINVAL;
		}
	}
	return 0;
}

/* ---- per-cluster hull -------------------------------------------------------- */

typedef struct arm_s {
	double c, v;
	int t;
} arm_t;

static int arm_cmp(const void *a, const void *b)
{
	const arm_t *x = a, *y = b;
	if (x->c != y->c)
		return x->c < y->c ? -1 : 1;
	if (x->v != y->v)
		return x->v > y->v ? -1 : 1; /* same cost: the better first */
	return x->t - y->t;
}

/* Upper convex hull of cluster k's arms into @p hull (indices of
 * treatments, cost strictly increasing, slopes strictly decreasing: value
 * rises, then, past the value-maximising treatment, falls).  @returns its
 * length. */
static int cluster_hull(const bd_solver_problem_t *p, int k, arm_t *arms, int *hull)
{
	const int J = p->j;
	int n = 0;
	for (int t = 0; t < J; t++)
		arms[t] = (arm_t){p->c[(size_t)k * J + t], p->r[(size_t)k * J + t], t};
	qsort(arms, (size_t)J, sizeof(arm_t), arm_cmp);
	arm_t *h = arms; /* hull kept in place at the front: h[0..n) */
	for (int i = 0; i < J; i++) {
		arm_t a = arms[i];
		if (n > 0 && a.c == h[n - 1].c)
			continue; /* same cost, no more value (sorted) */
		while (n >= 2) {
			double cross = (h[n - 1].v - h[n - 2].v) * (a.c - h[n - 1].c) -
				       (a.v - h[n - 1].v) * (h[n - 1].c - h[n - 2].c);
			if (cross > 0)
				break;
			n--; /* h[n-1] lies on or below the chord */
		}
		h[n++] = a;
	}
	for (int i = 0; i < n; i++)
		hull[i] = h[i].t;
	return n;
}

static int seg_cmp(const void *a, const void *b)
{
	const seg_t *x = a, *y = b;
	if (x->eff != y->eff)
		return x->eff > y->eff ? -1 : 1;
	if (x->k != y->k)
		return x->k - y->k;
	/* same cluster, same efficiency: hull order (costs increase) */
	return x->from == y->to ? 1 : (x->to == y->from ? -1 : 0);
}

void bd_solver_curve_free(bd_solver_curve_t *cv)
{
	if (!cv)
		return;
	free(cv->a0);
	free(cv->seg);
	free(cv->cum_c);
	free(cv->cum_v);
	free(cv);
}

int bd_solver_curve_new(const bd_solver_problem_t *p, bd_solver_curve_t **out)
{
	return bd_solver_curve_build(p, 0, out);
}

int bd_solver_curve_build(const bd_solver_problem_t *p, int flags, bd_solver_curve_t **out)
{
	bd_solver_curve_t *cv = NULL;
	arm_t *arms = NULL;
	int *hull = NULL, err;

	*out = NULL;
	if ((err = check_problem(p)))
		return err;
	err = -ENOMEM;
	const int K = p->k, J = p->j;
	if (!(cv = calloc(1, sizeof(*cv))) || !(arms = malloc(sizeof(arm_t) * (size_t)J)) ||
	    !(hull = malloc(sizeof(int) * (size_t)J)) ||
	    !(cv->a0 = malloc(sizeof(int) * (size_t)K)) ||
	    !(cv->seg = malloc(sizeof(seg_t) * (size_t)K * (size_t)(J > 1 ? J - 1 : 1))))
		goto fail;
	cv->k = K;
	cv->j = J;
	double c0 = 0, v0 = 0;
	for (int k = 0; k < K; k++) {
		int n = cluster_hull(p, k, arms, hull);
		const double s = p->share[k], *r = p->r + (size_t)k * J,
			     *c = p->c + (size_t)k * J;
		cv->a0[k] = hull[0];
		c0 += s * c[hull[0]];
		v0 += s * r[hull[0]];
		double prev_eff = INFINITY;
		for (int i = 1; i < n; i++) {
			int f = hull[i - 1], t = hull[i];
			double eff = (r[t] - r[f]) / (c[t] - c[f]);
			if (!(eff > 0) && !(flags & BD_SOLVER_LAND))
				break; /* more cost, no more value */
			/* rounding must not reorder one cluster's segments */
			if (eff > prev_eff)
				eff = prev_eff;
			prev_eff = eff;
			cv->seg[cv->nseg++] = (seg_t){k, f, t, s * (c[t] - c[f]),
						      s * (r[t] - r[f]), eff};
		}
	}
	qsort(cv->seg, (size_t)cv->nseg, sizeof(seg_t), seg_cmp);
	if (!(cv->cum_c = malloc(sizeof(double) * (size_t)(cv->nseg + 1))) ||
	    !(cv->cum_v = malloc(sizeof(double) * (size_t)(cv->nseg + 1))))
		goto fail;
	cv->cum_c[0] = c0;
	cv->cum_v[0] = v0;
	for (int i = 0; i < cv->nseg; i++) {
		cv->cum_c[i + 1] = cv->cum_c[i] + cv->seg[i].dc;
		cv->cum_v[i + 1] = cv->cum_v[i] + cv->seg[i].dv;
	}
	free(arms);
	free(hull);
	*out = cv;
	return 0;
fail:
	free(arms);
	free(hull);
	bd_solver_curve_free(cv);
	return err;
}

int bd_solver_curve_points(const bd_solver_curve_t *cv, const double **cost,
			   const double **value)
{
	*cost = cv->cum_c;
	*value = cv->cum_v;
	return cv->nseg + 1;
}

double bd_solver_curve_max_cost(const bd_solver_curve_t *cv)
{
	return cv->cum_c[cv->nseg];
}

/* Number of whole segments the budget buys: the largest m with
 * cum_c[m] <= budget (-1 when even the cheapest plan costs more). */
static int prefix_len(const bd_solver_curve_t *cv, double budget)
{
	if (!(budget >= cv->cum_c[0]))
		return -1;
	int lo = 0, hi = cv->nseg; /* cum_c[lo] <= budget */
	while (lo < hi) {
		int mid = lo + (hi - lo + 1) / 2;
		if (cv->cum_c[mid] <= budget)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

double bd_solver_curve_value(const bd_solver_curve_t *cv, double budget, double *lambda)
{
	int m = prefix_len(cv, budget);
	if (m < 0) {
		if (lambda)
			*lambda = cv->nseg ? cv->seg[0].eff : 0;
		return cv->cum_v[0];
	}
	if (m == cv->nseg) {
		if (lambda)
			*lambda = 0;
		return cv->cum_v[m];
	}
	const seg_t *s = &cv->seg[m];
	if (lambda)
		*lambda = s->eff;
	return cv->cum_v[m] + (s->dc > 0 ? (budget - cv->cum_c[m]) / s->dc * s->dv : 0);
}

/* Arms after the first @p m segments into @p arm. */
static void prefix_arms(const bd_solver_curve_t *cv, int m, int *arm)
{
	memcpy(arm, cv->a0, sizeof(int) * (size_t)cv->k);
	for (int i = 0; i < m; i++)
		arm[cv->seg[i].k] = cv->seg[i].to;
}

/* Plan after @p m whole segments plus fraction @p f of segment m. */
static int plan_at(const bd_solver_curve_t *cv, int m, double f, double *prob,
		   bd_solver_result_t *res)
{
	int *arm = malloc(sizeof(int) * (size_t)cv->k);
	if (!arm)
		return -ENOMEM;
	prefix_arms(cv, m, arm);
	memset(prob, 0, sizeof(double) * (size_t)cv->k * (size_t)cv->j);
	for (int k = 0; k < cv->k; k++)
		prob[(size_t)k * cv->j + arm[k]] = 1;
	res->split = -1;
	res->cost = cv->cum_c[m];
	res->value = cv->cum_v[m];
	res->lambda = m < cv->nseg ? cv->seg[m].eff : 0;
	if (m < cv->nseg && f > 0) {
		const seg_t *s = &cv->seg[m];
		prob[(size_t)s->k * cv->j + s->from] = 1 - f;
		prob[(size_t)s->k * cv->j + s->to] = f;
		res->split = s->k;
		res->cost += f * s->dc;
		res->value += f * s->dv;
	}
	free(arm);
	return 0;
}

int bd_solver_curve_plan(const bd_solver_curve_t *cv, double budget, double *prob,
			 bd_solver_result_t *res)
{
	if (!cv || !prob || !res || isnan(budget))
		return BD_EINVAL;
	int m = prefix_len(cv, budget);
	res->feasible = m >= 0;
	if (m < 0)
		return plan_at(cv, 0, 0, prob, res);
	double f = 0;
	if (m < cv->nseg && cv->seg[m].dc > 0)
		f = (budget - cv->cum_c[m]) / cv->seg[m].dc;
	if (f > 1)
		f = 1;
	return plan_at(cv, m, f, prob, res);
}

int bd_solver_lp(const bd_solver_problem_t *p, double budget, double *prob,
		 bd_solver_result_t *res)
{
	bd_solver_curve_t *cv;
	int err = bd_solver_curve_new(p, &cv);
	if (err)
		return err;
	err = bd_solver_curve_plan(cv, budget, prob, res);
	bd_solver_curve_free(cv);
	return err;
}

/* ---- integer: reduced-cost fixing + branch and bound ---------------------------- */

typedef struct bnb_s {
	const bd_solver_problem_t *p;
	double lambda, budget;   /* budget left for the core */
	int n;                   /* core clusters */
	int *cl;                 /* n: core cluster ids */
	int *na;                 /* n: arms left per core cluster */
	int *arms;               /* n x J: arms left, best reduced profit first */
	double *sfx_best;        /* n + 1: sum of max s(r - lambda c) from i on */
	double *sfx_minc;        /* n + 1: sum of min s c from i on */
	int *best;               /* n */
	double best_v;
	long nodes, max_nodes;   /* states generated, and their limit */
	int stopped;
} bnb_t;

/* One partial solution over the first core clusters. */
typedef struct state_s {
	double c, v;
	int parent; /* index in the previous level */
	int arm;
} state_t;

static int state_cmp(const void *a, const void *b)
{
	const state_t *x = a, *y = b;
	if (x->c != y->c)
		return x->c < y->c ? -1 : 1;
	return x->v > y->v ? -1 : (x->v < y->v);
}

/*
 * Exact over the core: dynamic programming on the Pareto frontier of
 * (cost, value) partial solutions (Nemhauser-Ullmann), level by level,
 * dropping dominated states, states that cannot fit the cheapest completion
 * and states whose Lagrangian bound cannot beat the incumbent.  Parent links
 * per level give the arms back.  @returns 0 or -ENOMEM.
 */
static int bnb_pareto(bnb_t *b)
{
	const bd_solver_problem_t *p = b->p;
	const int J = p->j;
	size_t cap = 1024, used = 1, *off = malloc(sizeof(size_t) * (size_t)(b->n + 2));
	state_t *st = malloc(sizeof(state_t) * cap), *tmp = NULL;
	size_t tmp_cap = 0;
	int err = -ENOMEM;
	if (!st || !off)
		goto out;
	st[0] = (state_t){0, 0, -1, -1};
	off[0] = 0;
	off[1] = 1;
	for (int i = 0; i < b->n; i++) {
		const int k = b->cl[i];
		const double s = p->share[k];
		size_t lo = off[i], hi = off[i + 1], n = 0, need = (hi - lo) * (size_t)b->na[i];
		if (need > tmp_cap) {
			free(tmp);
			tmp_cap = need * 2;
			if (!(tmp = malloc(sizeof(state_t) * tmp_cap)))
				goto out;
		}
		for (size_t x = lo; x < hi; x++)
			for (int a = 0; a < b->na[i]; a++) {
				int t = b->arms[(size_t)i * J + a];
				double c = st[x].c + s * p->c[(size_t)k * J + t],
				       v = st[x].v + s * p->r[(size_t)k * J + t];
				if (c + b->sfx_minc[i + 1] > b->budget * (1 + 1e-15) + 1e-300)
					continue;
				double bound = v + b->sfx_best[i + 1] + b->lambda * (b->budget - c);
				if (bound <= b->best_v * (1 + 1e-15) + 1e-300 && b->best_v > -INFINITY)
					continue;
				tmp[n++] = (state_t){c, v, (int)(x - lo), t};
			}
		qsort(tmp, n, sizeof(state_t), state_cmp);
		b->nodes += (long)n;
		if (b->nodes > b->max_nodes) {
			b->stopped = 1;
			err = 0;
			goto out;
		}
		if (used + n > cap) {
			while (used + n > cap)
				cap *= 2;
			state_t *grow = realloc(st, sizeof(state_t) * cap);
			if (!grow)
				goto out;
			st = grow;
		}
		double vmax = -INFINITY;
		for (size_t x = 0; x < n; x++)
			if (tmp[x].v > vmax) { /* keeps the Pareto frontier */
				vmax = tmp[x].v;
				st[used++] = tmp[x];
			}
		off[i + 2] = used;
	}
	/* the best complete solution */
	size_t lo = off[b->n], hi = off[b->n + 1], best = hi;
	for (size_t x = lo; x < hi; x++)
		if (st[x].v > b->best_v && (best == hi || st[x].v > st[best].v))
			best = x;
	if (best < hi) {
		b->best_v = st[best].v;
		size_t x = best;
		for (int i = b->n - 1; i >= 0; i--) {
			b->best[i] = st[x].arm;
			x = off[i] + (size_t)st[x].parent;
		}
	}
	err = 0;
out:
	free(st);
	free(tmp);
	free(off);
	return err;
}

static double plan_value(const bd_solver_problem_t *p, const int *arm, double *cost)
{
	double v = 0, c = 0;
	for (int k = 0; k < p->k; k++) {
		v += p->share[k] * p->r[(size_t)k * p->j + arm[k]];
		c += p->share[k] * p->c[(size_t)k * p->j + arm[k]];
	}
	*cost = c;
	return v;
}

/* A feasible integer plan: the LP prefix (split cluster left on its cheaper
 * arm), then single upgrades that fit, best value gain first per cluster. */
static void greedy_integer(const bd_solver_problem_t *p, const bd_solver_curve_t *cv,
			   double budget, int *arm)
{
	int m = prefix_len(cv, budget);
	prefix_arms(cv, m < 0 ? 0 : m, arm);
	double cost;
	plan_value(p, arm, &cost);
	/* the segments after the split one, in efficiency order, where they fit */
	for (int i = m < 0 ? 0 : m; i < cv->nseg; i++) {
		const seg_t *g = &cv->seg[i];
		if (arm[g->k] == g->from && cost + g->dc <= budget) {
			arm[g->k] = g->to;
			cost += g->dc;
		}
	}
	for (int k = 0; k < p->k; k++) {
		const double s = p->share[k], *r = p->r + (size_t)k * p->j,
			     *c = p->c + (size_t)k * p->j;
		int best = arm[k];
		for (int t = 0; t < p->j; t++)
			if (r[t] > r[best] && cost + s * (c[t] - c[arm[k]]) <= budget)
				best = t;
		cost += s * (c[best] - c[arm[k]]);
		arm[k] = best;
	}
}

int bd_solver_integer(const bd_solver_problem_t *p, double budget, long max_nodes,
		      int *arm, bd_solver_result_t *res, bd_solver_int_stats_t *st)
{
	bd_solver_curve_t *cv = NULL;
	bnb_t b = {0};
	double *red = NULL, *rmax = NULL;
	int *fixed = NULL, err;

	memset(st, 0, sizeof(*st));
	if (isnan(budget))
		return BD_EINVAL;
	if ((err = bd_solver_curve_new(p, &cv)))
		return err;
	const int K = p->k, J = p->j;
	double lambda, ub = bd_solver_curve_value(cv, budget, &lambda);
	st->lp_value = ub;
	res->split = -1;
	res->lambda = lambda;
	if (prefix_len(cv, budget) < 0) {
		prefix_arms(cv, 0, arm);
		res->value = plan_value(p, arm, &res->cost);
		res->feasible = 0;
		st->proven = 1;
		goto out;
	}
	res->feasible = 1;
	greedy_integer(p, cv, budget, arm);
	double lb_cost, lb = plan_value(p, arm, &lb_cost);

	err = -ENOMEM;
	b.p = p;
	b.lambda = lambda;
	b.max_nodes = max_nodes > 0 ? max_nodes : 50000000L;
	if (!(red = malloc(sizeof(double) * (size_t)K * J)) ||
	    !(rmax = malloc(sizeof(double) * (size_t)K)) ||
	    !(b.cl = malloc(sizeof(int) * (size_t)K)) || !(b.na = malloc(sizeof(int) * (size_t)K)) ||
	    !(b.arms = malloc(sizeof(int) * (size_t)K * J)) ||
	    !(b.sfx_best = malloc(sizeof(double) * (size_t)(K + 1))) ||
	    !(b.sfx_minc = malloc(sizeof(double) * (size_t)(K + 1))) ||
	    !(b.best = malloc(sizeof(int) * (size_t)K)) ||
	    !(fixed = malloc(sizeof(int) * (size_t)K)))
		goto out;
	/* Any plan x: V(x) <= ub + sum_k s_k pen_k(x_k), pen <= 0 the reduced
	 * profit.  To beat lb, every chosen arm needs s pen > lb - ub. */
	double gap = ub - lb, tol = 1e-12 * (fabs(ub) + 1e-300);
	for (int k = 0; k < K; k++) {
		rmax[k] = -INFINITY;
		for (int t = 0; t < J; t++) {
			size_t i = (size_t)k * J + t;
			red[i] = p->share[k] * (p->r[i] - lambda * p->c[i]);
			if (red[i] > rmax[k])
				rmax[k] = red[i];
		}
	}
	double fix_c = 0;
	for (int k = 0; k < K; k++)
		fixed[k] = -1;
	for (int k = 0; k < K; k++) {
		int n = 0, *al = b.arms + (size_t)b.n * J;
		const double sk = p->share[k], *r = p->r + (size_t)k * J,
			     *c = p->c + (size_t)k * J;
		for (int t = 0; t < J; t++) {
			if (red[(size_t)k * J + t] - rmax[k] < -gap - tol)
				continue;
			/* dominated by another arm (costs no less, buys no
			 * more; duplicates keep the first): never needed */
			int dom = 0;
			for (int u = 0; u < J && !dom; u++)
				dom = u != t && sk * c[u] <= sk * c[t] && sk * r[u] >= sk * r[t] &&
				      (sk * c[u] < sk * c[t] || sk * r[u] > sk * r[t] || u < t);
			if (!dom)
				al[n++] = t;
		}
		if (n == 1) {
			/* fixed: no other arm of k is in a plan better than lb */
			fix_c += p->share[k] * p->c[(size_t)k * J + al[0]];
			fixed[k] = al[0];
			continue;
		}
		/* best reduced profit first: good incumbents early */
		for (int x = 1; x < n; x++)
			for (int y = x; y > 0 && red[(size_t)k * J + al[y]] > red[(size_t)k * J + al[y - 1]]; y--) {
				int tmp = al[y];
				al[y] = al[y - 1];
				al[y - 1] = tmp;
			}
		b.cl[b.n] = k;
		b.na[b.n] = n;
		b.n++;
	}
	st->core = b.n;
	b.budget = budget - fix_c;
	b.sfx_best[b.n] = 0;
	b.sfx_minc[b.n] = 0;
	for (int i = b.n - 1; i >= 0; i--) {
		int k = b.cl[i];
		double minc = INFINITY;
		for (int a = 0; a < b.na[i]; a++)
			minc = fmin(minc, p->share[k] * p->c[(size_t)k * J + b.arms[(size_t)i * J + a]]);
		b.sfx_best[i] = b.sfx_best[i + 1] + rmax[k];
		b.sfx_minc[i] = b.sfx_minc[i + 1] + minc;
	}
	/* the incumbent restricted to the core: lb minus the fixed part, when
	 * the greedy plan agrees with the fixing; else start from nothing */
	b.best_v = -INFINITY;
	{
		double v = 0, c = 0;
		int ok = 1;
		for (int i = 0; i < b.n && ok; i++) {
			int k = b.cl[i], t = arm[k], in = 0;
			for (int a = 0; a < b.na[i]; a++)
				in |= b.arms[(size_t)i * J + a] == t;
			ok = in;
			v += p->share[k] * p->r[(size_t)k * J + t];
			c += p->share[k] * p->c[(size_t)k * J + t];
			b.best[i] = t;
		}
		if (ok && c <= b.budget * (1 + 1e-15) + 1e-300)
			b.best_v = v;
	}
	if ((err = bnb_pareto(&b)))
		goto out;
	err = -ENOMEM;
	st->nodes = b.nodes;
	st->proven = !b.stopped;
	if (b.best_v > -INFINITY) {
		/* fixed arms + the best core: keep it if it beats the greedy */
		for (int k = 0; k < K; k++)
			fixed[k] = fixed[k] < 0 ? arm[k] : fixed[k];
		for (int i = 0; i < b.n; i++)
			fixed[b.cl[i]] = b.best[i];
		double c, v = plan_value(p, fixed, &c);
		if (v > lb && c <= budget * (1 + 1e-15) + 1e-300)
			memcpy(arm, fixed, sizeof(int) * (size_t)K);
	}
	res->value = plan_value(p, arm, &res->cost);
	err = 0;
out:
	free(red);
	free(rmax);
	free(b.cl);
	free(b.na);
	free(b.arms);
	free(b.sfx_best);
	free(b.sfx_minc);
	free(b.best);
	free(fixed);
	bd_solver_curve_free(cv);
	return err;
}

/* ---- stochastic: chance constraint on the LP curve ------------------------------ */

/* A standard normal that depends only on (seed, a, b, c): scenarios are
 * common random numbers across the plans they price. */
static double gauss(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t h = bd_hash_mix(seed ^ bd_hash_mix(a * 0x9e3779b97f4a7c15ULL ^
						    bd_hash_mix(b * 0xc2b2ae3d27d4eb4fULL ^ c)));
	double u1 = bd_hash_unit(h), u2 = bd_hash_unit(bd_hash_mix(h + 1));
	return sqrt(-2 * log(1 - u1)) * cos(6.283185307179586 * u2);
}

typedef struct scen_s {
	int S;
	double n, *sp, *vl; /* per scenario: cost and value per request */
	double *zn, *zw;    /* traffic and per-request noise */
	double var;         /* per-request cost variance of the plan */
	double m2;          /* its second moment (for the rounding level) */
	int per_request;    /* count the per-request variation */
	double horizon;     /* share of the requests whose spend is final */
	double meanc;       /* the plan's cost per request under the estimates */
	double budget;      /* per request */
} scen_t;

static double overspend(const scen_t *sc, const double *sp, double dvar, double *mean)
{
	int over = 0;
	double var = sc->var + dvar, tot = 0, h = sc->horizon;
	/* m2 - mean^2 cancels: below rounding level it is zero */
	double sd = sc->per_request && var > 1e-12 * sc->m2 ? sqrt(var * sc->n * h) : 0;
	for (int s = 0; s < sc->S; s++) {
		/* the mean plan, and the scenario's deviation from it on the
		 * share of the requests no later solve can correct */
		double spend = sc->n * sc->meanc + h * (sc->zn[s] * sp[s] - sc->n * sc->meanc) +
			       sd * sc->zw[s];
		tot += spend;
		over += spend > sc->budget * sc->n * (1 + 1e-12);
	}
	if (mean)
		*mean = tot / sc->S;
	return (double)over / sc->S;
}

int bd_solver_stochastic(const bd_solver_problem_t *p, const bd_solver_curve_t *cv,
			 double budget, const bd_solver_uncertainty_t *u, double *prob,
			 bd_solver_stoch_result_t *res)
{
	const int K = p->k, J = p->j;
	scen_t sc = {0};
	double *sp_try = NULL, *cvar = NULL;
	int err = -ENOMEM;

	if (!cv || cv->k != K || cv->j != J || !u || u->scenarios < 10 ||
	    !(u->requests >= 0) || !(u->max_overspend >= 0) || isnan(budget))
		return BD_EINVAL;
	memset(res, 0, sizeof(*res));
	sc.S = u->scenarios;
	sc.n = u->requests;
	sc.budget = budget;
	sc.per_request = u->c_var != NULL;
	sc.horizon = u->horizon > 0 && u->horizon < 1 ? u->horizon : 1;
	if (!(sc.sp = calloc((size_t)sc.S, sizeof(double))) ||
	    !(sc.vl = calloc((size_t)sc.S, sizeof(double))) ||
	    !(sc.zn = malloc(sizeof(double) * (size_t)sc.S)) ||
	    !(sc.zw = malloc(sizeof(double) * (size_t)sc.S)) ||
	    !(sp_try = malloc(sizeof(double) * (size_t)sc.S)) ||
	    !(cvar = calloc((size_t)K * J, sizeof(double))))
		goto out;
	for (int s = 0; s < sc.S; s++) {
		double n = sc.n * (1 + u->requests_cv * gauss(u->seed, (uint64_t)s, UINT64_MAX, 1));
		sc.zn[s] = n > 0 ? n : 0;
		sc.zw[s] = gauss(u->seed, (uint64_t)s, UINT64_MAX, 2);
	}
	/* the scenario's estimate of arm (k, t), per request, share-weighted */
#define SC_C(s, k, t)                                                               \
	(p->share[k] * fmax(0, p->c[(size_t)(k) * J + (t)] +                        \
				       (u->c_se ? u->c_se[(size_t)(k) * J + (t)] : 0) * \
					       gauss(u->seed, (uint64_t)(s), (uint64_t)(k), (uint64_t)(t) * 2)))
#define SC_R(s, k, t)                                                 \
	(p->share[k] * (p->r[(size_t)(k) * J + (t)] +                \
			(u->r_se ? u->r_se[(size_t)(k) * J + (t)] : 0) * \
				gauss(u->seed, (uint64_t)(s), (uint64_t)(k), (uint64_t)(t) * 2 + 1)))
	/* per-request variance of a plan: sum_k s_k E[c^2 | arm] - mean^2 */
	for (size_t i = 0; i < (size_t)K * J; i++) {
		double c = p->c[i], v = u->c_var ? u->c_var[i] : 0;
		cvar[i] = v + c * c;
	}
	double m2 = 0;
	for (int k = 0; k < K; k++) {
		int t = cv->a0[k];
		m2 += p->share[k] * cvar[(size_t)k * J + t];
		for (int s = 0; s < sc.S; s++) {
			sc.sp[s] += SC_C(s, k, t);
			sc.vl[s] += SC_R(s, k, t);
		}
	}
	int best_m = -1;
	double mean_spend = 0;
	/* walk the curve: breakpoints within the deterministic budget */
	for (int m = 0;; m++) {
		if (cv->cum_c[m] > budget)
			break;
		sc.var = m2 - cv->cum_c[m] * cv->cum_c[m];
		sc.meanc = cv->cum_c[m];
		sc.m2 = m2;
		if (overspend(&sc, sc.sp, 0, NULL) <= u->max_overspend)
			best_m = m;
		if (m == cv->nseg)
			break;
		const seg_t *g = &cv->seg[m];
		/* the next breakpoint moves cluster g->k from g->from to g->to;
		 * stop updating after the last feasible point is passed only at
		 * the end: the probability is not monotone in general */
		m2 += p->share[g->k] * (cvar[(size_t)g->k * J + g->to] - cvar[(size_t)g->k * J + g->from]);
		for (int s = 0; s < sc.S; s++) {
			sc.sp[s] += SC_C(s, g->k, g->to) - SC_C(s, g->k, g->from);
			sc.vl[s] += SC_R(s, g->k, g->to) - SC_R(s, g->k, g->from);
		}
	}
	/* Rebuild the scenario sums at best_m (cheap relative to the walk),
	 * then push into the next segment as far as the constraints allow. */
	int m = best_m < 0 ? 0 : best_m;
	memset(sc.sp, 0, sizeof(double) * (size_t)sc.S);
	memset(sc.vl, 0, sizeof(double) * (size_t)sc.S);
	int *arm = malloc(sizeof(int) * (size_t)K);
	if (!arm)
		goto out;
	prefix_arms(cv, m, arm);
	m2 = 0;
	for (int k = 0; k < K; k++) {
		m2 += p->share[k] * cvar[(size_t)k * J + arm[k]];
		for (int s = 0; s < sc.S; s++) {
			sc.sp[s] += SC_C(s, k, arm[k]);
			sc.vl[s] += SC_R(s, k, arm[k]);
		}
	}
	free(arm);
	double f = 0;
	if (best_m >= 0 && m < cv->nseg) {
		const seg_t *g = &cv->seg[m];
		double fmax_b = g->dc > 0 ? (budget - cv->cum_c[m]) / g->dc : 0;
		if (fmax_b > 1)
			fmax_b = 1;
		double dm2 = p->share[g->k] * (cvar[(size_t)g->k * J + g->to] -
					       cvar[(size_t)g->k * J + g->from]);
		double lo = 0, hi = fmax_b;
		for (int it = 0; it < 40 && hi > 0; it++) {
			double x = it == 0 ? hi : 0.5 * (lo + hi);
			for (int s = 0; s < sc.S; s++)
				sp_try[s] = sc.sp[s] + x * (SC_C(s, g->k, g->to) - SC_C(s, g->k, g->from));
			double c = cv->cum_c[m] + x * g->dc;
			sc.var = m2 + x * dm2 - c * c;
			sc.meanc = c;
			sc.m2 = m2 + x * dm2;
			int ok = overspend(&sc, sp_try, 0, NULL) <= u->max_overspend;
			if (it == 0 && ok) {
				lo = hi;
				break;
			}
			if (ok)
				lo = x;
			else
				hi = x;
		}
		f = lo;
		for (int s = 0; s < sc.S; s++) {
			sc.sp[s] += f * (SC_C(s, g->k, g->to) - SC_C(s, g->k, g->from));
			sc.vl[s] += f * (SC_R(s, g->k, g->to) - SC_R(s, g->k, g->from));
		}
		m2 += f * dm2;
	}
#undef SC_C
#undef SC_R
	if ((err = plan_at(cv, m, f, prob, &res->plan)))
		goto out;
	res->plan.feasible = best_m >= 0;
	res->planned_budget = res->plan.cost;
	sc.var = m2 - res->plan.cost * res->plan.cost;
	sc.meanc = res->plan.cost;
	sc.m2 = m2;
	res->overspend_prob = overspend(&sc, sc.sp, 0, &mean_spend);
	res->expected_spend = mean_spend;
	double tv = 0;
	for (int s = 0; s < sc.S; s++)
		tv += sc.zn[s] * sc.vl[s];
	res->expected_value = tv / sc.S;
	err = 0;
out:
	free(sc.sp);
	free(sc.vl);
	free(sc.zn);
	free(sc.zw);
	free(sp_try);
	free(cvar);
	return err;
}
