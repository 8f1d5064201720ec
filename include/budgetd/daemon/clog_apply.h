/**
 * @file clog_apply.h
 * @brief Reading the changelog topic into a store: the applier behind
 *        budgetd --apply-changelog DIR (a fresh store from the topic alone)
 *        and behind the restore an instance makes when it takes the
 *        instance lock (daemon_restore.c).
 *
 * A partition of topic.changelog is read from a given offset to its end at
 * the time of the call, and each batch's operations are made on the store:
 * one RocksDB batch per changelog batch, written when its last part has
 * come (a batch whose parts stop at the log end, or are cut short by
 * another writer's record, is not applied, and is counted).  Records of a
 * batch the store holds already (its stamp: the epoch and batch number of
 * the last batch it wrote or applied of the partition, state/changelog.h)
 * are read and skipped.  Records of an epoch below the fence (the store's
 * own epoch, or one applied before them in the partition) are a zombie's
 * (an instance that lost the lock and still wrote: every holder writes a
 * higher epoch than the ones before it): fenced, skipped, counted.
 *
 * It refuses, and says why: a partition whose log no longer starts at the
 * offset asked for (the broker dropped records: the deltas after them
 * cannot be applied on state that lacks them), unless the first record
 * left is one the store holds; a record that
 * does not decode, or whose operations name another partition.
 *
 * @locality the calling thread; its consumer is its own (assign only, no
 * group joined, nothing committed).
 */
#ifndef BUDGETD_CLOG_APPLY_H
#define BUDGETD_CLOG_APPLY_H

#include <stdio.h>

#include "budgetd/base/common.h"
#include "budgetd/base/config.h"
#include "budgetd/state/changelog.h"
#include "budgetd/state/store.h"
#include "budgetd/wire/messages.h"

/** What an applier read and made, over every partition it was given. */
typedef struct bd_clog_tally_s {
	long records, batches, ops;
	long incomplete; /* batches cut short: not applied */
	long skipped;	 /* records of batches the store holds: not applied again */
	long fenced;	 /* records of an epoch older than one read before them */
	int64_t max_epoch; /* the highest epoch read (-1: none) */
	long long bytes; /* of the records read (framing included) */
	size_t largest;	 /* the largest record */
	long cf_ops[BD_CLOG_CF__COUNT];	       /* operations by family */
	long long cf_bytes[BD_CLOG_CF__COUNT]; /* their keys' and values' bytes */
	int64_t max_model_version; /* of the cells applied and the versions their
				    * partitions were carried to (-1: none) */
} bd_clog_tally_t;

typedef struct bd_clog_applier_s bd_clog_applier_t;

/** An applier reading @p cfg's topic.changelog from bootstrap.servers
 *  into @p st (borrowed) through @p codec (borrowed).  NULL with
 *  @p errstr set when its consumer cannot be made. */
bd_clog_applier_t *bd_clog_applier_new(const bd_config_t *cfg, bd_codec_t *codec,
				       bd_store_t *st, char *errstr, size_t errstr_size);
void bd_clog_applier_free(bd_clog_applier_t *a);

/** The changelog's partition count from the brokers' metadata, or -1 with
 *  @p errstr set. */
int bd_clog_applier_partitions(bd_clog_applier_t *a, char *errstr, size_t errstr_size);

/** The first and next offsets of partition @p p's log.
 *  @returns 0, or BD_EKAFKA with @p errstr set. */
int bd_clog_applier_watermarks(bd_clog_applier_t *a, int32_t p, int64_t *lo, int64_t *hi,
			       char *errstr, size_t errstr_size) BD_WUR;

/**
 * Applies partition @p p from offset @p from (0: the start) to the end of
 * its log; *@p end gets the offset after the last record read (@p from
 * when there was none).  *@p held: the store's stamp of the partition
 * ({-1, -1}: none); records of batches it covers are skipped; on return,
 * the stamp of the last batch applied.  *@p fence: records of a lower
 * epoch are fenced (a zombie's); on return, the highest epoch applied or
 * fenced against.  Where the log now starts past @p from, it is read from
 * its start only if the first record there is a batch the store holds
 * (nothing it lacks was dropped); otherwise refused.
 * @returns 0, or an error with @p errstr set.
 */
int bd_clog_applier_partition(bd_clog_applier_t *a, int32_t p, int64_t from,
			      bd_clog_stamp_t *held, int64_t *fence, int64_t *end, char *errstr,
			      size_t errstr_size) BD_WUR;

/** What was read and applied so far. */
const bd_clog_tally_t *bd_clog_applier_tally(const bd_clog_applier_t *a);

/** budgetd --apply-changelog: builds a new store in @p dir (refused when it
 *  holds one already) from every partition's log from offset 0, and marks
 *  each partition applied up to its end (a daemon started on that store
 *  restores only what came after).  A summary goes to @p out.
 *  @returns 0, or an error with @p errstr set. */
int bd_clog_apply_run(const bd_config_t *cfg, const char *dir, FILE *out, char *errstr,
		      size_t errstr_size) BD_WUR;

#endif
