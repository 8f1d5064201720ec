/**
 * @file carry.h
 * @brief Carrying the statistics over to a new model version, exactly.
 *
 * Cells are keyed by model version and the solver reads those of one
 * version.  So when version V is promoted, V's cells must hold every
 * decision and outcome the older versions counted, clustered by V, and
 * every outcome that comes later for an older version's decision must land
 * in V's cells too.  Three steps, each written in one batch with its
 * marker, so a crash repeats a step wholly or not at all:
 *
 *  1. The trainer (off the loops) reads S_p, partition p's next sample-log
 *     sequence, then adds every sample of the log with a sequence below S_p
 *     (exposure and outcome; historical samples at hour 0), and records
 *     "V rebuilt partition p up to S_p" (bd_carry_put_rebuilt).
 *  2. Once V is in its snapshot (the carry phase: the old version still
 *     decides), each worker, before it handles more input of partition p,
 *     adds the samples from S_p on and the exposures of p's decisions still
 *     waiting for their outcomes (the pending index: one key per decision,
 *     written with it, deleted when its outcome is joined), and records "p
 *     carried to V" (bd_carry_partition).  Only this worker writes p, so
 *     nothing comes between the scan and the marker.
 *  3. From then on each decision of an older version, and each outcome of an
 *     older version's decision, is written to V's cells as well
 *     (worker_batch.c, bd_worker_batch_carry_add).
 *     When every worker has carried its partitions, the main loop swaps V
 *     in: its cells hold the whole day, so the solver never sees a gap.
 *
 * A version number is handed out once (bd_carry_next_version): a training
 * run that wrote cells and died never shares its number with a later one.
 *
 * @locality any thread; the store is thread-safe, batches are the caller's.
 */
#ifndef BUDGETD_CARRY_H
#define BUDGETD_CARRY_H

#include <stdint.h>

#include "budgetd/wire/cluster.h"
#include "budgetd/base/common.h"
#include "budgetd/state/samples.h"
#include "budgetd/state/stats.h"
#include "budgetd/state/store.h"

#define BD_CARRY_PENDING_KEY 18

/** Pending-index key: partition, decision time (ms, big-endian, so keys
 *  sort by time), decision hash. */
size_t bd_carry_pending_key(uint8_t *buf, uint16_t part, int64_t ts_ms, uint64_t hash);

/** The sample log's next sequence of @p part (0 when it has none). */
uint64_t bd_carry_sample_seq(bd_store_t *st, uint16_t part);

/** Marks in @p has (65536 flags) the partitions with decisions waiting for
 *  their outcomes.  @returns 0 or an error. */
int bd_carry_pending_parts(bd_store_t *st, uint8_t *has) BD_WUR;

/** Step 1's marker: @p version's cells hold @p part's samples below @p seq. */
void bd_carry_put_rebuilt(bd_store_batch_t *b, uint16_t part, int64_t version,
			  uint64_t seq);
/** Step 2's marker, and its reader: the version @p part was carried to,
 *  -1 if none. */
void bd_carry_put_carried(bd_store_batch_t *b, uint16_t part, int64_t version);
int64_t bd_carry_get_carried(bd_store_t *st, uint16_t part);
/** The version a meta-family put of @p key and @p val marks a partition
 *  carried to (step 2's marker), or -1 when it is not that marker (the
 *  changelog's restore reads the versions another instance promoted). */
int64_t bd_carry_marker_version(const void *key, size_t klen, const void *val, size_t vlen);

/** The version whose cells the carry protocol keeps complete, written with
 *  the promoted model; -1 if none (a store older than the protocol). */
void bd_carry_put_target(bd_store_batch_t *b, int64_t version);
int64_t bd_carry_get_target(bd_store_t *st);

/** The next version number for a training run: above @p current and above
 *  every number handed out before, recorded in @p b (write it before the
 *  run starts). */
int64_t bd_carry_next_version(bd_store_t *st, bd_store_batch_t *b, int64_t current);

/** Marks @p version handed out (if it is above every number handed out
 *  before), in @p b: a store restored from the changelog holds cells of
 *  versions another instance trained, and no run of this one may reuse
 *  their numbers. */
void bd_carry_reserve_version(bd_store_t *st, bd_store_batch_t *b, int64_t version);

typedef struct bd_carry_counts_s {
	int samples;  /**< samples added (sequence >= the trainer's S_p) */
	int pending;  /**< exposures of decisions waiting for outcomes */
	int expired;  /**< pending entries older than the retention, dropped */
	uint64_t from_seq;
} bd_carry_counts_t;

/**
 * Step 2 for partition @p part: adds to @p d the samples of the log the
 * rebuild of @p m's version did not see and the exposures of the decisions
 * waiting for outcomes, clustered by @p m; drops pending entries older than
 * @p expire_before_ms (their outcomes would be dead-lettered as expired);
 * puts the marker into @p b.  The caller must have written every earlier
 * batch of @p part first (the scan reads the store).
 * @returns 0 or an error.
 */
int bd_carry_partition(bd_store_t *st, uint16_t part, const bd_cluster_model_t *m,
		       int64_t expire_before_ms, bd_stats_delta_t *d, bd_store_batch_t *b,
		       bd_carry_counts_t *n) BD_WUR;

/** Adds one whole sample of partition @p part's log (its exposure and its
 *  outcome) to @p m's cell of it: at hour 0 if historical.  A sample of
 *  another dimension or without a propensity is skipped.
 *  @returns 1 added, 0 skipped, or an error. */
int bd_carry_add_sample(bd_stats_delta_t *d, uint16_t part, const bd_cluster_model_t *m,
			const bd_sample_t *s) BD_WUR;

#endif
