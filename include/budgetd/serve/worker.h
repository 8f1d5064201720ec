/**
 * @file worker.h
 * @brief One thread, one libuv loop, one consumer and one producer.
 *
 * A worker consumes its share of the feature and outcome partitions (one
 * consumer group for all workers of all instances, range assignment, so
 * partition p of both topics goes to the same worker), decides, joins
 * outcomes, and writes each poll cycle's state, outputs (outbox) and input
 * offsets in one RocksDB batch.
 *
 * An offset the broker no longer has (retention, a lost log) is never
 * skipped silently: the consumers run with auto.offset.reset=error, and the
 * worker logs the reset, reads on from the start of the log, logs the range
 * of offsets skipped when the first message comes, counts both
 * (input_resets, input_skipped) and notes BD_HEALTH_INPUT.
 *
 * @locality created and stopped by the main thread; everything else runs on
 *           the worker's own thread.  The only cross-thread entry points are
 *           bd_worker_post_snapshot(), bd_worker_stop() and
 *           bd_worker_suspend(), and the atomic readers
 *           bd_worker_counters(), bd_worker_heartbeat(),
 *           bd_worker_assigned(), bd_worker_carried() and bd_worker_owns().
 */
#ifndef BUDGETD_WORKER_H
#define BUDGETD_WORKER_H

#include <stdint.h>

#include <stdatomic.h>
#include <uv.h>

#include "budgetd/base/common.h"
#include "budgetd/serve/health.h"
#include "budgetd/base/histo.h"
#include "budgetd/base/config.h"
#include "budgetd/serve/counters.h"
#include "budgetd/wire/messages.h"
#include "budgetd/policy/snapshot.h"
#include "budgetd/state/store.h"

typedef struct bd_worker_s bd_worker_t;

/** Input partitions a worker reports ownership of (bd_worker_owns). */
#define BD_WORKER_MAX_PARTITIONS 1024

/** Shared, read-only context handed to every worker. */
typedef struct bd_worker_env_s {
	const bd_config_t *cfg;
	const char *bootstrap;
	bd_store_t *store;
	uv_async_t *failed; /**< sent when a worker stops on an error */
	bd_health_t *health; /**< notes broker and delivery problems */
	uv_async_t *carried; /**< sent when bd_worker_carried() moved */
	/** changelog.enabled: the partitions of topic.changelog, which the
	 *  caller checked equal the inputs' (0: no changelog written) */
	int clog_partitions;
	/** schema.registry.url: where the codecs fetch writers' schemas
	 *  (NULL: none); it outlives the workers */
	const struct bd_registry_s *registry;
	/** the schema ids the codecs write (schema.id.* or the registry's) */
	const uint32_t *schema_id;
	/** the owner epoch every changelog record carries: this instance's
	 *  since it took the instance lock (daemon_restore.c) */
	int64_t clog_epoch;
	/** the batch numbers of the changelog records, one counter for every
	 *  worker of the instance (each batch takes the next) */
	_Atomic int64_t *clog_seq;
	/** per changelog partition, the offset after the last record of this
	 *  instance the broker acknowledged (workers raise it) */
	_Atomic int64_t *clog_end;
} bd_worker_env_t;

/**
 * Starts worker @p id with a reference to @p snap (the caller keeps its own).
 * @returns 0 or an error, with errstr.
 */
int bd_worker_start(int id, const bd_worker_env_t *env, bd_snapshot_t *snap,
		    bd_worker_t **out, char *errstr, size_t errstr_size) BD_WUR;
/** Hands a new snapshot to the worker (takes its own reference). */
void bd_worker_post_snapshot(bd_worker_t *w, bd_snapshot_t *snap);
/** Asks the worker to drain, write, close its consumer and exit. */
void bd_worker_stop(bd_worker_t *w);
/** Waits for the thread to end and frees the worker; its final counters go
 *  to @p final unless NULL.  @returns 1 if the worker stopped on an error
 *  (a state write failed, also while draining after bd_worker_stop), else
 *  0: read once the thread has ended, so without a race. */
int bd_worker_join(bd_worker_t *w, bd_worker_counters_t *final);
/** uv_hrtime() of the worker loop's latest timer tick (every
 *  flush.interval.ms while the loop runs): the watchdog's evidence that the
 *  loop is not stuck.  @locality any thread. */
uint64_t bd_worker_heartbeat(const bd_worker_t *w);
/** 1 while the worker holds a partition assignment (from its consumer
 *  group's assign to the next revoke; an empty one counts), else 0.
 *  @locality any thread. */
int bd_worker_assigned(const bd_worker_t *w);
/** The model version partition @p partition was carried to (carry.h) by
 *  this worker, or found carried to when it was assigned; written before it
 *  says so; -1 if it has not held the partition since a carry target was
 *  set (or @p partition >= topic.partitions).  @locality any thread. */
int64_t bd_worker_carried(const bd_worker_t *w, int partition);
/** 1 while partition @p partition of input 0 (features) or 1 (outcomes) is
 *  in the worker's assignment (partitions below BD_WORKER_MAX_PARTITIONS).
 *  @locality any thread. */
int bd_worker_owns(const bd_worker_t *w, int input, int partition);
/**
 * Pauses (@p on 1) or resumes (0) the worker's inputs: while paused it
 * reads nothing and so decides nothing (what it fetched before is dropped
 * and read again on resume, from its stored offsets); its consumer stays
 * in the group.  Takes effect on the worker's loop at once (it is woken).
 * The worker also pauses by itself when its loop was silent for half of
 * session.timeout.ms (a stopped process: its group may have given the
 * partitions to another instance meanwhile) until the group has either
 * revoked them or let max(2 s, 2 x heartbeat.interval.ms) pass.
 * @locality any thread.
 */
void bd_worker_suspend(bd_worker_t *w, int on);
void bd_worker_counters(const bd_worker_t *w, bd_worker_counters_t *c);
/** Adds the worker's request -> decision latencies (from each feature
 *  event's Kafka timestamp to its decision's hand-off to the producer) to
 *  @p snap.  @locality any thread. */
void bd_worker_latency(const bd_worker_t *w, bd_histo_snap_t *snap);
/** Consumer lag of @p partition of input 0 (features) or 1 (outcomes), or
 *  -1 when the worker does not own it.  @locality any thread. */
int64_t bd_worker_lag(const bd_worker_t *w, int input, int partition);

#endif
