/*
 * The worker's batch: everything a poll cycle staged (state deltas,
 * decision records, outputs through the outbox, the carry-over of
 * statistics to a new model version) is written with the next offsets of
 * its partitions in one RocksDB batch, then produced and committed to Kafka
 * (best effort: the stored offsets are the truth).
 */
#include "worker_int.h"

#include <errno.h>
#include <stdio.h>

#include "budgetd/policy/carry.h"
#include "budgetd/base/hash.h"
#include "budgetd/base/log.h"
#include "budgetd/state/samples.h"

/* ---- in-batch decision records ------------------------------------------- */

static pending_rec_t *pend_slot(bd_worker_t *w, uint16_t part, uint64_t h)
{
	size_t i = (size_t)bd_hash_mix(h ^ part) & (w->pend_cap - 1);
	for (;; i = (i + 1) & (w->pend_cap - 1)) {
		pending_rec_t *s = &w->pend[i];
		if (!s->rec || (s->hash == h && s->part == part))
			return s;
	}
}

static int pend_put(bd_worker_t *w, uint16_t part, uint64_t h,
		    const uint8_t *rec, size_t len)
{
	pending_rec_t *s;
	if (2 * (w->pend_used + 1) > w->pend_cap) {
		size_t cap = w->pend_cap ? w->pend_cap * 2 : 1024;
		pending_rec_t *old = w->pend;
		size_t oldcap = w->pend_cap;
		w->pend = calloc(cap, sizeof(*w->pend));
		if (!w->pend) {
			w->pend = old;
			return -ENOMEM;
		}
		w->pend_cap = cap;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].rec)
				*pend_slot(w, old[i].part, old[i].hash) = old[i];
		free(old);
	}
	s = pend_slot(w, part, h);
	uint8_t *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, rec, len);
	if (s->rec)
		free(s->rec);
	else
		w->pend_used++;
	s->hash = h;
	s->part = part;
	s->len = (uint16_t)len;
	s->rec = copy;
	return 0;
}

void bd_worker_batch_pend_clear(bd_worker_t *w)
{
	for (size_t i = 0; i < w->pend_cap && w->pend_used; i++)
		if (w->pend[i].rec) {
			free(w->pend[i].rec);
			w->pend[i].rec = NULL;
			w->pend_used--;
		}
}

/* Looks a decision up: this batch first, then the store.
 * @returns 0 found (rec unpacked), 1 absent, <0 error. */
int bd_worker_batch_decision_lookup(bd_worker_t *w, uint16_t part, uint64_t h,
				    bd_decision_rec_t *rec)
{
	uint8_t key[10];
	char *val = NULL;
	size_t vlen = 0;
	int err;

	if (w->pend_cap) {
		pending_rec_t *s = pend_slot(w, part, h);
		if (s->rec)
			return bd_decision_rec_unpack(rec, s->rec, s->len);
	}
	bd_be16(key, part);
	bd_be64(key + 2, h);
	err = bd_store_get(w->env.store, BD_CF_DECISIONS, key, sizeof(key), &val,
			   &vlen);
	if (err)
		return err;
	err = bd_decision_rec_unpack(rec, (uint8_t *)val, vlen);
	free(val);
	return err;
}

int bd_worker_batch_decision_store(bd_worker_t *w, uint16_t part, uint64_t h,
				   const bd_decision_rec_t *rec)
{
	uint8_t key[10], buf[REC_MAX];
	int len = bd_decision_rec_pack(rec, buf, sizeof(buf));
	if (len < 0)
		return len;
	bd_be16(key, part);
	bd_be64(key + 2, h);
	bd_store_batch_put(w->batch, BD_CF_DECISIONS, key, sizeof(key), buf,
			   (size_t)len);
	return pend_put(w, part, h, buf, (size_t)len);
}

/* ---- carrying statistics to a new model version (carry.h) ---------------- */

/* The cells of the version being carried to get @p x too, when the decision
 * was made by an older version (@p model_version): step 3 of carry.h. */
