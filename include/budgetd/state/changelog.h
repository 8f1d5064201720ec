/**
 * @file changelog.h
 * @brief The changelog's two ends in the state layer: the recorder, which
 *        collects per input partition the store operations a worker batch
 *        makes, and the applier, which makes a record's operations on a
 *        store batch again.
 *
 * The worker produces what the recorder collected after its RocksDB batch
 * is written (docs/architecture.md, "The changelog"); an instance taking the
 * instance lock restores from it (daemon_restore.c), and budgetd
 * --apply-changelog builds a store from it alone.
 *
 * Every operation of a worker batch must name an input partition
 * (bd_store_key_partition) below the recorder's partition count: one that
 * does not fails the recorder, and the worker then refuses to write the
 * batch (fail closed: state the changelog cannot carry is not written).
 *
 * @locality a recorder belongs to one worker (its thread) and one batch.
 */
#ifndef BUDGETD_CHANGELOG_H
#define BUDGETD_CHANGELOG_H

#include <stddef.h>
#include <stdint.h>

#include "budgetd/state/store.h"
#include "budgetd/wire/messages.h"

typedef struct bd_clog_rec_s bd_clog_rec_t;

/** A recorder for @p nparts input partitions (0 .. nparts-1).  NULL: no memory. */
bd_clog_rec_t *bd_clog_rec_new(int nparts);
void bd_clog_rec_free(bd_clog_rec_t *r);

/** Records every operation made on @p b from now on (bd_store_batch_hook). */
void bd_clog_rec_attach(bd_clog_rec_t *r, bd_store_batch_t *b);

/** NULL, or why the operations recorded since the last clear cannot go to
 *  the changelog ("stats key of no partition", "meta key of partition 9,
 *  the changelog has 8", "out of memory").  */
const char *bd_clog_rec_failed(const bd_clog_rec_t *r);

/**
 * The next partition, from *@p cursor on (start at 0), with operations
 * recorded: its record in @p out (kind BATCH, partition, batch_seq, part 0
 * of 1, its input offsets and ops; epoch, instance and ts_ms left to the
 * caller), valid until the recorder is cleared.  Each call numbers the
 * partition's batch_seq on.  @returns 1 with a record, 0 when there are no
 * more, -ENOMEM (the partition at *@p cursor skipped: call again for the
 * rest).
 */
int bd_clog_rec_next(bd_clog_rec_t *r, int *cursor, bd_changelog_t *out);

/** Stamps the batch: puts into @p b, for every partition with operations
 *  recorded, the meta key saying the store holds that partition's batches
 *  of @p epoch up to @p seq (bd_clog_stamp_get).  The put is recorded too,
 *  so a store the record is applied to says the same.  Call it last,
 *  before the write; the records' batch_seq must be @p seq. */
void bd_clog_rec_stamp(bd_clog_rec_t *r, bd_store_batch_t *b, int64_t epoch, int64_t seq);

/** Forgets what was recorded (after the batch was written or discarded). */
void bd_clog_rec_clear(bd_clog_rec_t *r);

/** The store's family of a changelog family, and back (-1: none). */
int bd_clog_cf_of(bd_cf_t cf);
int bd_clog_store_cf(int clog_cf);

/**
 * Makes @p r's operations on @p b, through the store calls the writer made
 * (a MERGE through bd_store_batch_add, so the stats merge operator sums
 * it).  Refuses, with the batch partly staged (clear it), an operation
 * whose key names another partition than @p r's, a MERGE that is not
 * whole doubles, an unknown family.  @returns 0 or BD_EINVAL with @p errstr.
 */
int bd_changelog_apply(bd_store_batch_t *b, const bd_changelog_t *r, char *errstr,
		       size_t errstr_size) BD_WUR;

/*
 * Where a store stands against the changelog (the restore, daemon_restore.c),
 * in meta keys the main loop writes (never recorded themselves):
 *  - the position of partition p: the changelog offset up to which the
 *    store holds every record, its own and others' (set when the store was
 *    restored or built; -1: never);
 *  - the store's epoch: the owner epoch of the instance that last decided
 *    on it.  Records of that epoch after the position are the store's own
 *    batches, already in it (-1: none);
 *  - the fence of partition p: the highest epoch applied from it; a record
 *    of a lower epoch after the position is a zombie's (-1: none);
 *  - the stamp of partition p: the (epoch, batch_seq) of the last batch the
 *    store holds of it, written with the batch itself (bd_clog_rec_stamp):
 *    a record of that epoch and a batch_seq not above it is held already.
 */
typedef struct bd_clog_stamp_s {
	int64_t epoch, seq; /* -1, -1: none */
} bd_clog_stamp_t;
bd_clog_stamp_t bd_clog_stamp_get(bd_store_t *st, uint16_t part);
int64_t bd_clog_position_get(bd_store_t *st, uint16_t part);
void bd_clog_position_put(bd_store_batch_t *b, uint16_t part, int64_t next_offset);
int64_t bd_clog_epoch_get(bd_store_t *st);
int64_t bd_clog_fence_get(bd_store_t *st, uint16_t part);
void bd_clog_fence_put(bd_store_batch_t *b, uint16_t part, int64_t epoch);
void bd_clog_epoch_put(bd_store_batch_t *b, int64_t epoch);

#endif
