/**
 * @file worker_int.h
 * @brief Internals shared by the worker's files.  Not part of the public API
 *        (include/budgetd/worker.h is).
 *
 * One worker is one thread; its code is in four files:
 *  - worker.c: the thread, its loop (drain, timer, wakers), its Kafka
 *    clients and their callbacks, the mailbox, stop, life cycle and the
 *    public API;
 *  - worker_input.c: one consumed message: features decided, outcomes
 *    joined, dead letters (bd_worker_input_handle);
 *  - worker_batch.c: what a batch stages and writes: the in-batch decision
 *    records, the carry-over of statistics to a new model version, and the
 *    write of state, outputs and offsets in one RocksDB batch
 *    (bd_worker_batch_flush);
 *  - worker_assign.c: the input partitions: the assignment (rebalance),
 *    offsets the broker lost, inputs paused (the stall guard,
 *    bd_worker_suspend) and outcomes held for their features.
 * The helpers called for every message are static inline here, so that the
 * split costs no call per event.
 *
 * @locality everything here runs on the worker's own thread (its loop and
 *           the librdkafka callbacks its polls serve), unless a field says
 *           otherwise.
 */
#ifndef BUDGETD_WORKER_INT_H
#define BUDGETD_WORKER_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "budgetd/policy/clock.h"
#include "budgetd/policy/decide.h"
#include "budgetd/serve/kafka.h"
#include "budgetd/wire/messages.h"
#include "budgetd/state/changelog.h"
#include "budgetd/state/outbox.h"
#include "budgetd/state/stats.h"
#include "budgetd/serve/worker.h"

#define REC_MAX (64 + 4 * 1100 + 512 * 4)


enum { IN_FEATURES = 0, IN_OUTCOMES = 1 };

typedef struct part_s {
	int assigned[2];     /* per input topic */
	int64_t next_off[2]; /* next offset to read, -1 = untouched */
	int off_dirty[2];
	int commit_pending[2]; /* Kafka's committed offset may lag ours */
	uint64_t sample_seq;
	/* samples below it deleted by this run (0 after a load: the first
	 * trim covers everything older) */
	uint64_t sample_trimmed;
	int sample_loaded, sample_dirty;
	int64_t carried; /* the model version its statistics were carried to */
	int carried_loaded, carried_told; /* told: in carried_part (written) */
	/* An outcome whose decision is not known yet while this partition's
	 * features are behind (a replay: a restored checkpoint re-reads
	 * features whose outcomes are already in Kafka).  The outcomes
	 * partition is paused at hold_off until the features reach hold_hi,
	 * their high watermark when the outcome arrived, then read again from
	 * hold_off (hold_hi -1: not known yet; at most HOLD_MAX_MS).  -1:
	 * nothing held. */
	int64_t hold_off, hold_hi, hold_since_ms;
	int64_t held_last; /* an outcome is held once at most */
	int hold_released; /* resumed: skip until hold_off comes again */
	/* The broker no longer had the offset we were to read (retention, a
	 * lost log: bd_worker_assign_offset_lost); the input is read again from the start of
	 * the log, and the first message that comes tells the range skipped.
	 * -1: none pending. */
	int64_t reset_from[2];
} part_t;

/* Decisions written or updated in the current batch, not yet readable from
 * RocksDB: an in-batch duplicate must see them. */
typedef struct pending_rec_s {
	uint64_t hash;
	uint16_t part;
	uint16_t len;
	uint8_t *rec; /* NULL = empty slot */
} pending_rec_t;

/* A written batch's changelog records not yet acknowledged (worker_batch.c). */
typedef struct clog_gate_s {
	uint64_t gate;
	size_t left;
} clog_gate_t;