int bd_worker_batch_carry_add(bd_worker_t *w, uint16_t part, const char *campaign,
			      int64_t model_version, int32_t treatment, int64_t hour,
			      const float *features, const double *x)
{
	const bd_cluster_model_t *cm = w->snap->carry;
	uint8_t key[BD_STATS_KEY_MAX];
	if (!cm || cm->version <= model_version || !features)
		return 0;
	size_t klen = bd_stats_cell_key(key, part, campaign, cm->version,
					bd_cluster_assign(cm, features), treatment, hour);
	return bd_worker_stats_add(w, key, klen, x, BD_STAT__COUNT);
}

/* The latest clock of any campaign (the pending decisions' expiry runs on
 * event time; 0: none yet). */
static int64_t latest_clock(const bd_worker_t *w)
{
	int64_t latest = 0;
	for (int i = 0; i < w->snap->campaigns.n; i++) {
		const bd_clock_t *c = bd_snapshot_clock(w->snap, &w->snap->campaigns.v[i]);
		int64_t t = c ? bd_clock_read(c) : 0;
		if (t > latest)
			latest = t;
	}
	return latest;
}

/* Brings partition @p i's statistics to the snapshot's carry version before
 * any more of its input is handled: step 2 of carry.h.  Cheap once done. */
int bd_worker_batch_carry_part(bd_worker_t *w, int32_t i)
{
	const bd_cluster_model_t *cm = w->snap->carry;
	part_t *p = bd_worker_part_get(w, i);
	bd_carry_counts_t n;
	int err;

	if (!p)
		return -ENOMEM;
	if (!cm)
		return 0;
	if (!p->carried_loaded) {
		p->carried = bd_carry_get_carried(w->env.store, (uint16_t)i);
		p->carried_loaded = 1;
		p->carried_told = 0; /* stored already: told at the next flush */
		w->dirty = 1;
	}
	if (p->carried >= cm->version)
		return 0;
	/* the scan reads the store: this partition's staged input first */
	if ((err = bd_worker_batch_flush(w)))
		return err;
	int64_t clock = latest_clock(w);
	int64_t expire = clock > 0 ? clock - (int64_t)w->cfg->decision_retention_s * 1000
				   : INT64_MIN;
	uint64_t t0 = uv_hrtime();
	if ((err = bd_carry_partition(w->env.store, (uint16_t)i, cm, expire, w->delta,
				      w->batch, &n)))
		return err;
	p->carried = cm->version;
	p->carried_told = 0; /* once written */
	w->dirty = 1;
	bd_info("worker %d: partition %d carried over to model %lld: %d samples from "
		"sequence %llu, %d decisions waiting for outcomes (%d expired dropped), %.0f ms",
		w->id, i, (long long)cm->version, n.samples, (unsigned long long)n.from_seq,
		n.pending, n.expired, (double)(uv_hrtime() - t0) / 1e6);
	return 0;
}

/* Carries every partition held to the snapshot's carry version and writes
 * it (flush tells the main loop).  @returns 0 or an error. */
int bd_worker_batch_carry_all(bd_worker_t *w)
{
	int err;
	if (!w->snap->carry)
		return 0;
	for (int i = 0; i < w->nparts; i++)
		if ((w->parts[i].assigned[IN_FEATURES] || w->parts[i].assigned[IN_OUTCOMES]) &&
		    (err = bd_worker_batch_carry_part(w, i)))
			return err;
	return bd_worker_batch_flush(w);
}

/* After a write: the partitions carried in it (or found carried in the
 * store) go to carried_part, and the main loop hears of it. */
static void carry_tell(bd_worker_t *w)
{
	int told = 0;
	for (int i = 0; i < w->nparts && i < w->lag_n; i++) {
		part_t *p = &w->parts[i];
		if (!p->carried_loaded || p->carried_told)
			continue;
		p->carried_told = 1;
		atomic_store_explicit(&w->carried_part[i], p->carried, memory_order_relaxed);
		told = 1;
	}
	if (told && w->env.carried)
		uv_async_send(w->env.carried);
}

/* ---- batches --------------------------------------------------------------- */

/* Commits to Kafka the stored offsets it may not have: those of partitions
 * just assigned (a killed predecessor may have stored them without its
 * async commit landing) and of commits that failed.  Best effort, like
 * every commit: the offsets in RocksDB are the truth, Kafka's copy only
 * makes consumer lag visible to the usual tools.
 * @locality the worker's loop. */
