/**
 * @file outbox.h
 * @brief Outputs that survive crashes: written with the state, produced
 *        after, deleted when delivered.
 *
 * An output (decision, dead letter, plan) is first put into the outbox
 * column family in the SAME write batch as the state and input offsets
 * that produced it; only after that batch is durable is it produced.  Its
 * delivery report lets a later batch delete it (a range delete over the
 * entries delivered so far).  A crash between the two
 * leaves it in the outbox, and whoever owns the partition next produces it
 * again: outputs are at least once, with stable ids (decision ids), and an
 * input offset never moves past an output that could be lost.
 *
 * @locality one outbox per thread; its producer's delivery reports must be
 *           served on the same thread (rd_kafka_poll on that thread).
 */
#ifndef BUDGETD_OUTBOX_H
#define BUDGETD_OUTBOX_H

#include <librdkafka/rdkafka.h>
#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/wire/messages.h"
#include "budgetd/state/store.h"

/** Outbox partition used for outputs that belong to no input partition. */
#define BD_OUTBOX_GLOBAL 0xffff

typedef struct bd_outbox_s bd_outbox_t;

/** @p topics is borrowed and must outlive the outbox. */
bd_outbox_t *bd_outbox_new(bd_store_t *st, rd_kafka_t *producer,
			   char *const topics[BD_MSG__COUNT]);
void bd_outbox_free(bd_outbox_t *ob);

/** Stages a message: puts it into @p b and queues it for production.
 *  @p key NULL is a null key; an empty key (@p klen 0) stays empty; a key
 *  of any length is kept whole.  Records written by releases before this
 *  format (2-byte key lengths) are still produced (outbox.c). */
int bd_outbox_add(bd_outbox_t *ob, bd_store_batch_t *b, uint16_t part,
		  bd_msg_kind_t kind, const void *key, size_t klen,
		  const void *val, size_t vlen) BD_WUR;
/** Adds the deletes of delivered entries to @p b, as one range per run of
 *  consecutive sequence numbers delivered in each partition's order (an
 *  entry delivered before an earlier one waits for it), and the sequence
 *  counters. */
void bd_outbox_prepare(bd_outbox_t *ob, bd_store_batch_t *b);
/** After @p b was written: produces everything staged since. */
void bd_outbox_produce(bd_outbox_t *ob);
/** After @p b was written, instead of bd_outbox_produce: holds everything
 *  staged since until bd_outbox_release opens @p gate (numbers rising with
 *  each call).  The changelog's ordering: a batch's outputs go out only
 *  once its changelog records are acknowledged, so an instance that takes
 *  over never lacks the state behind an output already published.  Held
 *  entries are written: dropped by bd_outbox_free, the partition's next
 *  owner produces them. */
void bd_outbox_hold(bd_outbox_t *ob, uint64_t gate);
/** Produces, in order, the held entries of every gate up to @p gate. */
void bd_outbox_release(bd_outbox_t *ob, uint64_t gate);
/** Entries held, not yet released. */
size_t bd_outbox_held(const bd_outbox_t *ob);
/** Produces again, from the store, the entries whose delivery failed.
 *  Call it from a timer so retries happen while no input arrives. */
void bd_outbox_retry(bd_outbox_t *ob);
/** Drops what was staged (the batch was not written). */
void bd_outbox_discard(bd_outbox_t *ob);
/** A partition was acquired: restores its sequence, re-produces its entries. */
int bd_outbox_recover(bd_outbox_t *ob, uint16_t part) BD_WUR;
/** The producer's dr_msg_cb forwards here. */
void bd_outbox_on_delivery(bd_outbox_t *ob, const rd_kafka_message_t *m);
/** Produced but not yet acknowledged. */
size_t bd_outbox_inflight(const bd_outbox_t *ob);
/** Delivered and ready to delete (every earlier entry of its partition
 *  delivered too): what the next bd_outbox_prepare deletes. */
size_t bd_outbox_acked(const bd_outbox_t *ob);
/** Deliveries that failed (each is retried from the store). */
uint64_t bd_outbox_failures(const bd_outbox_t *ob);

#endif
