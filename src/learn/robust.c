/*
 * Robust feature normalisation (robust.h): medians and quantile spreads per
 * feature, and the clip as a model layer.
 */
#include "budgetd/learn/robust.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Quantile @p q of sorted @p v (n > 0), linear between order statistics. */
static double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int lo = (int)floor(pos);
	int hi = lo + 1 < n ? lo + 1 : lo;
	return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

/* The robust spread of sorted @p v around @p med (robust.h). */
static double spread(const double *v, int n, double med)
{
	static const struct {
		double lo, hi, normal; /* the quantiles' distance for N(0, 1) */
	} ranges[] = {{0.25, 0.75, 1.349}, {0.10, 0.90, 2.563}, {0.01, 0.99, 4.653}};
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		double s = (quantile(v, n, ranges[i].hi) - quantile(v, n, ranges[i].lo)) /
			   ranges[i].normal;
		if (s > 0)
			return s;
	}
	double mad = 0;
	for (int i = 0; i < n; i++)
		mad += fabs(v[i] - med);
	mad = mad / n * 1.2533;
	return mad > 0 ? mad : 1.0;
}

int bd_robust_fit(const float *x, int dim, const int *rows, int n_rows, double *center,
		  double *scale)
{
	if (n_rows < 1 || dim < 1)
		return BD_EINVAL;
	double *v = malloc(sizeof(double) * (size_t)n_rows);
	if (!v)
		return -ENOMEM;
	for (int j = 0; j < dim; j++) {
		int m = 0;
		for (int i = 0; i < n_rows; i++) {
			double xi = x[(size_t)(rows ? rows[i] : i) * dim + j];
			if (isfinite(xi))
				v[m++] = xi;
		}
		if (m == 0) {
			center[j] = 0;
			scale[j] = 1;
			continue;
		}
		qsort(v, (size_t)m, sizeof(double), cmp_double);
		center[j] = quantile(v, m, 0.5);
		scale[j] = fmax(spread(v, m, center[j]), 1e-9 * fmax(1.0, fabs(center[j])));
	}
	free(v);
	return 0;
}

int bd_robust_clip_layers(const bd_cluster_model_t *m, double clip, bd_cluster_model_t **out)
{
	const int dim = m->dim, L = m->n_layers;
	int sizes[BD_CLUSTER_MAX_LAYERS + 1];
	bd_activation_t acts[BD_CLUSTER_MAX_LAYERS];
	bd_cluster_model_t *c;
	int err;

	if (!(clip > 0) || L + 1 > BD_CLUSTER_MAX_LAYERS || m->layer[0].cols != dim)
		return BD_EINVAL;
	sizes[0] = dim;
	sizes[1] = 2 * dim;
	acts[0] = BD_ACT_RELU;
	for (int l = 0; l < L; l++) {
		sizes[l + 2] = m->layer[l].rows;
		acts[l + 1] = m->layer[l].act;
	}
	if ((err = bd_cluster_model_new(L + 1, sizes, acts, &c)))
		return err;
	c->version = m->version;
	c->kind = m->kind;
	c->agreement = m->agreement;
	memcpy(c->mean, m->mean, sizeof(double) * (size_t)dim);
	memcpy(c->scale, m->scale, sizeof(double) * (size_t)dim);
	/* relu(z_j + clip), relu(z_j - clip) */
	bd_layer_t *q = &c->layer[0];
	for (int j = 0; j < dim; j++) {
		q->w[(size_t)(2 * j) * dim + j] = 1;
		q->w[(size_t)(2 * j + 1) * dim + j] = 1;
		q->b[2 * j] = clip;
		q->b[2 * j + 1] = -clip;
	}
	/* W clip(z) + b = sum_j W_rj (u_2j - u_2j+1) + b_r - clip sum_j W_rj */
	const bd_layer_t *f = &m->layer[0];
	bd_layer_t *g = &c->layer[1];
	for (int r = 0; r < f->rows; r++) {
		double sum = 0;
		for (int j = 0; j < dim; j++) {
			double w = f->w[(size_t)r * dim + j];
			g->w[(size_t)r * 2 * dim + 2 * j] = w;
			g->w[(size_t)r * 2 * dim + 2 * j + 1] = -w;
			sum += w;
		}
		g->b[r] = f->b[r] - clip * sum;
	}
	for (int l = 1; l < L; l++) {
		const bd_layer_t *s = &m->layer[l];
		memcpy(c->layer[l + 1].w, s->w, sizeof(double) * (size_t)s->rows * s->cols);
		memcpy(c->layer[l + 1].b, s->b, sizeof(double) * (size_t)s->rows);
	}
	*out = c;
	return 0;
}