static void recommit(bd_worker_t *w)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
	for (int i = 0; i < w->nparts; i++)
		for (int in = 0; in < 2; in++) {
			part_t *p = &w->parts[i];
			if (!p->commit_pending[in])
				continue;
			p->commit_pending[in] = 0;
			if (p->assigned[in] && p->next_off[in] >= 0)
				rd_kafka_topic_partition_list_add(
					l, w->cfg->topic[in == IN_FEATURES ? BD_MSG_FEATURE
									    : BD_MSG_OUTCOME],
					i)->offset = p->next_off[in];
		}
	w->recommit = 0;
	if (l->cnt && !w->stopping_consumer)
		rd_kafka_commit(w->consumer, l, 1);
	rd_kafka_topic_partition_list_destroy(l);
}

/* ---- the changelog (produced after the write; daemon_restore.c reads it) -- */

/* Produces part @p r of a batch's record (its ops already cut), its
 * delivery report tagged with the batch's gate.  @returns 1 when produced. */
static int clog_produce_part(bd_worker_t *w, const bd_changelog_t *r)
{
	uint8_t key[2];
	rd_kafka_resp_err_t err;
	w->clog_buf.len = 0;
	if (bd_encode_changelog(w->codec, r, &w->clog_buf)) {
		bd_warn("worker %d: changelog record of partition %d does not encode", w->id,
			r->partition);
		COUNT(w, c_clog_failures);
		return 0;
	}
	bd_be16(key, (uint16_t)r->partition);
	err = rd_kafka_producev(w->producer, RD_KAFKA_V_TOPIC(w->cfg->topic[BD_MSG_CHANGELOG]),
				RD_KAFKA_V_PARTITION(r->partition), RD_KAFKA_V_KEY(key, sizeof(key)),
				RD_KAFKA_V_VALUE(w->clog_buf.data, w->clog_buf.len),
				RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				RD_KAFKA_V_OPAQUE((void *)(uintptr_t)w->clog_gate), RD_KAFKA_V_END);
	if (err) {
		bd_warn("worker %d: changelog record of partition %d (%zu bytes) not produced: %s",
			w->id, r->partition, w->clog_buf.len, rd_kafka_err2str(err));
		COUNT(w, c_clog_failures);
		return 0;
	}
	COUNT(w, c_clog_records);
	atomic_fetch_add_explicit(&w->c_clog_bytes, w->clog_buf.len, memory_order_relaxed);
	w->clog_bytes_window += w->clog_buf.len;
	w->clog_records_window++;
	if (w->clog_buf.len > w->clog_max_record)
		w->clog_max_record = w->clog_buf.len;
	return 1;
}

/* Produces partition @p r's record, in as many parts as changelog.max.bytes
 * asks; the input offsets go in part 0.  @returns the parts produced. */
static size_t clog_produce(bd_worker_t *w, bd_changelog_t *r)
{
	const bd_clog_op_t *ops = r->ops;
	const bd_clog_offset_t *offs = r->offsets;
	size_t n = r->n_ops, n_offs = r->n_offsets, head = bd_changelog_head_bytes(r), from = 0;
	size_t max = (size_t)w->cfg->changelog_max_bytes;
	int parts = 0;
	size_t produced = 0;
	do {
		from = bd_changelog_part_end(ops, n, from, head, max);
		parts++;
	} while (from < n);
	r->parts = parts;
	from = 0;
	for (r->part = 0; r->part < parts; r->part++) {
		size_t end = bd_changelog_part_end(ops, n, from, head, max);
		r->ops = ops + from;
		r->n_ops = end - from;
		r->offsets = r->part == 0 ? offs : NULL;
		r->n_offsets = r->part == 0 ? n_offs : 0;
		produced += (size_t)clog_produce_part(w, r);
		from = end;
	}
	return produced;
}

/* Opens every gate at the head whose records are all done: their
 * batches' outputs go out, in order. */
static void gates_advance(bd_worker_t *w)
{
	uint64_t open = 0;
	while (w->gates_n && w->gates[w->gates_head].left == 0) {
		open = w->gates[w->gates_head].gate;
		w->gates_head++;
		w->gates_n--;
	}
	if (!w->gates_n)
		w->gates_head = 0;
	if (open)
		bd_outbox_release(w->outbox, open);
}