struct bd_worker_s {
	int id;
	bd_worker_env_t env;
	const bd_config_t *cfg;
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t mailbox;
	uv_timer_t timer;
	uv_idle_t again; /* drains on while a batch came back full (drain) */
	bd_kafka_waker_t cons_waker, prod_waker;
	rd_kafka_t *consumer, *producer;
	/* the output topics, looked up at start (worker.c, warm_outputs) and
	 * held for the producer's life */
	rd_kafka_topic_t *out_topics[3];
	rd_kafka_queue_t *cons_q, *prod_q;
	bd_codec_t *codec;
	bd_store_batch_t *batch;
	bd_stats_delta_t *delta;
	bd_outbox_t *outbox;
	/* changelog.enabled: the batch's operations by partition, produced to
	 * topic.changelog after the batch is written (NULL: off) */
	bd_clog_rec_t *clog;
	bd_buf_t clog_buf;
	char clog_instance[96]; /* host:pid, the records' instance */
	uint64_t clog_bytes_window, clog_records_window; /* since the last log line */
	size_t clog_max_record; /* the largest record of the window */
	/* the changelog before the outputs: each written batch's gate (a
	 * number rising by batch) and its records not yet acknowledged, oldest
	 * first; a batch's outputs are held in the outbox until every gate up
	 * to its own is open */
	uint64_t clog_gate;
	int64_t clog_seq; /* the batch number of the batch being written */
	clog_gate_t *gates;
	size_t gates_head, gates_n, gates_cap;
	bd_snapshot_t *snap;
	bd_clock_rule_t clock_rule;
	bd_clock_marks_t clock_marks; /* campaign clocks this batch moved */
	bd_buf_t out;
	part_t *parts;
	int nparts;
	pending_rec_t *pend;
	size_t pend_cap, pend_used;
	int dirty; /* something staged since the last write */
	int stopping, failed;
	int fatal; /* a client's fatal error: stop at the next tick */
	int stopping_consumer; /* consumer closed: no more commits */
	int recommit;          /* some commit_pending is set */

	uv_mutex_t mbox_lock; /* guards the two fields below */
	bd_snapshot_t *mbox_snap;
	int mbox_stop;

	/* read by the main loop: its watchdog and readiness checks */
	_Atomic uint64_t beat_ns; /* uv_hrtime() at the latest timer tick */
	/* per partition (lag_n of them): the version it was carried to, once
	 * written; read by the main loop before it swaps a version in */
	_Atomic int64_t *carried_part;
	_Atomic int holding;      /* 1 from an assignment to the next revoke */
	/* input partitions of the assignment (bit p of word p / 64), read by
	 * the main loop to see whether its workers cover every partition */
	_Atomic uint64_t owned[2][BD_WORKER_MAX_PARTITIONS / 64];

	/* Inputs paused: asked by the main loop (bd_worker_suspend: a standby,
	 * or a group that someone else joined), or by the stall guard (this
	 * loop was silent long enough for the group to have given its
	 * partitions away: nothing is decided until the group either revokes
	 * them or lets a confirmation window pass without doing so). */
	_Atomic int suspend_req;
	int paused;		  /* the assignment is paused (bd_worker_assign_guard) */
	uint64_t stall_until_ns;  /* stall guard: paused until then */
	uint64_t stall_limit_ns, stall_confirm_ns;

	_Atomic uint64_t c_features, c_outcomes, c_historical, c_decisions,
		c_republished, c_dead, c_batches, c_dups, c_winsorized;
	/* changelog records produced, their bytes, and those that failed
	 * (produce refused or delivery failed) */
	_Atomic uint64_t c_clog_records, c_clog_bytes, c_clog_failures;
	_Atomic uint64_t c_dead_by[BD_DEAD__COUNT]; /* c_dead by reason */
	_Atomic uint64_t c_resets[2], c_skipped[2]; /* bd_worker_assign_offset_lost, by input */

	/* request -> decision latency: Kafka timestamps of this batch's
	 * feature events, observed when their decisions go to the producer */
	bd_histo_t lat;
	int64_t *dec_ts;
	size_t dec_n, dec_cap;
	/* consumer lag per input and partition (-1: not ours), read by the
	 * main loop for /metrics */
	_Atomic int64_t *lag;
	int lag_n;
};

#define COUNT(w, f) atomic_fetch_add_explicit(&(w)->f, 1, memory_order_relaxed)

/* ---- helpers of every part, called for every message ------------------------ */

static inline int64_t bd_worker_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline part_t *bd_worker_part_get(bd_worker_t *w, int32_t p)
{
	if (p < 0 || p >= 0xffff)
		return NULL;
	if (p >= w->nparts) {
		int n = p + 1;
		part_t *v = realloc(w->parts, (size_t)n * sizeof(*v));
		if (!v)
			return NULL;
		for (int i = w->nparts; i < n; i++) {
			memset(&v[i], 0, sizeof(v[i]));
			v[i].next_off[0] = v[i].next_off[1] = -1;
			v[i].hold_off = v[i].held_last = -1;
			v[i].reset_from[0] = v[i].reset_from[1] = -1;
		}
		w->parts = v;
		w->nparts = n;
	}
	return &w->parts[p];
}

static inline int bd_worker_input_of(const bd_worker_t *w, const char *topic)
{
	if (strcmp(topic, w->cfg->topic[BD_MSG_FEATURE]) == 0)
		return IN_FEATURES;
	if (strcmp(topic, w->cfg->topic[BD_MSG_OUTCOME]) == 0)
		return IN_OUTCOMES;
	return -1;
}

