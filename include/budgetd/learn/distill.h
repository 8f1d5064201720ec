/**
 * @file distill.h
 * @brief The student: a small classifier x -> cluster trained on the
 *        teacher's labels (representation network + k-means).
 *
 * The result is a bd_cluster_model_t (normalise, dense layers, argmax): the
 * function the daemon runs per request and that downstream issuers can run
 * from the published model.  hidden = 0 gives softmax regression; > 0 one
 * ReLU layer of that width.  With clip > 0 the student learns on features
 * clipped to +-clip after normalising (robust.h, as the teacher saw them),
 * and the model gets the clip as its first layer (bd_robust_clip_layers).
 */
#ifndef BUDGETD_DISTILL_H
#define BUDGETD_DISTILL_H

#include <stdint.h>

#include "budgetd/wire/cluster.h"
#include "budgetd/base/common.h"

typedef struct bd_distill_params_s {
	int hidden, epochs, batch, patience;
	double lr, l2, holdout;
	double clip; /**< robust units; 0: no clipping (default BD_ROBUST_CLIP) */
	uint64_t seed;
} bd_distill_params_t;

void bd_distill_params_default(bd_distill_params_t *p);

typedef struct bd_distill_metrics_s {
	double agreement;      /**< held-out share with the teacher's label */
	double train_agreement;
	int epochs;
	double seconds;
} bd_distill_metrics_t;

/**
 * Trains on @p n rows of @p x (n x dim) with teacher labels in 0..k-1,
 * normalising with @p mean / @p scale (dim each, copied into the model).
 */
int bd_distill_train(const float *x, int n, int dim, const int *labels, int k,
		     const double *mean, const double *scale,
		     const bd_distill_params_t *p, bd_cluster_model_t **out,
		     bd_distill_metrics_t *m) BD_WUR;

#endif
