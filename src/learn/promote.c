/* The candidate model's plans against the deciding model's, valued
 * off-policy on held-out samples (promote.h). */
#include "budgetd/learn/promote.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/policy/solver.h"

#define NL 3
#define MAX_J 64
/* budgets: shares of what the costliest treatment for everyone costs */
static const double LEVEL[NL] = {0.1, 0.3, 0.6};

/* One fold's planning data: the samples of the other fold. */
typedef struct fold_s {
	int f;                      /* the fold valued; planned on the other */
	double base;                /* costliest treatment's cost per request */
	double mv[MAX_J], mc[MAX_J]; /* treatments' pooled Hajek means */
	int seen[MAX_J];            /* the treatment was logged */
} fold_t;

static int usable(const bd_promote_data_t *d, int i)
{
	return d->p[i] > 0 && d->p[i] <= 1 && d->t[i] >= 0 && d->t[i] < d->j &&
	       isfinite(d->value[i]) && isfinite(d->cost[i]);
}

static void fold_pool(const bd_promote_data_t *d, fold_t *fo)
{
	double w[MAX_J] = {0}, v[MAX_J] = {0}, c[MAX_J] = {0};
	for (int i = 0; i < d->n; i++) {
		if ((i & 1) == fo->f || !usable(d, i))
			continue;
		w[d->t[i]] += 1 / d->p[i];
		v[d->t[i]] += d->value[i] / d->p[i];
		c[d->t[i]] += d->cost[i] / d->p[i];
	}
	fo->base = 0;
	for (int t = 0; t < d->j; t++) {
		fo->seen[t] = w[t] > 0;
		fo->mv[t] = w[t] > 0 ? v[t] / w[t] : 0;
		fo->mc[t] = w[t] > 0 ? fmax(c[t] / w[t], 0) : 0;
		fo->base = fmax(fo->base, fo->mc[t]);
	}
	/* a treatment never logged cannot be valued: control's value at the
	 * costliest cost, which no plan prefers to control */
	for (int t = 0; t < d->j; t++)
		if (!fo->seen[t]) {
			fo->mv[t] = fo->mv[0];
			fo->mc[t] = fo->base;
		}
}

/* @p lab's cells on the planning fold, shrunk toward the pooled means, into
 * @p v, @p c (K x J); the LP plans at the budgets into @p prob (NL x K x J),
 * shadow prices into @p lambda. */
static int fold_plan(const bd_promote_data_t *d, const fold_t *fo, const int *lab, int K,
		     double shrinkage, double *prob, double *lambda, double *v, double *c)
{
	const int J = d->j;
	const size_t KJ = (size_t)K * J;
	double *w = calloc(KJ * 2 + K, sizeof(double));
	double *n = w + KJ, *share = n + KJ, tot = 0;
	bd_solver_curve_t *cv = NULL;
	int err = -ENOMEM;
	if (!w)
		return err;
	memset(v, 0, sizeof(double) * KJ);
	memset(c, 0, sizeof(double) * KJ);
	for (int i = 0; i < d->n; i++) {
		if ((i & 1) == fo->f || !usable(d, i))
			continue;
		size_t q = (size_t)lab[i] * J + d->t[i];
		w[q] += 1 / d->p[i];
		v[q] += d->value[i] / d->p[i];
		c[q] += d->cost[i] / d->p[i];
		n[q] += 1;
		share[lab[i]] += 1;
		tot += 1;
	}
	for (int k = 0; k < K; k++)
		share[k] = tot > 0 ? share[k] / tot : 1.0 / K;
	for (size_t q = 0; q < KJ; q++) {
		int t = (int)(q % J);
		double hv = w[q] > 0 ? v[q] / w[q] : 0, hc = w[q] > 0 ? c[q] / w[q] : 0;
		/* a cell's n samples and the pooled mean's shrinkage pseudo-samples */
		double a = n[q] + shrinkage > 0 ? n[q] / (n[q] + shrinkage) : 0;
		v[q] = fo->seen[t] ? a * hv + (1 - a) * fo->mv[t] : fo->mv[t];
		c[q] = fo->seen[t] ? fmax(a * hc + (1 - a) * fo->mc[t], 0) : fo->mc[t];
	}
	bd_solver_problem_t sp = {K, J, share, v, c};
	if ((err = bd_solver_curve_new(&sp, &cv)))
		goto out;
	for (int l = 0; l < NL; l++) {
		bd_solver_result_t res;
		if ((err = bd_solver_curve_plan(cv, LEVEL[l] * fo->base, prob + l * KJ, &res)))
			goto out;
		lambda[l] = isfinite(res.lambda) ? res.lambda : 0;
	}
out:
	bd_solver_curve_free(cv);
	free(w);
	return err;
}

