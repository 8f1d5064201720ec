/**
 * @file cluster.h
 * @brief Cluster models: feature vector -> cluster id.
 *
 * A model is a feature normalisation followed by dense layers and an
 * argmax over the last layer: the form of the distilled classifier that the
 * models topic publishes, so a downstream issuer runs the same function.
 *
 * Until a model is learned, budgetd uses version 0, the documented initial
 * assignment: one linear layer whose K rows are unit vectors drawn from a
 * Gaussian with a fixed seed (splitmix64 + Box-Muller, see cluster.c); the
 * cluster is the row with the largest dot product with the raw features.
 * It is deterministic, the same on every instance, and puts users with
 * similar feature directions together.
 *
 * Models are immutable once built and shared between threads by reference
 * count.
 */
#ifndef BUDGETD_CLUSTER_H
#define BUDGETD_CLUSTER_H

#include <stdint.h>

#include "budgetd/base/common.h"

#define BD_CLUSTER_MAX_LAYERS 4
/** Widest layer (a clip layer doubles the widest input, features.dim 512). */
#define BD_CLUSTER_MAX_WIDTH 1024

typedef enum bd_activation { BD_ACT_NONE = 0, BD_ACT_RELU = 1 } bd_activation_t;

typedef struct bd_layer_s {
	int rows, cols;
	bd_activation_t act;
	double *w; /**< rows x cols, row-major */
	double *b; /**< rows */
} bd_layer_t;

typedef struct bd_cluster_model_s {
	bd_refcnt_t refcnt;
	int64_t version;
	const char *kind; /**< "random-linear", "softmax", "mlp" */
	int dim, k;
	double *mean, *scale; /**< dim each */
	int n_layers;
	bd_layer_t layer[BD_CLUSTER_MAX_LAYERS];
	double agreement;
} bd_cluster_model_t;

/**
 * An empty model of @p n_layers dense layers (sizes: n_layers + 1 entries,
 * the input dim first, K last), zero weights, normalisation 0/1.
 */
int bd_cluster_model_new(int n_layers, const int *sizes, const bd_activation_t *acts,
			 bd_cluster_model_t **out) BD_WUR;

/** The initial assignment (version 0). */
int bd_cluster_model_initial(int dim, int k, bd_cluster_model_t **out) BD_WUR;

bd_cluster_model_t *bd_cluster_model_ref(bd_cluster_model_t *m);
void bd_cluster_model_unref(bd_cluster_model_t *m);

/** Cluster of @p x (dim floats), in 0..k-1.  Allocation-free. */
int bd_cluster_assign(const bd_cluster_model_t *m, const float *x);

/**
 * What moves a user toward each cluster, in the model's own terms (the
 * status page describes clusters by it): for cluster g and feature i,
 * @p effect[g * dim + i] is how much a user one robust-scale unit above the
 * average user in feature i alone (every other feature average) raises
 * cluster g's score over the mean of the other clusters' scores.  A local
 * reading of the classifier at the average user, not a causal statement.
 * @param effect k x dim doubles.
 * @returns 0, or BD_EINVAL for a model of fewer than two clusters.
 */
int bd_cluster_feature_effects(const bd_cluster_model_t *m, double *effect);

#endif
