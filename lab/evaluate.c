/**
 * @file evaluate.c
 * @brief EOM and AUCC on RCT data (see evaluate.h).
 */
#include "budgetd/lab/evaluate.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static int check(const bd_rct_t *d)
{
	if (!d || d->n < 1 || d->j < 1 || !d->t || !d->p || !d->r || !d->c || !d->r_hat ||
	    !d->c_hat)
		return BD_EINVAL;
	for (int i = 0; i < d->n; i++)
		if (d->t[i] < 0 || d->t[i] >= d->j || !(d->p[i] > 0 && d->p[i] <= 1))
			return BD_EINVAL;
	return 0;
}

int bd_eval_eom_at(const bd_rct_t *d, double lambda, int hajek, bd_eom_t *out)
{
	int err;
	if ((err = check(d)) || isnan(lambda))
		return err ? err : BD_EINVAL;
	double rs = 0, cs = 0, ws = 0;
	for (int i = 0; i < d->n; i++) {
		const double *rh = d->r_hat + (size_t)i * d->j, *ch = d->c_hat + (size_t)i * d->j;
		int z = 0;
		double best = rh[0] - lambda * ch[0];
		for (int t = 1; t < d->j; t++) {
			double s = rh[t] - lambda * ch[t];
			if (s > best) {
				best = s;
				z = t;
			}
		}
		if (d->t[i] != z)
			continue;
		rs += d->r[i] / d->p[i];
		cs += d->c[i] / d->p[i];
		ws += 1 / d->p[i];
	}
	double den = hajek ? ws : d->n;
	*out = (bd_eom_t){lambda, den > 0 ? rs / den : 0, den > 0 ? cs / den : 0};
	return 0;
}

int bd_eval_eom(const bd_rct_t *d, double budget, int hajek, bd_eom_t *out)
{
	bd_eom_t at;
	int err;
	if ((err = bd_eval_eom_at(d, 0, hajek, &at)))
		return err;
	if (at.cost <= budget) {
		*out = at; /* the value-maximising policy fits */
		return 0;
	}
	double lo = 0, hi = 1;
	for (int i = 0; i < 200; i++) {
		if ((err = bd_eval_eom_at(d, hi, hajek, &at)))
			return err;
		if (at.cost <= budget)
			break;
		lo = hi;
		hi *= 2;
	}
	if (at.cost > budget)
		return BD_EINVAL; /* not even the cheapest policy fits */
	for (int i = 0; i < 100; i++) {
		double mid = 0.5 * (lo + hi);
		bd_eom_t m;
		if ((err = bd_eval_eom_at(d, mid, hajek, &m)))
			return err;
		if (m.cost <= budget)
			hi = mid;
		else
			lo = mid;
	}
	return bd_eval_eom_at(d, hi, hajek, out);
}

typedef struct ranked_s {
	double score;
	int i;
} ranked_t;

static int ranked_cmp(const void *a, const void *b)
{
	const ranked_t *x = a, *y = b;
	if (x->score != y->score)
		return x->score > y->score ? -1 : 1; /* best first */
	return x->i - y->i;
}

int bd_eval_aucc(const bd_rct_t *d, int arm, int q, double *aucc)
{
	ranked_t *v = NULL;
	double *dc = NULL, *dr = NULL;
	int err, m = 0;
	double n_t = 0, n_0 = 0;

	if ((err = check(d)))
		return err;
	if (arm < 1 || arm >= d->j || q < 1)
		return BD_EINVAL;
	err = -ENOMEM;
	if (!(v = malloc(sizeof(*v) * (size_t)d->n)) ||
	    !(dc = malloc(sizeof(double) * (size_t)(d->n + 1))) ||
	    !(dr = malloc(sizeof(double) * (size_t)(d->n + 1))))
		goto out;
	for (int i = 0; i < d->n; i++) {
		if (d->t[i] != arm && d->t[i] != 0)
			continue;
		const double *rh = d->r_hat + (size_t)i * d->j, *ch = d->c_hat + (size_t)i * d->j;
		double du = rh[arm] - rh[0], dcost = ch[arm] - ch[0];
		/* predicted incremental ROI; no predicted extra cost: first if it
		 * buys value, last if not */
		double s = dcost > 0 ? du / dcost : (du > 0 ? INFINITY : -INFINITY);
		v[m++] = (ranked_t){s, i};
		if (d->t[i] == arm)
			n_t++;
		else
			n_0++;
	}
	err = BD_EINVAL;
	if (n_t == 0 || n_0 == 0)
		goto out;
	qsort(v, (size_t)m, sizeof(*v), ranked_cmp);
	dc[0] = dr[0] = 0;
	for (int k = 0; k < m; k++) {
		int i = v[k].i;
		double sc = d->t[i] == arm ? 1 / n_t : -1 / n_0;
		dc[k + 1] = dc[k] + sc * d->c[i];
		dr[k + 1] = dr[k] + sc * d->r[i];
	}
	double C = dc[m], R = dr[m];
	if (!(C > 0) || R == 0)
		goto out;
	/* dR at evenly spaced incremental costs: the first point of the
	 * ranking to reach each, linearly between it and the one before */
	double sum = 0;
	int k = 0;
	for (int s = 0; s <= q; s++) {
		double target = C * s / q;
		while (k < m && dc[k] < target)
			k++;
		double y;
		if (k == 0 || dc[k] == dc[k - 1])
			y = dr[k];
		else
			y = dr[k - 1] + (dr[k] - dr[k - 1]) * (target - dc[k - 1]) / (dc[k] - dc[k - 1]);
		sum += y;
	}
	*aucc = sum / (R * (q + 1));
	err = 0;
out:
	free(v);
	free(dc);
	free(dr);
	return err;
}
