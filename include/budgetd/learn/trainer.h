/**
 * @file trainer.h
 * @brief Builds the next cluster model version from the sample log.
 *
 * samples -> representation network (robust.h normalisation) -> k-means on
 * h(x), then no cluster below the floor (the larger of min_cluster_share of
 * an average cluster and min_cluster_users; small clusters re-seeded from
 * the largest, bd_kmeans_enforce_min) -> student (learns once more on
 * re-seeded labels if one of its clusters is below the floor)
 * -> checks (enough samples, agreement with the teacher, finite weights, no
 * cluster below the floor) -> the new version's statistics rebuilt from the whole
 * sample log and written to the store (step 1 of carry.h).  Promotion itself
 * (publishing, the workers' carry-over, the swap) is the caller's; @p version
 * must be a number no earlier run used (bd_carry_next_version).
 *
 * @locality any thread: it reads the store through iterators and writes one
 *           batch; daemon_train.c runs it on libuv's thread pool so no loop waits.
 */
#ifndef BUDGETD_TRAINER_H
#define BUDGETD_TRAINER_H

#include <stdint.h>

#include "budgetd/wire/cluster.h"
#include "budgetd/base/common.h"
#include "budgetd/learn/distill.h"
#include "budgetd/learn/promote.h"
#include "budgetd/learn/represent.h"
#include "budgetd/state/store.h"

typedef struct bd_trainer_params_s {
	int k, dim, epochs, min_samples, max_samples, student_hidden;
	int hidden, rep_dim; /**< 0: the representation's defaults */
	double w_conv, w_value, w_cost, huber; /**< task weights; all 0: defaults */
	double min_agreement;
	double clip;               /**< robust units (robust.h); 0: no clip */
	double min_cluster_share;  /**< of an average cluster (samples / k) */
	int min_cluster_users;     /**< the floor: the larger of the two */
	uint64_t seed;
	/** The model deciding now (borrowed: the caller keeps a reference for
	 *  the run), or NULL.  A trained one (version > 0) is what the
	 *  candidate must not be worse than: its plans are valued against the
	 *  candidate's on the samples (promote.h) and the candidate is refused
	 *  when its value is lower by more than promote_z standard errors
	 *  (0: no check).  The initial assignment is a placeholder every first
	 *  trained model replaces. */
	const bd_cluster_model_t *current;
	double promote_z;
	double shrinkage; /**< the cells' pseudo-samples (solve.shrinkage) */
} bd_trainer_params_t;

typedef struct bd_trainer_result_s {
	bd_cluster_model_t *model; /**< the candidate, owned; NULL if none */
	int accepted;              /**< passed every check; statistics written */
	char why[256];             /**< why it was rejected */
	int samples, min_cluster, max_cluster;
	int rebuilt;               /**< samples of the log in its statistics */
	int floor;                 /**< the smallest cluster allowed */
	int n_parts;               /**< partitions with a sample log or decisions */
	uint16_t *parts;           /**< waiting for outcomes: to be carried over */
	int reseeded;              /**< clusters re-seeded to reach it */
	double inertia;
	bd_rep_metrics_t rep;
	bd_distill_metrics_t student;
	int compared;              /**< the plans were valued against current's */
	bd_promote_result_t ope;   /**< ... and how (diff: candidate - current) */
	double seconds;
} bd_trainer_result_t;

/** Trains version @p version.  @returns 0 (see res->accepted) or an error. */
int bd_trainer_run(bd_store_t *st, const bd_trainer_params_t *p, int64_t version,
		   bd_trainer_result_t *res) BD_WUR;
void bd_trainer_result_free(bd_trainer_result_t *res);

#endif
