/*
 * k-means.  Seeding: k-means++ (D^2 sampling).  Iterations: Lloyd (assign
 * all, recompute means) or mini-batch (Sculley 2010: per-centroid learning
 * rate 1/count).  A cluster that ends an iteration with fewer than min_size
 * points gets its centroid moved to the point farthest from its own
 * centroid, so no cluster stays empty while n >= k.
 */
#include "budgetd/learn/kmeans.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/hash.h"

static double unit(uint64_t *s)
{
	return bd_hash_unit(bd_hash_next(s));
}

void bd_kmeans_params_default(bd_kmeans_params_t *p)
{
	*p = (bd_kmeans_params_t){.k = 8, .max_iter = 50, .tol = 1e-5, .batch = 0,
				  .min_size = 1, .seed = 1};
}

void bd_kmeans_result_free(bd_kmeans_result_t *r)
{
	free(r->centroids);
	free(r->sizes);
	r->centroids = NULL;
	r->sizes = NULL;
}

static double dist2(const double *a, const double *b, int dim)
{
	double s = 0;
	for (int j = 0; j < dim; j++) {
		double d = a[j] - b[j];
		s += d * d;
	}
	return s;
}

static int nearest(const double *c, int k, int dim, const double *x, double *d2)
{
	int best = 0;
	double bd = DBL_MAX;
	for (int i = 0; i < k; i++) {
		double d = dist2(c + (size_t)i * dim, x, dim);
		if (d < bd) {
			bd = d;
			best = i;
		}
	}
	if (d2)
		*d2 = bd;
	return best;
}

int bd_kmeans_assign(const bd_kmeans_result_t *r, const double *xi)
{
	return nearest(r->centroids, r->k, r->dim, xi, NULL);
}

int bd_kmeans_assign_all(const bd_kmeans_result_t *r, const double *x, int n, int *labels,
			 double *inertia)
{
	double in = 0, d;
	if (!r->centroids || n < 0)
		return BD_EINVAL;
	for (int i = 0; i < n; i++) {
		labels[i] = nearest(r->centroids, r->k, r->dim, x + (size_t)i * r->dim, &d);
		in += d;
	}
	if (inertia)
		*inertia = in;
	return 0;
}

/* k-means++: first centre uniform, then each with probability ~ D^2. */
static void seed_pp(const double *x, int n, int dim, int k, uint64_t *rng, double *c,
		    double *d2)
{
	int first = (int)(bd_hash_next(rng) % (uint64_t)n);
	memcpy(c, x + (size_t)first * dim, sizeof(double) * (size_t)dim);
	for (int i = 0; i < n; i++)
		d2[i] = dist2(x + (size_t)i * dim, c, dim);
	for (int m = 1; m < k; m++) {
		double total = 0;
		for (int i = 0; i < n; i++)
			total += d2[i];
		int pick = (int)(bd_hash_next(rng) % (uint64_t)n);
		if (total > 0) {
			double u = unit(rng) * total, acc = 0;
			for (pick = 0; pick < n - 1; pick++) {
				acc += d2[pick];
				if (acc > u)
					break;
			}
		}
		double *cm = c + (size_t)m * dim;
		memcpy(cm, x + (size_t)pick * dim, sizeof(double) * (size_t)dim);
		for (int i = 0; i < n; i++) {
			double d = dist2(x + (size_t)i * dim, cm, dim);
			if (d < d2[i])
				d2[i] = d;
		}
	}
}

/* Assigns all points; fills labels, sizes and per-point distances. */
static double assign(const double *x, int n, int dim, const double *c, int k, int *labels,
		     int *sizes, double *d2)
{
	double in = 0;
	memset(sizes, 0, sizeof(int) * (size_t)k);
	for (int i = 0; i < n; i++) {
		labels[i] = nearest(c, k, dim, x + (size_t)i * dim, &d2[i]);
		sizes[labels[i]]++;
		in += d2[i];
	}
	return in;
}

/* Moves the centroid of every too-small cluster to the point farthest from
 * its centroid (each point used once).  @returns how many moved. */
static int reseed(const double *x, int n, int dim, double *c, int k, int *labels,
		  int *sizes, double *d2, int min_size)
{
	int moved = 0;
	for (int m = 0; m < k; m++) {
		if (sizes[m] >= min_size)
			continue;
		int far = -1;
		for (int i = 0; i < n; i++)
			if (sizes[labels[i]] > min_size && (far < 0 || d2[i] > d2[far]))
				far = i;
		if (far < 0)
			break;
		memcpy(c + (size_t)m * dim, x + (size_t)far * dim, sizeof(double) * (size_t)dim);
		sizes[labels[far]]--;
		labels[far] = m;
		sizes[m]++;
		d2[far] = 0;
		moved++;
	}
	return moved;
}