/* Waits for @p left records of the current gate.  @returns 0, or -ENOMEM
 * (the caller then opens the gate at once). */
static int gates_push(bd_worker_t *w, size_t left)
{
	if (w->gates_head + w->gates_n == w->gates_cap) {
		if (w->gates_head) { /* the front is free: move down */
			memmove(w->gates, w->gates + w->gates_head, w->gates_n * sizeof(*w->gates));
			w->gates_head = 0;
		} else {
			size_t cap = w->gates_cap ? w->gates_cap * 2 : 64;
			clog_gate_t *g = realloc(w->gates, cap * sizeof(*g));
			if (!g)
				return -ENOMEM;
			w->gates = g;
			w->gates_cap = cap;
		}
	}
	w->gates[w->gates_head + w->gates_n++] = (clog_gate_t){w->clog_gate, left};
	return 0;
}

void bd_worker_batch_clog_done(bd_worker_t *w, uint64_t gate, rd_kafka_resp_err_t err)
{
	if (err) /* logged and counted by the caller: the outputs go out still */
		bd_debug("worker %d: gate %llu: a changelog record lost", w->id,
			 (unsigned long long)gate);
	for (size_t i = 0; i < w->gates_n; i++) {
		clog_gate_t *g = &w->gates[w->gates_head + i];
		if (g->gate == gate) {
			if (g->left)
				g->left--;
			break;
		}
	}
	gates_advance(w);
}

/* After the batch is written: one record per partition it touched; a log
 * line of the sizes every 1000 batches (the design's sizing, section 1.3). */
static void clog_flush(bd_worker_t *w)
{
	bd_changelog_t r;
	int cursor = 0;
	int64_t now = bd_worker_now_ms();
	size_t produced = 0;
	int more;
	w->clog_gate++;
	while ((more = bd_clog_rec_next(w->clog, &cursor, &r))) {
		if (more < 0) {
			bd_warn("worker %d: changelog record of partition %d lost: out of memory",
				w->id, cursor - 1);
			COUNT(w, c_clog_failures);
			continue;
		}
		r.instance = w->clog_instance;
		r.epoch = w->env.clog_epoch;
		r.batch_seq = w->clog_seq; /* the stamp's */
		r.ts_ms = now;
		produced += clog_produce(w, &r);
	}
	bd_clog_rec_clear(w->clog);
	/* the batch's outputs wait for its records (and every earlier batch's) */
	bd_outbox_hold(w->outbox, w->clog_gate);
	if (gates_push(w, produced) != 0)
		bd_outbox_release(w->outbox, w->clog_gate); /* no memory: not held */
	else
		gates_advance(w);
	uint64_t batches = atomic_load_explicit(&w->c_batches, memory_order_relaxed) + 1;
	if (batches % 1000 == 0 && w->clog_records_window) {
		bd_info("worker %d: changelog: %llu records, %llu bytes in the last 1000 batches "
			"(%.0f bytes per record, largest %zu)",
			w->id, (unsigned long long)w->clog_records_window,
			(unsigned long long)w->clog_bytes_window,
			(double)w->clog_bytes_window / (double)w->clog_records_window,
			w->clog_max_record);
		w->clog_bytes_window = w->clog_records_window = 0;
		w->clog_max_record = 0;
	}
}

/* Drops partition @p i's samples beyond samples.max, the oldest first, in
 * steps of a 64th of it, each step's range starting where the last ended.
 * A range from 0 at every batch (as before) nested every tombstone in the
 * next: RocksDB's flush splits overlapping ranges into fragments that each
 * list every tombstone covering them, quadratic in their number, and a
 * samples memtable holding one per batch took 3.4 GB and the flush thread
 * to flush (bench/soak, samples.max 50 000). */
static void sample_trim(bd_worker_t *w, uint16_t i, part_t *p)
{
	const uint64_t max = (uint64_t)w->cfg->samples_max;
	uint64_t keep_from = p->sample_seq > max ? p->sample_seq - max : 0;
	uint8_t from[10], to[10];
	if (keep_from < p->sample_trimmed + max / 64 + 1)
		return;
	bd_store_batch_delete_range(w->batch, BD_CF_SAMPLES, from,
				    bd_sample_key(from, i, p->sample_trimmed), to,
				    bd_sample_key(to, i, keep_from));
	p->sample_trimmed = keep_from;
}

