/**
 * @file nn.h
 * @brief A small dense neural network: layers, activations, losses, Adam.
 *
 * Double precision, row-major, matrix products through CBLAS (OpenBLAS), so
 * results are deterministic for a seed on a given machine and gradients can
 * be checked against finite differences (tests/unit/test_nn.c).
 *
 * A network owns its weights, gradients, Adam moments and the activation
 * buffers of the last forward pass (sized for the largest batch seen).
 *
 * @locality one thread at a time per network.
 */
#ifndef BUDGETD_NN_H
#define BUDGETD_NN_H

#include <stdint.h>

#include "budgetd/base/common.h"

typedef enum bd_nn_act {
	BD_NN_LINEAR = 0,
	BD_NN_RELU = 1,
	BD_NN_SIGMOID = 2,
} bd_nn_act_t;

typedef struct bd_nn_layer_s {
	int in, out;
	bd_nn_act_t act;
	double *w, *b;   /**< out x in, out */
	double *gw, *gb; /**< gradients of the last backward pass */
	double *mw, *vw, *mb, *vb; /**< Adam moments */
} bd_nn_layer_t;

typedef struct bd_nn_s {
	int n_layers;
	bd_nn_layer_t *layer;
	int cap;       /**< batch capacity of the buffers */
	double **act;  /**< act[l]: output of layer l, cap x out */
	double **dact; /**< scratch: gradient w.r.t. act[l] */
	int64_t steps; /**< Adam steps taken */
} bd_nn_t;

typedef struct bd_nn_adam_s {
	double lr, beta1, beta2, eps;
	double l2; /**< weight decay on weights (not biases), added to gradients */
} bd_nn_adam_t;

/** lr 1e-3, betas 0.9/0.999, eps 1e-8, l2 0. */
void bd_nn_adam_default(bd_nn_adam_t *a);

/**
 * A network of @p n_layers dense layers; @p sizes has n_layers + 1 entries
 * (input size first).  Weights: He (ReLU) or Xavier (others) normal from
 * @p seed; biases 0.
 */
int bd_nn_new(int n_layers, const int *sizes, const bd_nn_act_t *acts,
	      uint64_t seed, bd_nn_t **out) BD_WUR;
void bd_nn_free(bd_nn_t *nn);
/** A deep copy (weights only; moments reset). */
int bd_nn_clone(const bd_nn_t *nn, bd_nn_t **out) BD_WUR;

/**
 * Forward pass of @p batch rows of @p x (batch x in, borrowed).
 * @returns the output activations (batch x out), owned by @p nn and valid
 *          until the next forward pass; NULL when out of memory.
 */
const double *bd_nn_forward(bd_nn_t *nn, const double *x, int batch);
/** Output of layer @p l of the last forward pass (batch x out of layer l). */
const double *bd_nn_activation(const bd_nn_t *nn, int l);

/**
 * Backward pass after bd_nn_forward(nn, x, batch): @p dout is dLoss/d(output)
 * (batch x out).  Sets every layer's gw/gb (overwrites).  When @p dx is not
 * NULL it receives dLoss/dx (batch x in), to chain networks.
 */
void bd_nn_backward(bd_nn_t *nn, const double *x, const double *dout, int batch,
		    double *dx);

/** One Adam step from the current gradients. */
void bd_nn_adam_step(bd_nn_t *nn, const bd_nn_adam_t *a);

/* Losses: mean over the rows of sum(weight * per-element loss); they write
 * dLoss/d(output) into @p d (n x m).  @p weight: n per-row weights (e.g.
 * inverse propensities), or NULL for 1; @p mask: n x m, 1 where the target
 * is observed, or NULL for all. */
double bd_nn_loss_mse(const double *out, const double *target, const double *weight,
		      const double *mask, int n, int m, double *d);
/** Huber (robust) loss with threshold @p delta. */
double bd_nn_loss_huber(const double *out, const double *target, const double *weight,
			const double *mask, int n, int m, double delta, double *d);
/** Binary log loss of sigmoid outputs @p prob against 0/1 targets. */
double bd_nn_loss_logloss(const double *prob, const double *target, const double *weight,
			  const double *mask, int n, int m, double *d);
/** Softmax cross-entropy of linear outputs @p logits against class labels. */
double bd_nn_loss_softmax(const double *logits, const int *label, const double *weight,
			  int n, int k, double *d);

/** Fisher-Yates shuffle of idx[0..n) with a splitmix64 state. */
void bd_nn_shuffle(int *idx, int n, uint64_t *rng);

/** Number of parameters. */
size_t bd_nn_params(const bd_nn_t *nn);

#endif