static void means(const double *x, int n, int dim, double *c, int k, const int *labels,
		  const int *sizes)
{
	double *acc = calloc((size_t)k * (size_t)dim, sizeof(double));
	if (!acc)
		return; /* keep the old centroids */
	for (int i = 0; i < n; i++)
		for (int j = 0; j < dim; j++)
			acc[(size_t)labels[i] * dim + j] += x[(size_t)i * dim + j];
	for (int m = 0; m < k; m++)
		if (sizes[m] > 0)
			for (int j = 0; j < dim; j++)
				c[(size_t)m * dim + j] = acc[(size_t)m * dim + j] / sizes[m];
	free(acc);
}

int bd_kmeans_fit(const double *x, int n, int dim, const bd_kmeans_params_t *p,
		  bd_kmeans_result_t *out)
{
	const int k = p->k;
	int *labels = NULL, *counts = NULL, err = -ENOMEM;
	double *d2 = NULL, prev = DBL_MAX;
	uint64_t rng = p->seed;

	memset(out, 0, sizeof(*out));
	if (k < 1 || dim < 1 || n < k)
		return BD_EINVAL;
	out->k = k;
	out->dim = dim;
	out->centroids = malloc(sizeof(double) * (size_t)k * (size_t)dim);
	out->sizes = calloc((size_t)k, sizeof(int));
	labels = malloc(sizeof(int) * (size_t)n);
	d2 = malloc(sizeof(double) * (size_t)n);
	counts = calloc((size_t)k, sizeof(int));
	if (!out->centroids || !out->sizes || !labels || !d2 || !counts)
		goto out;
	seed_pp(x, n, dim, k, &rng, out->centroids, d2);
	for (int it = 0; it < p->max_iter; it++) {
		if (p->batch > 0) {
			for (int b = 0; b < p->batch; b++) {
				int i = (int)(bd_hash_next(&rng) % (uint64_t)n);
				const double *xi = x + (size_t)i * dim;
				int m = nearest(out->centroids, k, dim, xi, NULL);
				double eta = 1.0 / ++counts[m], *cm = out->centroids + (size_t)m * dim;
				for (int j = 0; j < dim; j++)
					cm[j] += eta * (xi[j] - cm[j]);
			}
			out->iterations = it + 1;
			continue;
		}
		double in = assign(x, n, dim, out->centroids, k, labels, out->sizes, d2);
		out->reseeded += reseed(x, n, dim, out->centroids, k, labels, out->sizes, d2,
					p->min_size);
		means(x, n, dim, out->centroids, k, labels, out->sizes);
		out->iterations = it + 1;
		if (prev < DBL_MAX && prev - in <= p->tol * prev)
			break;
		prev = in;
	}
	/* final assignment: sizes and inertia of the returned centroids */
	out->inertia = assign(x, n, dim, out->centroids, k, labels, out->sizes, d2);
	for (int guard = 0; guard < k; guard++) {
		int moved = reseed(x, n, dim, out->centroids, k, labels, out->sizes, d2,
				   p->min_size);
		if (!moved)
			break;
		out->reseeded += moved;
		out->inertia = assign(x, n, dim, out->centroids, k, labels, out->sizes, d2);
	}
	err = 0;
out:
	free(labels);
	free(d2);
	free(counts);
	if (err)
		bd_kmeans_result_free(out);
	return err;
}

/* ---- a floor on cluster sizes ------------------------------------------------- */

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Rows of cluster @p from go to their nearest centroid other than @p from. */
static void merge_away(const double *x, int n, int dim, const double *c, int k, int from,
		       int *labels, int *sizes)
{
	for (int i = 0; i < n; i++) {
		if (labels[i] != from)
			continue;
		int best = -1;
		double bd = DBL_MAX;
		for (int m = 0; m < k; m++) {
			if (m == from)
				continue;
			double d = dist2(c + (size_t)m * dim, x + (size_t)i * dim, dim);
			if (d < bd) {
				bd = d;
				best = m;
			}
		}
		labels[i] = best;
		sizes[best]++;
	}
	sizes[from] = 0;
}

/* Splits cluster @p big at the median of its rows' projections on their
 * principal axis (power iteration): the upper half becomes cluster @p to.
 * @p t: n doubles of scratch, @p v, @p mu, @p w: dim each. */
