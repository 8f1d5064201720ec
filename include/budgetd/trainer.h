/**
 * @file trainer.h
 * @brief Builds the next cluster model version from the sample log.
 *
 * samples -> representation network -> k-means on h(x) -> student
 * -> checks (enough samples, agreement with the teacher, finite weights, no
 * empty cluster) -> the new version's statistics rebuilt from the same
 * samples and written to the store, so the solver has estimates for it the
 * moment it is promoted.  Promotion itself (publishing, swapping it into
 * the workers' snapshot) is the caller's.
 *
 * @locality any thread: it reads the store through iterators and writes one
 *           batch; daemon.c runs it on libuv's thread pool so no loop waits.
 */
#ifndef BUDGETD_TRAINER_H
#define BUDGETD_TRAINER_H

#include <stdint.h>

#include "budgetd/cluster.h"
#include "budgetd/common.h"
#include "budgetd/distill.h"
#include "budgetd/represent.h"
#include "budgetd/store.h"

typedef struct bd_trainer_params_s {
	int k, dim, epochs, min_samples, max_samples, student_hidden;
	int hidden, rep_dim; /**< 0: the representation's defaults */
	double w_conv, w_value, w_cost, huber; /**< task weights; all 0: defaults */
	double min_agreement;
	uint64_t seed;
} bd_trainer_params_t;

typedef struct bd_trainer_result_s {
	bd_cluster_model_t *model; /**< the candidate, owned; NULL if none */
	int accepted;              /**< passed every check; statistics written */
	char why[256];             /**< why it was rejected */
	int samples, min_cluster, max_cluster;
	double inertia;
	bd_rep_metrics_t rep;
	bd_distill_metrics_t student;
	double seconds;
} bd_trainer_result_t;

/** Trains version @p version.  @returns 0 (see res->accepted) or an error. */
int bd_trainer_run(bd_store_t *st, const bd_trainer_params_t *p, int64_t version,
		   bd_trainer_result_t *res) BD_WUR;
void bd_trainer_result_free(bd_trainer_result_t *res);

#endif