/* Nothing of the staged batch happened: it is dropped, the worker stops. */
static int batch_fail(bd_worker_t *w, rd_kafka_topic_partition_list_t *commit, int err)
{
	bd_outbox_discard(w->outbox);
	bd_store_batch_clear(w->batch);
	if (w->clog)
		bd_clog_rec_clear(w->clog);
	rd_kafka_topic_partition_list_destroy(commit);
	w->failed = 1;
	w->dec_n = 0;
	return err;
}

/* Writes everything staged: state, outputs and offsets in one batch. */
int bd_worker_batch_flush(bd_worker_t *w)
{
	rd_kafka_topic_partition_list_t *commit;
	char errstr[512];
	int err;

	if (w->failed)
		return BD_ESTORE;
	if (!w->dirty && bd_outbox_acked(w->outbox) == 0) {
		if (w->recommit)
			recommit(w);
		return 0;
	}
	bd_stats_delta_flush(w->delta, w->batch);
	bd_clock_marks_stage(&w->clock_marks, w->batch);
	commit = rd_kafka_topic_partition_list_new(8);
	for (int i = 0; i < w->nparts; i++) {
		part_t *p = &w->parts[i];
		for (int in = 0; in < 2; in++)
			if (p->off_dirty[in]) {
				const char *topic =
					w->cfg->topic[in == IN_FEATURES ? BD_MSG_FEATURE
									: BD_MSG_OUTCOME];
				bd_store_batch_offset(w->batch, topic, i, p->next_off[in]);
				rd_kafka_topic_partition_list_add(commit, topic, i)->offset =
					p->next_off[in];
				p->off_dirty[in] = 0;
				p->commit_pending[in] = 0;
			}
		if (p->sample_dirty) {
			uint8_t mk[6] = {'s', 's', 'e', 'q'}, v[8];
			bd_be16(mk + 4, (uint16_t)i);
			bd_be64(v, p->sample_seq);
			bd_store_batch_put(w->batch, BD_CF_META, mk, sizeof(mk), v, 8);
			sample_trim(w, (uint16_t)i, p);
			p->sample_dirty = 0;
		}
	}
	bd_outbox_prepare(w->outbox, w->batch);
	if (w->clog) {
		/* last: what the batch holds of each partition, for a restore */
		w->clog_seq = atomic_fetch_add(w->env.clog_seq, 1);
		bd_clog_rec_stamp(w->clog, w->batch, w->env.clog_epoch, w->clog_seq);
	}
	const char *unrecorded = w->clog ? bd_clog_rec_failed(w->clog) : NULL;
	if (unrecorded) {
		/* fail closed: state the changelog cannot carry is not written */
		bd_error("worker %d: changelog: %s; the batch is not written; stopping", w->id,
			 unrecorded);
		return batch_fail(w, commit, BD_EINVAL);
	}
	err = bd_store_batch_write(w->env.store, w->batch, errstr, sizeof(errstr));
	if (err) {
		/* Nothing of this batch happened; the offsets did not move, so
		 * stopping here loses nothing: the input is read again. */
		bd_error("worker %d: %s; stopping", w->id, errstr);
		return batch_fail(w, commit, err);
	}
	if (w->clog)
		clog_flush(w); /* after the write; the outputs wait for its records */
	else
		bd_outbox_produce(w->outbox);
	carry_tell(w);
	int64_t t = bd_worker_now_ms();
	for (size_t i = 0; i < w->dec_n; i++)
		bd_histo_observe(&w->lat, (double)(t - w->dec_ts[i]) / 1000);
	w->dec_n = 0;
	/* The stored offsets are the truth; committing them to Kafka as well
	 * (async, best effort) makes consumer lag visible to the usual tools. */
	if (commit->cnt && !w->stopping_consumer)
		rd_kafka_commit(w->consumer, commit, 1);
	rd_kafka_topic_partition_list_destroy(commit);
	bd_worker_batch_pend_clear(w);
	w->dirty = 0;
	COUNT(w, c_batches);
	return 0;
}