static inline int bd_worker_stats_add(bd_worker_t *w, const uint8_t *key, size_t klen,
				      const double *x, int n)
{
	return bd_stats_delta_add(w->delta, key, klen, x, n);
}

/* ---- worker_input.c ---------------------------------------------------------- */

/* Handles one consumed message (or consumer error): decides a feature
 * event, joins an outcome, dead-letters what is bad, and stages the
 * partition's next offset.  @locality the worker's loop (drain, on_timer). */
void bd_worker_input_handle(bd_worker_t *w, rd_kafka_message_t *m);

/* ---- worker_batch.c ---------------------------------------------------------- */

/* Frees the in-batch decision records (after a write; at the end).
 * @locality the worker's loop; worker_free once the thread has ended. */
void bd_worker_batch_pend_clear(bd_worker_t *w);

/* Looks a decision up: this batch first, then the store.
 * @returns 0 found (rec unpacked), 1 absent, <0 error.
 * @locality the worker's loop (worker_input.c). */
int bd_worker_batch_decision_lookup(bd_worker_t *w, uint16_t part, uint64_t h,
				    bd_decision_rec_t *rec);

/* Stages decision @p rec in the batch, readable at once by
 * bd_worker_batch_decision_lookup.  @locality the worker's loop
 * (worker_input.c). */
int bd_worker_batch_decision_store(bd_worker_t *w, uint16_t part, uint64_t h,
				   const bd_decision_rec_t *rec);

/* The cells of the version being carried to get @p x too, when the decision
 * was made by an older version (@p model_version): step 3 of carry.h.
 * @locality the worker's loop (worker_input.c). */
int bd_worker_batch_carry_add(bd_worker_t *w, uint16_t part, const char *campaign,
			      int64_t model_version, int32_t treatment, int64_t hour,
			      const float *features, const double *x);

/* Brings partition @p i's statistics to the snapshot's carry version before
 * any more of its input is handled: step 2 of carry.h.  Cheap once done.
 * @locality the worker's loop (bd_worker_input_handle, the rebalance
 * callback). */
int bd_worker_batch_carry_part(bd_worker_t *w, int32_t i);

/* Carries every partition held to the snapshot's carry version and writes
 * it.  @returns 0 or an error.  @locality the worker's loop (on_mailbox, a
 * new snapshot). */
int bd_worker_batch_carry_all(bd_worker_t *w);

/* Writes everything staged: state, outputs and offsets in one batch.
 * @returns 0 or an error (the worker has failed).  @locality the worker's
 * loop, from every file. */
int bd_worker_batch_flush(bd_worker_t *w);

/* A changelog record of gate @p gate was acknowledged or lost (@p err):
 * the outputs of every batch whose records are all done go out.
 * @locality the worker's loop (the producer's delivery reports) */
void bd_worker_batch_clog_done(bd_worker_t *w, uint64_t gate, rd_kafka_resp_err_t err);

/* ---- worker_assign.c --------------------------------------------------------- */

/* An offset of @p m's partition is not on the broker (librdkafka's
 * RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET): logged, counted, the input read on
 * from the start of its log.  @locality the worker's loop
 * (bd_worker_input_handle). */
void bd_worker_assign_offset_lost(bd_worker_t *w, const rd_kafka_message_t *m);

/* The first message @p m of input @p in after an offset was lost: the range
 * skipped is logged and counted.  @locality the worker's loop
 * (bd_worker_input_handle). */
void bd_worker_assign_reset_done(bd_worker_t *w, part_t *p, int in,
				 const rd_kafka_message_t *m);

/* Holds outcome @p m (its decision unknown) while its partition's features
 * are behind: pauses the outcomes partition.  @returns 1 if held.
 * @locality the worker's loop (worker_input.c). */
int bd_worker_assign_hold(bd_worker_t *w, const rd_kafka_message_t *m);

/* Resumes the outcomes partitions whose features caught up (or whose hold
 * timed out), from the held outcome on.  @locality the worker's loop (drain,
 * on_timer). */
void bd_worker_assign_release_holds(bd_worker_t *w);

/* Pauses or resumes the inputs as bd_worker_suspend asks and as the stall
 * guard wants.  @returns 1 while paused.  @locality the worker's loop
 * (drain, on_timer, on_mailbox). */
int bd_worker_assign_guard(bd_worker_t *w);

/* The consumer's rebalance and offset-commit callbacks (make_client).
 * @locality the worker's loop (served by its consumer poll). */
void bd_worker_assign_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
				   rd_kafka_topic_partition_list_t *parts, void *opaque);
void bd_worker_assign_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
				rd_kafka_topic_partition_list_t *offsets, void *opaque);

#endif