static void split(const double *x, int n, int dim, int big, int to, int *labels, int *sizes,
		  double *t, double *v, double *mu, double *w)
{
	int m = 0;
	memset(mu, 0, sizeof(double) * (size_t)dim);
	for (int i = 0; i < n; i++)
		if (labels[i] == big) {
			for (int j = 0; j < dim; j++)
				mu[j] += x[(size_t)i * dim + j];
			m++;
		}
	if (m < 2)
		return;
	for (int j = 0; j < dim; j++) {
		mu[j] /= m;
		v[j] = 1.0 / sqrt(dim) * (j % 2 ? -1 : 1); /* deterministic start */
	}
	for (int it = 0; it < 20; it++) { /* v <- C v, normalised */
		memset(w, 0, sizeof(double) * (size_t)dim);
		for (int i = 0; i < n; i++) {
			if (labels[i] != big)
				continue;
			const double *xi = x + (size_t)i * dim;
			double p = 0;
			for (int j = 0; j < dim; j++)
				p += (xi[j] - mu[j]) * v[j];
			for (int j = 0; j < dim; j++)
				w[j] += p * (xi[j] - mu[j]);
		}
		double norm = 0;
		for (int j = 0; j < dim; j++)
			norm += w[j] * w[j];
		if (!(norm > 0))
			break; /* all rows alike: any axis splits by order below */
		for (int j = 0; j < dim; j++)
			v[j] = w[j] / sqrt(norm);
	}
	int k2 = 0;
	for (int i = 0; i < n; i++) {
		if (labels[i] != big)
			continue;
		double p = 0;
		for (int j = 0; j < dim; j++)
			p += (x[(size_t)i * dim + j] - mu[j]) * v[j];
		t[k2++] = p;
	}
	/* the median by sorting a copy; ties broken by order of appearance so
	 * both halves get floor(m/2) and ceil(m/2) rows */
	double *sorted = t + k2; /* t holds 2 n */
	memcpy(sorted, t, sizeof(double) * (size_t)k2);
	qsort(sorted, (size_t)k2, sizeof(double), cmp_dbl);
	double med = sorted[k2 / 2];
	int below = 0;
	for (int q = 0; q < k2; q++)
		below += t[q] < med;
	int need_low = k2 / 2 - below; /* rows equal to the median kept low */
	for (int i = 0, q = 0; i < n; i++) {
		if (labels[i] != big)
			continue;
		double p = t[q++];
		if (p > med || (p == med && need_low-- <= 0)) {
			labels[i] = to;
			sizes[to]++;
			sizes[big]--;
		}
	}
}

static int smallest(const int *sizes, int k)
{
	int s = 0;
	for (int m = 1; m < k; m++)
		if (sizes[m] < sizes[s])
			s = m;
	return s;
}

int bd_kmeans_enforce_min(bd_kmeans_result_t *r, const double *x, int n, int min_size,
			  int *labels)
{
	const int k = r->k, dim = r->dim;
	double *t = malloc(sizeof(double) * 2 * (size_t)n), *d2 = malloc(sizeof(double) * (size_t)n);
	double *v = malloc(sizeof(double) * 3 * (size_t)dim);
	int moved = 0;

	if (!t || !d2 || !v) {
		free(t);
		free(d2);
		free(v);
		return -ENOMEM;
	}
	if (k < 2 || min_size > n / (2 * k))
		min_size = k < 2 ? 0 : n / (2 * k);
	memset(r->sizes, 0, sizeof(int) * (size_t)k);
	for (int i = 0; i < n; i++)
		r->sizes[labels[i]]++;
	for (int round = 0; round < 4 * k; round++) {
		int s = smallest(r->sizes, k);
		if (r->sizes[s] >= min_size)
			break;
		merge_away(x, n, dim, r->centroids, k, s, labels, r->sizes);
		int big = 0;
		for (int m = 1; m < k; m++)
			if (r->sizes[m] > r->sizes[big])
				big = m;
		split(x, n, dim, big, s, labels, r->sizes, t, v, v + dim, v + 2 * dim);
		means(x, n, dim, r->centroids, k, labels, r->sizes);
		moved++;
		/* Lloyd in the first half of the rounds; a far, tight group
		 * that Lloyd keeps giving its own cluster is then split off by
		 * labels alone */
		for (int it = 0; round < 2 * k && it < 3; it++) {
			assign(x, n, dim, r->centroids, k, labels, r->sizes, d2);
			means(x, n, dim, r->centroids, k, labels, r->sizes);
		}
	}
	r->inertia = 0;
	for (int i = 0; i < n; i++)
		r->inertia += dist2(x + (size_t)i * dim, r->centroids + (size_t)labels[i] * dim, dim);
	r->reseeded += moved;
	free(t);
	free(d2);
	free(v);
	return moved;
}
