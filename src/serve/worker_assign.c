/*
 * The worker's input partitions: which it holds (the rebalance callback,
 * positioned at the offsets stored with the state), an offset the broker
 * no longer has (read on from the start of the log, the range skipped
 * logged and counted), inputs paused (bd_worker_suspend and the stall
 * guard), and outcomes held until the features of their partition catch
 * up.
 */
#include "worker_int.h"

#include "budgetd/base/log.h"

/* ---- inputs lost, inputs paused --------------------------------------------- */

static const char *input_topic(const bd_worker_t *w, int in)
{
	return w->cfg->topic[in == IN_FEATURES ? BD_MSG_FEATURE : BD_MSG_OUTCOME];
}

/* Assigns the current assignment again, each partition at its next offset
 * (the start of its log when none is known or its offset was lost), and
 * pauses or resumes it as bd_worker_assign_guard has it.  Whatever was fetched before
 * is dropped (librdkafka's version barrier) and every hold is let go (a
 * held outcome is read again: next_off never passes it).  A seek cannot do
 * this: with auto.offset.reset=error librdkafka stops the fetcher of a
 * partition whose offset is lost, and only a new assignment starts it.
 * @locality the worker's loop. */
static void restart_inputs(bd_worker_t *w)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t err;

	if (bd_worker_batch_flush(w) != 0) {
		w->failed = 1;
		return;
	}
	if (rd_kafka_assignment(w->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
		return;
	for (int i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &l->elems[i];
		int in = bd_worker_input_of(w, tp->topic);
		part_t *p = bd_worker_part_get(w, tp->partition);
		tp->offset = RD_KAFKA_OFFSET_BEGINNING;
		if (!p || in < 0)
			continue;
		if (p->reset_from[in] < 0 && p->next_off[in] >= 0)
			tp->offset = p->next_off[in];
		if (in == IN_OUTCOMES) {
			p->hold_off = -1;
			p->hold_released = 0;
		}
	}
	if ((err = rd_kafka_assign(w->consumer, l)))
		bd_warn("worker %d: assigning its partitions again: %s", w->id,
			rd_kafka_err2str(err));
	if (w->paused)
		rd_kafka_pause_partitions(w->consumer, l);
	else
		rd_kafka_resume_partitions(w->consumer, l);
	rd_kafka_topic_partition_list_destroy(l);
}

/* The offset a partition was to be read from is not on the broker:
 * librdkafka's report under auto.offset.reset=error.  Only this report
 * counts as loss: a gap between two offsets read is none (compaction,
 * transaction markers and aborted records leave gaps in a log that still
 * holds everything), while this says the offset itself is outside the log
 * (below its start: deleted by retention before budgetd read it; beyond
 * its end: the log was truncated or the topic made anew).
 * @locality the worker's loop. */
void bd_worker_assign_offset_lost(bd_worker_t *w, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	int in = bd_worker_input_of(w, topic);
	part_t *p = bd_worker_part_get(w, m->partition);
	if (in < 0 || !p || !p->assigned[in])
		return;
	int64_t from = m->offset >= 0 ? m->offset : p->next_off[in];
	bd_warn("worker %d: %s/%d: offset %lld is not on the broker (%s); reading on from "
		"the start of its log", w->id, topic, m->partition, (long long)from,
		rd_kafka_message_errstr(m));
	bd_health_note(w->env.health, BD_HEALTH_INPUT, "%s/%d: offset %lld is not on the broker",
		       topic, m->partition, (long long)from);
	atomic_fetch_add_explicit(&w->c_resets[in], 1, memory_order_relaxed);
	if (p->reset_from[in] < 0 && from >= 0)
		p->reset_from[in] = from;
	restart_inputs(w);
}

/* The first message after bd_worker_assign_offset_lost: offsets from the lost one up to it
 * were skipped (or, when it is below, the log went back and they are read
 * again).  @locality the worker's loop. */
void bd_worker_assign_reset_done(bd_worker_t *w, part_t *p, int in,
				 const rd_kafka_message_t *m)
{
	const char *topic = input_topic(w, in);
	int64_t from = p->reset_from[in];

	p->reset_from[in] = -1;
	if (m->offset > from) {
		atomic_fetch_add_explicit(&w->c_skipped[in], (uint64_t)(m->offset - from),
					  memory_order_relaxed);
		bd_error("worker %d: %s/%d: offsets %lld..%lld SKIPPED (%lld offsets): gone from "
			 "the broker before budgetd read them (retention, or a lost log); "
			 "reading on at %lld", w->id, topic, m->partition, (long long)from,
			 (long long)(m->offset - 1), (long long)(m->offset - from),
			 (long long)m->offset);
		bd_health_note(w->env.health, BD_HEALTH_INPUT,
			       "%s/%d: offsets %lld..%lld skipped (gone from the broker)", topic,
			       m->partition, (long long)from, (long long)(m->offset - 1));
	} else if (m->offset < from) {
		bd_warn("worker %d: %s/%d: the log now ends before offset %lld (truncated or "
			"made anew): reading it again from %lld", w->id, topic, m->partition,
			(long long)from, (long long)m->offset);
		bd_health_note(w->env.health, BD_HEALTH_INPUT,
			       "%s/%d: the log went back from %lld to %lld", topic, m->partition,
			       (long long)from, (long long)m->offset);
	} else {
		bd_info("worker %d: %s/%d: reading on at %lld, nothing skipped", w->id, topic,
			m->partition, (long long)m->offset);
	}
	p->next_off[in] = m->offset;
}

/* Pauses or resumes the inputs as bd_worker_suspend asks and as the stall
 * guard wants: a loop silent for half a session may belong to a process
 * that was stopped (SIGSTOP, a frozen VM) while its group gave its
 * partitions to another instance; librdkafka only notices when it next
 * talks to the coordinator, and until then its fetchers would go on
 * feeding this worker.  So nothing is read until the group has revoked
 * the partitions (the rebalance callback ends the pause) or a
 * confirmation window passed without it.  @returns 1 while paused.
 * @locality the worker's loop. */
int bd_worker_assign_guard(bd_worker_t *w)
{
	uint64_t now = uv_hrtime();
	uint64_t beat = atomic_load_explicit(&w->beat_ns, memory_order_relaxed);

	if (w->stall_limit_ns && now - beat > w->stall_limit_ns && !w->stopping) {
		bd_warn("worker %d: loop silent for %.1f s: its group may have moved its "
			"partitions meanwhile; reading nothing until the group revokes them or "
			"%.1f s pass", w->id, (double)(now - beat) / 1e9,
			(double)w->stall_confirm_ns / 1e9);
		w->stall_until_ns = now + w->stall_confirm_ns;
		atomic_store_explicit(&w->beat_ns, now, memory_order_relaxed);
	}
	if (w->stall_until_ns && now >= w->stall_until_ns) {
		bd_info("worker %d: its group kept its partitions: reading again", w->id);
		w->stall_until_ns = 0;
	}
	int want = atomic_load_explicit(&w->suspend_req, memory_order_relaxed) ||
		   w->stall_until_ns != 0;
	if (want && !w->paused) {
		rd_kafka_topic_partition_list_t *l = NULL;
		w->paused = 1;
		if (rd_kafka_assignment(w->consumer, &l) == RD_KAFKA_RESP_ERR_NO_ERROR && l) {
			rd_kafka_pause_partitions(w->consumer, l);
			rd_kafka_topic_partition_list_destroy(l);
		}
	} else if (!want && w->paused) {
		w->paused = 0;
		restart_inputs(w);
	}
	return want;
}

/* ---- outcomes held for their features ------------------------------------ */

/* Should this outcome with an unknown decision wait for the features?  Yes
 * while the features partition of the same number (same key, same
 * partition) is this worker's and is behind its high watermark: the
 * decision may be among the features not read yet.  Pauses the outcomes
 * partition; bd_worker_assign_release_holds lets it go on once the features caught up.
 * Live traffic never gets here for a decision it knows (an outcome follows
 * its published decision), so only a replay or a bad outcome waits. */
#define HOLD_MAX_MS 30000

/* The features' high watermark of partition @p i as of the last fetch,
 * -1 while no fetch has answered yet. */
static int64_t features_hi(bd_worker_t *w, int32_t i)
{
	int64_t lo = -1, hi = -1;
	if (rd_kafka_get_watermark_offsets(w->consumer, w->cfg->topic[BD_MSG_FEATURE], i,
					   &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
		return -1;
	return hi < 0 ? -1 : hi;
}

int bd_worker_assign_hold(bd_worker_t *w, const rd_kafka_message_t *m)
{
	part_t *p = bd_worker_part_get(w, m->partition);
	int64_t hi;

	/* (unknown watermark: the features have not been fetched yet) */
	if (!p || !p->assigned[IN_FEATURES] || p->held_last == m->offset ||
	    ((hi = features_hi(w, m->partition)) >= 0 && hi <= p->next_off[IN_FEATURES]))
		return 0;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition);
	rd_kafka_pause_partitions(w->consumer, l);
	rd_kafka_topic_partition_list_destroy(l);
	p->hold_off = p->held_last = m->offset;
	p->hold_hi = hi;
	p->hold_since_ms = bd_worker_now_ms();
	p->hold_released = 0;
	bd_debug("worker %d: outcome %d@%lld waits for features %lld..%lld", w->id,
		 m->partition, (long long)m->offset,
		 (long long)p->next_off[IN_FEATURES], (long long)hi);
	return 1;
}

/* Resumes the outcomes partitions whose features caught up (bd_worker_assign_hold),
 * from the held outcome on. */
void bd_worker_assign_release_holds(bd_worker_t *w)
{
	for (int i = 0; i < w->nparts; i++) {
		part_t *p = &w->parts[i];
		if (p->hold_off < 0 || p->hold_released)
			continue;
		if (p->hold_hi < 0)
			p->hold_hi = features_hi(w, i);
		if (p->assigned[IN_FEATURES] &&
		    (p->hold_hi < 0 || p->next_off[IN_FEATURES] < p->hold_hi) &&
		    bd_worker_now_ms() - p->hold_since_ms < HOLD_MAX_MS)
			continue;
		rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
		rd_kafka_topic_partition_list_add(l, w->cfg->topic[BD_MSG_OUTCOME], i)->offset =
			p->hold_off;
		rd_kafka_error_t *e = rd_kafka_seek_partitions(w->consumer, l, 0);
		if (e) {
			bd_warn("worker %d: seek outcomes/%d: %s", w->id, i,
				rd_kafka_error_string(e));
			rd_kafka_error_destroy(e);
		}
		rd_kafka_resume_partitions(w->consumer, l);
		rd_kafka_topic_partition_list_destroy(l);
		p->hold_released = 1;
	}
}

/* ---- rebalance -------------------------------------------------------------- */

/* A failed commit is tried again at the next flush tick (see recommit).
 * @locality the worker's loop (served by its consumer poll). */
void bd_worker_assign_commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
				rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	bd_worker_t *w = opaque;
	(void)rk;
	for (int i = 0; offsets && i < offsets->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &offsets->elems[i];
		rd_kafka_resp_err_t e = tp->err ? tp->err : err;
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET)
			continue;
		int in = bd_worker_input_of(w, tp->topic);
		part_t *p = bd_worker_part_get(w, tp->partition);
		if (p && in >= 0) {
			p->commit_pending[in] = 1;
			w->recommit = 1;
		}
	}
}

