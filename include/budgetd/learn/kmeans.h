/**
 * @file kmeans.h
 * @brief k-means for the hidden representations: k-means++ seeding, Lloyd
 *        or mini-batch iterations, no empty clusters.
 *
 * Deterministic for a seed (splitmix64 draws, fixed iteration order).
 * @locality any thread; no shared state.
 */
#ifndef BUDGETD_KMEANS_H
#define BUDGETD_KMEANS_H

#include <stdint.h>

#include "budgetd/base/common.h"

typedef struct bd_kmeans_params_s {
	int k, max_iter;
	double tol;   /**< stop when inertia improves by less than this share */
	int batch;    /**< 0: full Lloyd; > 0: mini-batch of this size */
	int min_size; /**< smaller clusters are re-seeded */
	uint64_t seed;
} bd_kmeans_params_t;

void bd_kmeans_params_default(bd_kmeans_params_t *p);

typedef struct bd_kmeans_result_s {
	int k, dim;
	double *centroids; /**< k x dim, owned */
	int *sizes;        /**< k, owned */
	double inertia;    /**< sum of squared distances to the nearest centroid */
	int iterations, reseeded;
} bd_kmeans_result_t;

/** Clusters @p n rows of @p x (n x dim, borrowed) into p->k groups. */
int bd_kmeans_fit(const double *x, int n, int dim, const bd_kmeans_params_t *p,
		  bd_kmeans_result_t *out) BD_WUR;
/** The nearest centroid of one vector. */
int bd_kmeans_assign(const bd_kmeans_result_t *r, const double *xi);
/** Labels of @p n rows; @p inertia (may be NULL) gets their inertia.
 *  @returns 0 or BD_EINVAL. */
int bd_kmeans_assign_all(const bd_kmeans_result_t *r, const double *x, int n,
			 int *labels, double *inertia);
void bd_kmeans_result_free(bd_kmeans_result_t *r);

/**
 * Makes every cluster hold at least @p min_size of the @p n rows of @p x
 * (min_size <= n / (2 k)), starting from @p labels (r's nearest-centroid
 * labels).  While a cluster is smaller, its rows go to their nearest other
 * centroid and it takes the half of the largest cluster beyond the median
 * of that cluster's principal axis; Lloyd iterations follow, up to 2 k
 * rounds; if Lloyd keeps making a small cluster (a far, tight group), the
 * last rounds split without Lloyd, so labels are then not all
 * nearest-centroid, but every cluster holds >= min_size.  Centroids, sizes
 * and inertia are updated to the labels.
 * @returns the number of clusters re-seeded (>= 0), or an error.
 */
int bd_kmeans_enforce_min(bd_kmeans_result_t *r, const double *x, int n, int min_size,
			  int *labels) BD_WUR;

#endif