/* A model's planning-fold cells (promote_compare's scratch). */
typedef struct cells_s {
	int k;
	const int *lab;
	double *prob, *v, *c, lambda[NL];
} cells_t;

/* The outcome model of the doubly robust values: the two models' cells'
 * net value of treatment @p t for sample @p i, averaged. */
static double m_hat(const cells_t m[2], int J, int i, int t, double lam)
{
	double y = 0;
	for (int q = 0; q < 2; q++) {
		size_t z = (size_t)m[q].lab[i] * J + t;
		y += (m[q].v[z] - lam * m[q].c[z]) / 2;
	}
	return y;
}

/* Sums over the valued fold: per sample, each plan's doubly robust net
 * value (the cells' prediction of what the plan's treatments yield, plus
 * the logged outcome's residual from it by inverse propensity) and their
 * difference, averaged over the budgets.  The cells come from the other
 * fold, so the prediction is independent of the sample and the value stays
 * unbiased; it removes what the cells explain (most of all the value users
 * bring whatever they get) from the noise. */
static void fold_value(const bd_promote_data_t *d, int f, const cells_t m[2], double s[5])
{
	const int J = d->j;
	for (int i = 0; i < d->n; i++) {
		if ((i & 1) != f || !usable(d, i))
			continue;
		double net[2] = {0, 0};
		for (int l = 0; l < NL; l++) {
			double lam = (m[0].lambda[l] + m[1].lambda[l]) / 2;
			double res = (d->value[i] - lam * d->cost[i] - m_hat(m, J, i, d->t[i], lam)) /
				     d->p[i];
			for (int q = 0; q < 2; q++) {
				const double *pi = m[q].prob + (size_t)l * m[q].k * J +
						   (size_t)m[q].lab[i] * J;
				double dm = pi[d->t[i]] * res;
				for (int t = 0; t < J; t++)
					if (pi[t] > 0)
						dm += pi[t] * m_hat(m, J, i, t, lam);
				net[q] += dm / NL;
			}
		}
		double x = net[1] - net[0];
		s[0] += 1;
		s[1] += net[0];
		s[2] += net[1];
		s[3] += x;
		s[4] += x * x;
	}
}

int bd_promote_compare(const bd_cluster_model_t *cur, const bd_cluster_model_t *cand,
		       const bd_promote_data_t *d, double shrinkage, bd_promote_result_t *r)
{
	const bd_cluster_model_t *model[2] = {cur, cand};
	const int J = d->j;
	cells_t m[2] = {{.k = cur->k}, {.k = cand->k}};
	int *lab[2] = {NULL, NULL}, err = BD_EINVAL;
	double s[5] = {0};

	memset(r, 0, sizeof(*r));
	if (d->n < 2 || J < 1 || J > MAX_J || cur->dim != d->dim || cand->dim != d->dim)
		return BD_EINVAL;
	err = -ENOMEM;
	for (int q = 0; q < 2; q++) {
		const size_t KJ = (size_t)m[q].k * J;
		lab[q] = malloc(sizeof(int) * (size_t)d->n);
		m[q].prob = malloc(sizeof(double) * KJ * (NL + 2));
		if (!lab[q] || !m[q].prob)
			goto out;
		m[q].v = m[q].prob + NL * KJ;
		m[q].c = m[q].v + KJ;
		m[q].lab = lab[q];
		for (int i = 0; i < d->n; i++)
			lab[q][i] = bd_cluster_assign(model[q], d->x + (size_t)i * d->dim);
	}
	for (int f = 0; f < 2; f++) {
		fold_t fo = {.f = f};
		fold_pool(d, &fo);
		for (int q = 0; q < 2; q++)
			if ((err = fold_plan(d, &fo, lab[q], m[q].k, shrinkage, m[q].prob, m[q].lambda,
					     m[q].v, m[q].c)))
				goto out;
		fold_value(d, f, m, s);
	}
	err = BD_EINVAL;
	if (s[0] < 2)
		goto out;
	r->n = (int)s[0];
	r->cur = s[1] / s[0];
	r->cand = s[2] / s[0];
	r->diff = s[3] / s[0];
	r->se = sqrt(fmax(s[4] / s[0] - r->diff * r->diff, 0) / (s[0] - 1));
	err = 0;
out:
	for (int q = 0; q < 2; q++) {
		free(lab[q]);
		free(m[q].prob);
	}
	return err;
}