static void own(bd_worker_t *w, int in, int32_t part, int on)
{
	if (part < 0 || part >= BD_WORKER_MAX_PARTITIONS)
		return;
	uint64_t bit = (uint64_t)1 << (part % 64);
	if (on)
		atomic_fetch_or_explicit(&w->owned[in][part / 64], bit, memory_order_relaxed);
	else
		atomic_fetch_and_explicit(&w->owned[in][part / 64], ~bit, memory_order_relaxed);
}

void bd_worker_assign_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
				   rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	bd_worker_t *w = opaque;

	/* Whatever is staged belongs to the assignment that is ending. */
	if (bd_worker_batch_flush(w) != 0)
		w->failed = 1;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++) {
			rd_kafka_topic_partition_t *tp = &parts->elems[i];
			int in = bd_worker_input_of(w, tp->topic);
			part_t *p = bd_worker_part_get(w, tp->partition);
			int64_t off = bd_store_offset_get(w->env.store, tp->topic,
							  tp->partition);
			/* Our stored offset is the next one to read. */
			tp->offset = off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING;
			if (p && in >= 0) {
				p->assigned[in] = 1;
				p->next_off[in] = off;
				p->reset_from[in] = -1;
				own(w, in, tp->partition, 1);
				if (in == IN_OUTCOMES)
					p->hold_off = -1;
				p->sample_loaded = 0;
				p->carried_loaded = 0;
				p->commit_pending[in] = off >= 0;
				w->recommit |= off >= 0;
			}
			if (in == IN_FEATURES &&
			    bd_outbox_recover(w->outbox, (uint16_t)tp->partition))
				w->failed = 1;
			bd_info("worker %d: assigned %s/%d at offset %lld", w->id,
				tp->topic, tp->partition, (long long)off);
		}
		rd_kafka_assign(rk, parts);
		/* a partition carried to the snapshot's version before its input */
		for (int i = 0; i < parts->cnt && !w->failed; i++)
			if (bd_worker_input_of(w, parts->elems[i].topic) == IN_FEATURES &&
			    bd_worker_batch_carry_part(w, parts->elems[i].partition) != 0)
				w->failed = 1;
		/* the group's own word: no stall to confirm any more */
		w->stall_until_ns = 0;
		w->paused = atomic_load_explicit(&w->suspend_req, memory_order_relaxed);
		if (w->paused)
			rd_kafka_pause_partitions(rk, parts);
		else /* an outcomes partition held (bd_worker_assign_hold) before a revoke */
			rd_kafka_resume_partitions(rk, parts);
		/* an empty assignment (more workers than partitions) counts: the
		 * group has settled for this worker */
		atomic_store_explicit(&w->holding, 1, memory_order_relaxed);
	} else {
		atomic_store_explicit(&w->holding, 0, memory_order_relaxed);
		for (int i = 0; i < parts->cnt; i++) {
			int in = bd_worker_input_of(w, parts->elems[i].topic);
			part_t *p = bd_worker_part_get(w, parts->elems[i].partition);
			if (p && in >= 0) {
				p->assigned[in] = 0;
				p->next_off[in] = -1;
				p->reset_from[in] = -1;
				own(w, in, parts->elems[i].partition, 0);
				if (in == IN_OUTCOMES)
					p->hold_off = -1;
			}
		}
		bd_info("worker %d: %d partitions revoked", w->id, parts->cnt);
		rd_kafka_assign(rk, NULL);
	}
}
