/*
 * The worker: consume -> decode -> decide or join -> stage state, outputs
 * and offsets in one batch -> write -> produce.
 *
 * Exactly-once state: the batch written at the end of each poll cycle holds
 * the state changes of every message consumed in that cycle together with
 * the next offsets of their partitions; on (re)assignment the consumer is
 * positioned at the stored offsets (stored offset = last processed + 1).
 * Outputs go through the outbox (outbox.h), so an output is never lost
 * between the write and its delivery.
 */
#include "budgetd/serve/worker.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "budgetd/policy/bounds.h"
#include "budgetd/policy/carry.h"
#include "budgetd/policy/clock.h"
#include "budgetd/policy/decide.h"
#include "budgetd/base/hash.h"
#include "budgetd/base/histo.h"
#include "budgetd/serve/kafka.h"
#include "budgetd/base/log.h"
#include "budgetd/wire/messages.h"
#include "budgetd/state/outbox.h"
#include "budgetd/state/samples.h"
#include "budgetd/state/stats.h"
#include "budgetd/base/utf8.h"

#define REC_MAX (64 + 4 * 1100 + 512 * 4)

enum { IN_FEATURES = 0, IN_OUTCOMES = 1 };

typedef struct part_s {
	int assigned[2];     /* per input topic */
	int64_t next_off[2]; /* next offset to read, -1 = untouched */
	int off_dirty[2];
	int commit_pending[2]; /* Kafka's committed offset may lag ours */
	uint64_t sample_seq;
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
	 * lost log: offset_lost); the input is read again from the start of
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

struct bd_worker_s {
	int id;
	bd_worker_env_t env;
	const bd_config_t *cfg;
	uv_loop_t loop;
	uv_thread_t thread;
	uv_async_t mailbox;
	uv_timer_t timer, again;
	bd_kafka_waker_t cons_waker, prod_waker;
	rd_kafka_t *consumer, *producer;
	rd_kafka_queue_t *cons_q, *prod_q;
	bd_codec_t *codec;
	bd_store_batch_t *batch;
	bd_stats_delta_t *delta;
	bd_outbox_t *outbox;
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
	int paused;		  /* the assignment is paused (inputs_guard) */
	uint64_t stall_until_ns;  /* stall guard: paused until then */
	uint64_t stall_limit_ns, stall_confirm_ns;

	_Atomic uint64_t c_features, c_outcomes, c_historical, c_decisions,
		c_republished, c_dead, c_batches, c_dups, c_winsorized;
	_Atomic uint64_t c_dead_by[BD_DEAD__COUNT]; /* c_dead by reason */
	_Atomic uint64_t c_resets[2], c_skipped[2]; /* offset_lost, by input */

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

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- partitions ------------------------------------------------------------ */

static part_t *part_get(bd_worker_t *w, int32_t p)
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

static int input_of(const bd_worker_t *w, const char *topic)
{
	if (strcmp(topic, w->cfg->topic[BD_MSG_FEATURE]) == 0)
		return IN_FEATURES;
	if (strcmp(topic, w->cfg->topic[BD_MSG_OUTCOME]) == 0)
		return IN_OUTCOMES;
	return -1;
}

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

static void pend_clear(bd_worker_t *w)
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
static int decision_lookup(bd_worker_t *w, uint16_t part, uint64_t h,
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

static int decision_store(bd_worker_t *w, uint16_t part, uint64_t h,
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

/* ---- outputs ---------------------------------------------------------------- */

static void dead_letter(bd_worker_t *w, const rd_kafka_message_t *m,
			bd_dead_reason_t why, const char *detail)
{
	const char *reason = bd_dead_reason_name(why);
	bd_dead_letter_t dl = {
		.topic = rd_kafka_topic_name(m->rkt),
		.partition = m->partition,
		.offset = m->offset,
		.ts_ms = now_ms(),
		.reason = reason,
		.detail = detail,
		.key = m->key,
		.key_len = bd_dead_keep(why, m->key_len),
		.payload = m->payload,
		.payload_len = bd_dead_keep(why, m->len),
	};
	int err = bd_encode_dead_letter(w->codec, &dl, &w->out);
	if (!err)
		err = bd_outbox_add(w->outbox, w->batch, (uint16_t)m->partition,
				    BD_MSG_DEADLETTER, m->key, dl.key_len,
				    w->out.data, w->out.len);
	if (err)
		bd_error("cannot dead-letter %s/%d@%lld (%s): %s", dl.topic,
			 m->partition, (long long)m->offset, reason,
			 bd_strerror(err));
	bd_debug("dead letter %s/%d@%lld: %s: %s", dl.topic, m->partition,
		 (long long)m->offset, reason, detail);
	COUNT(w, c_dead);
	atomic_fetch_add_explicit(&w->c_dead_by[why], 1, memory_order_relaxed);
	w->dirty = 1;
}

/* Input larger than input.max.bytes is refused before it is decoded: Avro C
 * would allocate whatever the body claims (a million features, megabytes
 * of string) before any of our limits could look at it.  A key longer than
 * that too: it would go into the dead letter twice.
 * @returns true if @p m was dead-lettered. */
static bool oversized(bd_worker_t *w, const rd_kafka_message_t *m)
{
	char errstr[160];
	if (!bd_dead_oversized(m->key_len, m->len, w->cfg->input_max_bytes, errstr,
			       sizeof(errstr)))
		return false;
	dead_letter(w, m, BD_DEAD_OVERSIZED, errstr);
	return true;
}

static int publish_decision(bd_worker_t *w, uint16_t part, const bd_decision_t *d)
{
	int err = bd_encode_decision(w->codec, d, &w->out);
	if (err)
		return err;
	return bd_outbox_add(w->outbox, w->batch, part, BD_MSG_DECISION,
			     d->user_id, strlen(d->user_id), w->out.data,
			     w->out.len);
}

static int stats_add(bd_worker_t *w, const uint8_t *key, size_t klen,
		     const double *x, int n)
{
	return bd_stats_delta_add(w->delta, key, klen, x, n);
}

/* ---- carrying statistics to a new model version (carry.h) ---------------- */

static int flush(bd_worker_t *w);

/* The cells of the version being carried to get @p x too, when the decision
 * was made by an older version (@p model_version): step 3 of carry.h. */
static int carry_add(bd_worker_t *w, uint16_t part, const char *campaign,
		     int64_t model_version, int32_t treatment, int64_t hour,
		     const float *features, const double *x)
{
	const bd_cluster_model_t *cm = w->snap->carry;
	uint8_t key[BD_STATS_KEY_MAX];
	if (!cm || cm->version <= model_version || !features)
		return 0;
	size_t klen = bd_stats_cell_key(key, part, campaign, cm->version,
					bd_cluster_assign(cm, features), treatment, hour);
	return stats_add(w, key, klen, x, BD_STAT__COUNT);
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
static int carry_part(bd_worker_t *w, int32_t i)
{
	const bd_cluster_model_t *cm = w->snap->carry;
	part_t *p = part_get(w, i);
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
	if ((err = flush(w)))
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
static int carry_all(bd_worker_t *w)
{
	int err;
	if (!w->snap->carry)
		return 0;
	for (int i = 0; i < w->nparts; i++)
		if ((w->parts[i].assigned[IN_FEATURES] || w->parts[i].assigned[IN_OUTCOMES]) &&
		    (err = carry_part(w, i)))
			return err;
	return flush(w);
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

/* ---- feature events ------------------------------------------------------- */

static int grow_ts(bd_worker_t *w)
{
	size_t cap = w->dec_cap ? w->dec_cap * 2 : 256;
	int64_t *v = realloc(w->dec_ts, cap * sizeof(*v));
	if (!v)
		return -1; /* the latency of this one goes unmeasured */
	w->dec_ts = v;
	w->dec_cap = cap;
	return 0;
}

/* A decision the budget guard turned to control (counted by the guard, per
 * campaign): the plan's first is logged. It does not degrade health: the
 * guard is the money safety working, a burst is ordinary traffic, and a
 * /healthz that flapped with it would get a healthy daemon restarted
 * (docs/solving.md). */
static void budget_guarded(bd_worker_t *w, const bd_campaign_t *c, const bd_plan_t *plan,
			   int first)
{
	if (first != 2)
		return;
	bd_warn("campaign %s: budget guard: plan %lld committed its remaining budget %.2f "
		"(x %.2f with guard.tolerance); control until the next plan",
		c->id, (long long)plan->version, plan->remaining_budget,
		plan->guard_limit / fmax(plan->remaining_budget, 1e-300));
}

static void on_feature(bd_worker_t *w, const rd_kafka_message_t *m)
{
	bd_feature_event_t ev;
	bd_decision_t d;
	bd_decision_rec_t rec;
	const bd_campaign_t *c;
	const bd_plan_t *plan;
	char errstr[512], id[17], q[BD_UTF8_QUOTE_ID];
	uint16_t part = (uint16_t)m->partition;
	uint8_t key[BD_STATS_KEY_MAX];
	uint64_t h;
	int err;

	COUNT(w, c_features);
	if (oversized(w, m))
		return;
	err = bd_decode_feature(w->codec, m->payload, m->len, &ev, errstr,
				sizeof(errstr));
	if (err) {
		dead_letter(w, m, bd_decode_dead_reason(err), errstr);
		return;
	}
	if (!(c = bd_snapshot_find(w->snap, ev.campaign_id, &plan))) {
		snprintf(errstr, sizeof(errstr), "campaign '%s' is not known",
			 bd_utf8_quote(q, sizeof(q), ev.campaign_id));
		dead_letter(w, m, BD_DEAD_UNKNOWN_CAMPAIGN, errstr);
		return;
	}
	/* The campaign's clock decides its day (clock.h): an event beyond
	 * the rule would end today's budget early.  Refused, it moves
	 * nothing and gets no decision. */
	bd_clock_t *clk = bd_snapshot_clock(w->snap, c);
	int64_t clk_ms = clk ? bd_clock_read(clk) : 0, wall = now_ms();
	if (bd_clock_check_feature(&w->clock_rule, clk_ms, c->created_ms, wall, ev.ts_ms,
				   errstr, sizeof(errstr)) > 0) {
		dead_letter(w, m, BD_DEAD_FUTURE, errstr);
		return;
	}
	if (bd_clock_check_stale(&w->clock_rule, c,
				 bd_clock_now(&w->clock_rule, clk_ms, c->created_ms, wall), wall,
				 ev.ts_ms, errstr, sizeof(errstr))) {
		dead_letter(w, m, BD_DEAD_STALE, errstr);
		return;
	}
	if (ev.dim != w->cfg->features_dim) {
		snprintf(errstr, sizeof(errstr),
			 "features has %d values, features.dim is %d", ev.dim,
			 w->cfg->features_dim);
		dead_letter(w, m, BD_DEAD_INVALID, errstr);
		return;
	}
	h = bd_decision_hash(ev.campaign_id, ev.user_id, ev.request_id);
	bd_decision_id_format(h, id);
	err = decision_lookup(w, part, h, &rec);
	if (err < 0)
		goto store_error;
	if (err == 0) {
		/* Seen before: answer with the stored decision, count nothing. */
		if (strcmp(rec.request_id, ev.request_id) != 0 ||
		    strcmp(rec.user_id, ev.user_id) != 0 ||
		    strcmp(rec.campaign_id, ev.campaign_id) != 0) {
			char q2[BD_UTF8_QUOTE_ID];
			snprintf(errstr, sizeof(errstr),
				 "decision id %s collides with request '%s' of user '%s'", id,
				 bd_utf8_quote(q, sizeof(q), rec.request_id),
				 bd_utf8_quote(q2, sizeof(q2), rec.user_id));
			dead_letter(w, m, BD_DEAD_CONFLICT, errstr);
			return;
		}
		d = (bd_decision_t){
			.decision_id = id, .request_id = rec.request_id,
			.campaign_id = rec.campaign_id, .user_id = rec.user_id,
			.ts_ms = rec.ts_ms, .treatment = rec.treatment,
			.cluster = rec.cluster, .propensity = rec.propensity,
			.explored = rec.explored, .plan_version = rec.plan_version,
			.model_version = rec.model_version, .reason = rec.reason,
		};
		COUNT(w, c_dups);
		COUNT(w, c_republished);
		if ((err = publish_decision(w, part, &d)))
			goto store_error;
		w->dirty = 1;
		return;
	}
	bd_decide(c, plan, w->snap->model, &ev, h, &d);
	if ((err = bd_decide_guard(plan, &d)))
		budget_guarded(w, c, plan, err);
	d.decision_id = id;
	d.request_id = ev.request_id;
	d.campaign_id = ev.campaign_id;
	d.user_id = ev.user_id;
	rec = (bd_decision_rec_t){
		.explored = d.explored, .treatment = d.treatment,
		.cluster = d.cluster, .propensity = d.propensity,
		.ts_ms = d.ts_ms, .plan_version = d.plan_version,
		.model_version = d.model_version, .campaign_id = ev.campaign_id,
		.request_id = ev.request_id, .user_id = ev.user_id,
		.reason = d.reason, .dim = ev.dim, .features = ev.features,
	};
	if ((err = decision_store(w, part, h, &rec)))
		goto store_error;
	double one[1] = {1}, x[BD_STAT__COUNT];
	bd_stats_exposure_vector(x, d.propensity);
	size_t klen = bd_stats_cell_key(key, part, ev.campaign_id, d.model_version,
					d.cluster, d.treatment, bd_stats_hour(d.ts_ms));
	if ((err = stats_add(w, key, klen, x, BD_STAT__COUNT)) ||
	    (err = carry_add(w, part, ev.campaign_id, d.model_version, d.treatment,
			     bd_stats_hour(d.ts_ms), ev.features, x)))
		goto store_error;
	/* waiting for its outcome: a new version's carry-over counts it */
	uint8_t pk[BD_CARRY_PENDING_KEY];
	bd_store_batch_put(w->batch, BD_CF_PENDING, pk,
			   bd_carry_pending_key(pk, part, d.ts_ms, h), "", 0);
	klen = bd_stats_day_key(key, part, ev.campaign_id,
				bd_campaign_day(c, ev.ts_ms, NULL));
	if ((err = stats_add(w, key, klen, one, 1)))
		goto store_error;
	if ((err = publish_decision(w, part, &d)))
		goto store_error;
	/* this campaign's clock, written with the batch */
	if (clk) {
		bd_clock_advance(clk, ev.ts_ms);
		if ((err = bd_clock_mark(&w->clock_marks, part, clk)))
			goto store_error;
	}
	COUNT(w, c_decisions);
	int64_t mts = rd_kafka_message_timestamp(m, NULL);
	if (mts > 0 && (w->dec_n < w->dec_cap || grow_ts(w) == 0))
		w->dec_ts[w->dec_n++] = mts;
	w->dirty = 1;
	return;
store_error:
	bd_error("feature %d@%lld: %s", m->partition, (long long)m->offset,
		 bd_strerror(err));
	w->failed = 1;
}

/* ---- outcome events ------------------------------------------------------- */

static int append_sample(bd_worker_t *w, uint16_t part, const bd_sample_t *s)
{
	part_t *p = part_get(w, part);
	uint8_t key[10], buf[REC_MAX];
	int len;

	if (!p)
		return -ENOMEM;
	if (w->cfg->samples_max == 0)
		return 0;
	if (!p->sample_loaded) {
		char *v = NULL;
		size_t vlen = 0;
		uint8_t mk[6] = {'s', 's', 'e', 'q'};
		bd_be16(mk + 4, part);
		p->sample_seq = 0;
		if (bd_store_get(w->env.store, BD_CF_META, mk, sizeof(mk), &v,
				 &vlen) == 0) {
			if (vlen == 8)
				p->sample_seq = bd_rd_be64((uint8_t *)v);
			free(v);
		}
		p->sample_loaded = 1;
	}
	len = bd_sample_pack(s, buf, sizeof(buf));
	if (len < 0)
		return len;
	bd_store_batch_put(w->batch, BD_CF_SAMPLES, key,
			   bd_sample_key(key, part, p->sample_seq++), buf,
			   (size_t)len);
	p->sample_dirty = 1;
	return 0;
}

/* @p cell_value: the outcome's value as the cell statistics count it
 * (winsorised); the day vector counts what was reported.  @p features: the
 * decision's, for the version being carried to. */
static int outcome_stats(bd_worker_t *w, uint16_t part, const char *campaign,
			 int64_t model_version, int32_t cluster, int32_t treatment,
			 bool explored, double propensity,
			 const bd_outcome_event_t *ev, double cell_value, int64_t day,
			 int64_t hour, const float *features)
{
	uint8_t key[BD_STATS_KEY_MAX];
	double v = ev->value, c = ev->cost, o = (double)ev->orders;
	double x[BD_STAT__COUNT];
	bd_stats_outcome_vector(x, cell_value, c, o, propensity, explored);
	if (hour == 0) {
		/* a historical sample is its own exposure */
		x[BD_STAT_DECISIONS] = 1;
		x[BD_STAT_DW] = 1.0 / propensity;
	}
	double y[BD_DAY__COUNT] = {
		[BD_DAY_OUTCOMES] = 1, [BD_DAY_COST] = c, [BD_DAY_VALUE] = v,
		[BD_DAY_ORDERS] = o,
	};
	int err;
	size_t klen = bd_stats_cell_key(key, part, campaign, model_version,
					cluster, treatment, hour);
	if ((err = stats_add(w, key, klen, x, BD_STAT__COUNT)) ||
	    (err = carry_add(w, part, campaign, model_version, treatment, hour, features, x)))
		return err;
	if (day == INT64_MIN)
		return 0; /* historical samples do not spend today's budget */
	klen = bd_stats_day_key(key, part, campaign, day);
	return stats_add(w, key, klen, y, BD_DAY__COUNT);
}

/* Refuses an outcome outside its campaign's bounds (bounds.h) as
 * implausible.  A refused cost is money left out of spend, so it also
 * degrades health for a while.  @p propensity: a historical sample's, NAN
 * for a live outcome.  @returns true if dead-lettered. */
static bool implausible(bd_worker_t *w, const rd_kafka_message_t *m, const bd_bounds_t *b,
			const bd_outcome_event_t *ev, double propensity)
{
	char errstr[512];
	bd_bounds_fail_t f = bd_bounds_check(b, ev->campaign_id, ev->orders, ev->value,
					     ev->cost, propensity, errstr, sizeof(errstr));
	if (f == BD_BOUNDS_OK)
		return false;
	if (f == BD_BOUNDS_COST)
		bd_health_note(w->env.health, BD_HEALTH_SPEND,
			       "campaign %s: an outcome's cost %g above its bound %g was "
			       "refused as implausible: not counted in spend",
			       ev->campaign_id, ev->cost, b->max_cost);
	dead_letter(w, m, BD_DEAD_IMPLAUSIBLE, errstr);
	return true;
}

/* The value an outcome counts as in the cell statistics and the sample log
 * (bounds.h: winsorised at the campaign's soft cap). */
static double winsorised(bd_worker_t *w, const bd_bounds_t *b, double value)
{
	double v = bd_bounds_winsor(b, value);
	if (v < value)
		COUNT(w, c_winsorized);
	return v;
}

static void on_historical(bd_worker_t *w, const rd_kafka_message_t *m,
			  const bd_outcome_event_t *ev)
{
	const bd_campaign_t *c = bd_snapshot_find(w->snap, ev->campaign_id, NULL);
	uint16_t part = (uint16_t)m->partition;
	char errstr[256];
	int err;

	if (!c) {
		char q[BD_UTF8_QUOTE_ID];
		snprintf(errstr, sizeof(errstr), "campaign '%s' is not known",
			 bd_utf8_quote(q, sizeof(q), ev->campaign_id));
		dead_letter(w, m, BD_DEAD_UNKNOWN_CAMPAIGN, errstr);
		return;
	}
	if (ev->dim != w->cfg->features_dim || ev->treatment >= c->n_treatments) {
		snprintf(errstr, sizeof(errstr),
			 "historical sample: %d features (want %d), treatment %d "
			 "(campaign has %d)",
			 ev->dim, w->cfg->features_dim, ev->treatment,
			 c->n_treatments);
		dead_letter(w, m, BD_DEAD_INVALID, errstr);
		return;
	}
	bd_bounds_t bounds;
	bd_bounds_of(c, w->cfg, &bounds);
	if (implausible(w, m, &bounds, ev, ev->propensity))
		return;
	/* A logged propensity of exactly 1/J is taken as randomised (RCT). */
	bool rct = fabs(ev->propensity - 1.0 / c->n_treatments) < 1e-9;
	int32_t cluster = bd_cluster_assign(w->snap->model, ev->features);
	bd_sample_t s = {
		.ts_ms = ev->ts_ms, .model_version = w->snap->model->version,
		.treatment = ev->treatment, .cluster = cluster,
		.orders = ev->orders, .explored = rct, .historical = true,
		.propensity = ev->propensity, .value = winsorised(w, &bounds, ev->value),
		.cost = ev->cost, .campaign_id = ev->campaign_id,
		.dim = ev->dim, .features = ev->features,
	};
	if ((err = outcome_stats(w, part, ev->campaign_id, s.model_version, cluster,
				 ev->treatment, rct, ev->propensity, ev, s.value,
				 INT64_MIN, 0, ev->features)) ||
	    (err = append_sample(w, part, &s))) {
		bd_error("historical %d@%lld: %s", m->partition,
			 (long long)m->offset, bd_strerror(err));
		w->failed = 1;
		return;
	}
	COUNT(w, c_historical);
	w->dirty = 1;
}

/* Should this outcome with an unknown decision wait for the features?  Yes
 * while the features partition of the same number (same key, same
 * partition) is this worker's and is behind its high watermark: the
 * decision may be among the features not read yet.  Pauses the outcomes
 * partition; release_holds lets it go on once the features caught up.
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

static int hold_outcome(bd_worker_t *w, const rd_kafka_message_t *m)
{
	part_t *p = part_get(w, m->partition);
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
	p->hold_since_ms = now_ms();
	p->hold_released = 0;
	bd_debug("worker %d: outcome %d@%lld waits for features %lld..%lld", w->id,
		 m->partition, (long long)m->offset,
		 (long long)p->next_off[IN_FEATURES], (long long)hi);
	return 1;
}

/* Resumes the outcomes partitions whose features caught up (hold_outcome),
 * from the held outcome on. */
static void release_holds(bd_worker_t *w)
{
	for (int i = 0; i < w->nparts; i++) {
		part_t *p = &w->parts[i];
		if (p->hold_off < 0 || p->hold_released)
			continue;
		if (p->hold_hi < 0)
			p->hold_hi = features_hi(w, i);
		if (p->assigned[IN_FEATURES] &&
		    (p->hold_hi < 0 || p->next_off[IN_FEATURES] < p->hold_hi) &&
		    now_ms() - p->hold_since_ms < HOLD_MAX_MS)
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

static void on_outcome(bd_worker_t *w, const rd_kafka_message_t *m, int *held)
{
	bd_outcome_event_t ev;
	bd_decision_rec_t rec;
	char errstr[512], q[BD_UTF8_QUOTE_ID], q2[BD_UTF8_QUOTE_ID];
	uint16_t part = (uint16_t)m->partition;
	uint64_t h;
	int err;

	COUNT(w, c_outcomes);
	if (oversized(w, m))
		return;
	err = bd_decode_outcome(w->codec, m->payload, m->len, &ev, errstr,
				sizeof(errstr));
	if (err) {
		dead_letter(w, m, bd_decode_dead_reason(err), errstr);
		return;
	}
	if (bd_clock_check_outcome(&w->clock_rule, now_ms(), ev.ts_ms, errstr,
				   sizeof(errstr)) > 0) {
		dead_letter(w, m, BD_DEAD_FUTURE, errstr);
		return;
	}
	if (ev.decision_id[0] == '\0') {
		on_historical(w, m, &ev);
		return;
	}
	if (bd_decision_id_parse(ev.decision_id, &h) != 0) {
		snprintf(errstr, sizeof(errstr),
			 "decision_id '%s' is not 16 lowercase hex digits",
			 bd_utf8_quote(q, sizeof(q), ev.decision_id));
		dead_letter(w, m, BD_DEAD_INVALID, errstr);
		return;
	}
	err = decision_lookup(w, part, h, &rec);
	if (err < 0) {
		bd_error("outcome %d@%lld: %s", m->partition, (long long)m->offset,
			 bd_strerror(err));
		w->failed = 1;
		return;
	}
	if (err == 1 && hold_outcome(w, m)) {
		atomic_fetch_sub_explicit(&w->c_outcomes, 1, memory_order_relaxed);
		*held = 1;
		return;
	}
	if (err == 1) {
		snprintf(errstr, sizeof(errstr),
			 "no decision %s on partition %d (expired, never made, or "
			 "the outcome was not keyed by user_id)",
			 ev.decision_id, m->partition);
		dead_letter(w, m, BD_DEAD_UNKNOWN_DECISION, errstr);
		return;
	}
	if (rec.joined) {
		snprintf(errstr, sizeof(errstr),
			 "decision %s already has its outcome", ev.decision_id);
		dead_letter(w, m, BD_DEAD_DUPLICATE, errstr);
		return;
	}
	if (strcmp(rec.campaign_id, ev.campaign_id) != 0 ||
	    strcmp(rec.user_id, ev.user_id) != 0) {
		snprintf(errstr, sizeof(errstr),
			 "decision %s belongs to campaign '%s' user '%s'",
			 ev.decision_id, bd_utf8_quote(q, sizeof(q), rec.campaign_id),
			 bd_utf8_quote(q2, sizeof(q2), rec.user_id));
		dead_letter(w, m, BD_DEAD_INVALID, errstr);
		return;
	}
	/* Event times, not the host's clock: a replay after a restart must
	 * decide exactly as the first run did. */
	if (ev.ts_ms < rec.ts_ms - w->cfg->input_max_skew_ms) {
		snprintf(errstr, sizeof(errstr),
			 "outcome ts_ms %lld is %lld ms before its decision's ts_ms "
			 "%lld (input.max.skew.ms is %d)",
			 (long long)ev.ts_ms, (long long)(rec.ts_ms - ev.ts_ms),
			 (long long)rec.ts_ms, w->cfg->input_max_skew_ms);
		dead_letter(w, m, BD_DEAD_INVALID, errstr);
		return;
	}
	if (ev.ts_ms - rec.ts_ms > (int64_t)w->cfg->decision_retention_s * 1000) {
		snprintf(errstr, sizeof(errstr),
			 "outcome comes %lld s after decision %s, "
			 "decision.retention.s is %d",
			 (long long)((ev.ts_ms - rec.ts_ms) / 1000), ev.decision_id,
			 w->cfg->decision_retention_s);
		dead_letter(w, m, BD_DEAD_EXPIRED, errstr);
		return;
	}
	const bd_campaign_t *c = bd_snapshot_find(w->snap, rec.campaign_id, NULL);
	int64_t day = c ? bd_campaign_day(c, rec.ts_ms, NULL) : INT64_MIN;
	bd_bounds_t bounds;
	bd_bounds_of(c, w->cfg, &bounds);
	if (implausible(w, m, &bounds, &ev, NAN))
		return; /* the decision stays open for a corrected outcome */
	bd_sample_t s = {
		.ts_ms = rec.ts_ms, .model_version = rec.model_version,
		.treatment = rec.treatment, .cluster = rec.cluster,
		.orders = ev.orders, .explored = rec.explored,
		.propensity = rec.propensity, .value = winsorised(w, &bounds, ev.value),
		.cost = ev.cost,
		.campaign_id = rec.campaign_id, .dim = rec.dim,
		.features = rec.features,
	};
	rec.joined = true;
	uint8_t pk[BD_CARRY_PENDING_KEY];
	bd_store_batch_delete(w->batch, BD_CF_PENDING, pk,
			      bd_carry_pending_key(pk, part, rec.ts_ms, h));
	if (ev.cost > 0) {
		/* how long cost takes to come in, for the pending estimate */
		double dl[BD_DELAY_BUCKETS] = {0};
		int64_t b = (ev.ts_ms - rec.ts_ms) / (BD_DELAY_BUCKET_S * 1000);
		dl[b < 0 ? 0 : b >= BD_DELAY_BUCKETS ? BD_DELAY_BUCKETS - 1 : b] = ev.cost;
		uint8_t dkey[BD_STATS_KEY_MAX];
		if ((err = stats_add(w, dkey, bd_stats_delay_key(dkey, part, rec.campaign_id), dl,
				     BD_DELAY_BUCKETS))) {
			bd_error("outcome %d@%lld: %s", m->partition, (long long)m->offset,
				 bd_strerror(err));
			w->failed = 1;
			return;
		}
	}
	if ((err = outcome_stats(w, part, rec.campaign_id, rec.model_version,
				 rec.cluster, rec.treatment, rec.explored,
				 rec.propensity, &ev, s.value, day, bd_stats_hour(rec.ts_ms),
				 rec.features)) ||
	    (err = append_sample(w, part, &s)) ||
	    (err = decision_store(w, part, h, &rec))) {
		bd_error("outcome %d@%lld: %s", m->partition, (long long)m->offset,
			 bd_strerror(err));
		w->failed = 1;
		return;
	}
	w->dirty = 1;
}

/* ---- batches --------------------------------------------------------------- */

static void offset_lost(bd_worker_t *w, const rd_kafka_message_t *m);
static void reset_done(bd_worker_t *w, part_t *p, int in, const rd_kafka_message_t *m);

static void handle(bd_worker_t *w, rd_kafka_message_t *m)
{
	int in;
	part_t *p;

	if (m->err) {
		if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
			offset_lost(w, m);
		else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			bd_warn("consumer: %s", rd_kafka_message_errstr(m));
		return;
	}
	in = input_of(w, rd_kafka_topic_name(m->rkt));
	if (in < 0 || !(p = part_get(w, m->partition)))
		return;
	/* paused (inputs_guard): nothing is decided; the resume reads it
	 * again from the stored offset */
	if (w->paused)
		return;
	if (p->reset_from[in] >= 0)
		reset_done(w, p, in, m);
	if (p->next_off[in] >= 0 && m->offset < p->next_off[in])
		return; /* already applied (a fetch from before a seek) */
	if (carry_part(w, m->partition) != 0) {
		w->failed = 1;
		return;
	}
	if (in == IN_OUTCOMES && p->hold_off >= 0) {
		/* held (hold_outcome): only the held one, fetched again after
		 * the release, goes on; later ones fetched before are stale */
		if (!p->hold_released || m->offset != p->hold_off)
			return;
		p->hold_off = -1;
	}
	if (in == IN_FEATURES) {
		on_feature(w, m);
	} else {
		int held = 0;
		on_outcome(w, m, &held);
		if (held)
			return;
	}
	p->next_off[in] = m->offset + 1;
	p->off_dirty[in] = 1;
	w->dirty = 1;
}

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

/* Writes everything staged: state, outputs and offsets in one batch. */
static int flush(bd_worker_t *w)
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
			uint8_t mk[6] = {'s', 's', 'e', 'q'}, v[8], from[10], to[10];
			bd_be16(mk + 4, (uint16_t)i);
			bd_be64(v, p->sample_seq);
			bd_store_batch_put(w->batch, BD_CF_META, mk, sizeof(mk), v, 8);
			if (p->sample_seq > (uint64_t)w->cfg->samples_max)
				bd_store_batch_delete_range(
					w->batch, BD_CF_SAMPLES, from,
					bd_sample_key(from, (uint16_t)i, 0), to,
					bd_sample_key(to, (uint16_t)i,
						      p->sample_seq -
							      (uint64_t)w->cfg->samples_max));
			p->sample_dirty = 0;
		}
	}
	bd_outbox_prepare(w->outbox, w->batch);
	err = bd_store_batch_write(w->env.store, w->batch, errstr, sizeof(errstr));
	if (err) {
		/* Nothing of this batch happened; the offsets did not move, so
		 * stopping here loses nothing: the input is read again. */
		bd_error("worker %d: %s; stopping", w->id, errstr);
		bd_outbox_discard(w->outbox);
		rd_kafka_topic_partition_list_destroy(commit);
		w->failed = 1;
		w->dec_n = 0;
		return err;
	}
	bd_outbox_produce(w->outbox);
	carry_tell(w);
	int64_t t = now_ms();
	for (size_t i = 0; i < w->dec_n; i++)
		bd_histo_observe(&w->lat, (double)(t - w->dec_ts[i]) / 1000);
	w->dec_n = 0;
	/* The stored offsets are the truth; committing them to Kafka as well
	 * (async, best effort) makes consumer lag visible to the usual tools. */
	if (commit->cnt && !w->stopping_consumer)
		rd_kafka_commit(w->consumer, commit, 1);
	rd_kafka_topic_partition_list_destroy(commit);
	pend_clear(w);
	w->dirty = 0;
	COUNT(w, c_batches);
	return 0;
}

/* ---- inputs lost, inputs paused --------------------------------------------- */

static const char *input_topic(const bd_worker_t *w, int in)
{
	return w->cfg->topic[in == IN_FEATURES ? BD_MSG_FEATURE : BD_MSG_OUTCOME];
}

/* Assigns the current assignment again, each partition at its next offset
 * (the start of its log when none is known or its offset was lost), and
 * pauses or resumes it as inputs_guard has it.  Whatever was fetched before
 * is dropped (librdkafka's version barrier) and every hold is let go (a
 * held outcome is read again: next_off never passes it).  A seek cannot do
 * this: with auto.offset.reset=error librdkafka stops the fetcher of a
 * partition whose offset is lost, and only a new assignment starts it.
 * @locality the worker's loop. */
static void restart_inputs(bd_worker_t *w)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	rd_kafka_resp_err_t err;

	if (flush(w) != 0) {
		w->failed = 1;
		return;
	}
	if (rd_kafka_assignment(w->consumer, &l) != RD_KAFKA_RESP_ERR_NO_ERROR || !l)
		return;
	for (int i = 0; i < l->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &l->elems[i];
		int in = input_of(w, tp->topic);
		part_t *p = part_get(w, tp->partition);
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
static void offset_lost(bd_worker_t *w, const rd_kafka_message_t *m)
{
	const char *topic = rd_kafka_topic_name(m->rkt);
	int in = input_of(w, topic);
	part_t *p = part_get(w, m->partition);
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

/* The first message after offset_lost: offsets from the lost one up to it
 * were skipped (or, when it is below, the log went back and they are read
 * again).  @locality the worker's loop. */
static void reset_done(bd_worker_t *w, part_t *p, int in, const rd_kafka_message_t *m)
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
static int inputs_guard(bd_worker_t *w)
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

static void fail_stop(bd_worker_t *w);
static void on_again(uv_timer_t *t);

static void drain(bd_worker_t *w)
{
	int n = 0;
	rd_kafka_message_t *m;

	(void)inputs_guard(w); /* paused: polls serve callbacks, handle reads nothing */
	while (!w->failed && n < w->cfg->batch_max &&
	       (m = rd_kafka_consumer_poll(w->consumer, 0))) {
		handle(w, m);
		rd_kafka_message_destroy(m);
		n++;
	}
	release_holds(w);
	if (flush(w) != 0 || w->failed) {
		fail_stop(w);
		return;
	}
	/* The wake-up fires only when the queue goes from empty to non-empty:
	 * if we stopped early, come back on the next loop iteration. */
	if (n == w->cfg->batch_max && !w->stopping)
		uv_timer_start(&w->again, on_again, 0, 0);
}

static void on_again(uv_timer_t *t)
{
	drain(t->data);
}

static void on_consumer(uv_poll_t *h, int status, int events)
{
	bd_kafka_waker_t *wk = h->data;
	bd_kafka_waker_drain(wk);
	drain(wk->data);
}

static void on_producer(uv_poll_t *h, int status, int events)
{
	bd_kafka_waker_t *wk = h->data;
	bd_kafka_waker_drain(wk);
	rd_kafka_poll(((bd_worker_t *)wk->data)->producer, 0);
}

/* Consumer lag of each partition we own, from librdkafka's cached high
 * watermarks (no request to the broker). */
static void update_lag(bd_worker_t *w)
{
	for (int in = 0; in < 2; in++)
		for (int p = 0; p < w->lag_n; p++) {
			part_t *pt = p < w->nparts ? &w->parts[p] : NULL;
			int64_t lag = -1, lo, hi;
			if (pt && pt->assigned[in] &&
			    rd_kafka_get_watermark_offsets(
				    w->consumer,
				    w->cfg->topic[in == IN_FEATURES ? BD_MSG_FEATURE
								    : BD_MSG_OUTCOME],
				    p, &lo, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0) {
				int64_t next = pt->next_off[in] >= 0 ? pt->next_off[in] : lo;
				lag = hi > next ? hi - next : 0;
			}
			atomic_store_explicit(&w->lag[in * w->lag_n + p], lag,
					      memory_order_relaxed);
		}
}

static void on_timer(uv_timer_t *t)
{
	bd_worker_t *w = t->data;
	update_lag(w);
	if (!w->stopping)
		(void)inputs_guard(w); /* before the beat: a silent loop shows here */
	/* the loop is alive: this tick ran (see bd_worker_heartbeat) */
	atomic_store_explicit(&w->beat_ns, uv_hrtime(), memory_order_relaxed);
	rd_kafka_poll(w->producer, 0);
	/* An idle consumer must still poll within max.poll.interval.ms, or it
	 * leaves the group (and rejoins, every 5 minutes of quiet): its queue
	 * wakes the loop only when messages come. */
	if (!w->stopping_consumer && !w->failed) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 0);
		if (m) {
			handle(w, m);
			rd_kafka_message_destroy(m);
		}
	}
	if (w->fatal || flush(w) != 0) {
		fail_stop(w);
		return;
	}
	bd_outbox_retry(w->outbox); /* failed deliveries, while idle too */
	release_holds(w);
}

/* ---- rebalance -------------------------------------------------------------- */

/* A failed commit is tried again at the next flush tick (see recommit).
 * @locality the worker's loop (served by its consumer poll). */
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
		      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
	bd_worker_t *w = opaque;
	(void)rk;
	for (int i = 0; offsets && i < offsets->cnt; i++) {
		rd_kafka_topic_partition_t *tp = &offsets->elems[i];
		rd_kafka_resp_err_t e = tp->err ? tp->err : err;
		if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET)
			continue;
		int in = input_of(w, tp->topic);
		part_t *p = part_get(w, tp->partition);
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

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	bd_worker_t *w = opaque;

	/* Whatever is staged belongs to the assignment that is ending. */
	if (flush(w) != 0)
		w->failed = 1;
	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		for (int i = 0; i < parts->cnt; i++) {
			rd_kafka_topic_partition_t *tp = &parts->elems[i];
			int in = input_of(w, tp->topic);
			part_t *p = part_get(w, tp->partition);
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
			if (input_of(w, parts->elems[i].topic) == IN_FEATURES &&
			    carry_part(w, parts->elems[i].partition) != 0)
				w->failed = 1;
		/* the group's own word: no stall to confirm any more */
		w->stall_until_ns = 0;
		w->paused = atomic_load_explicit(&w->suspend_req, memory_order_relaxed);
		if (w->paused)
			rd_kafka_pause_partitions(rk, parts);
		else /* an outcomes partition held (hold_outcome) before a revoke */
			rd_kafka_resume_partitions(rk, parts);
		/* an empty assignment (more workers than partitions) counts: the
		 * group has settled for this worker */
		atomic_store_explicit(&w->holding, 1, memory_order_relaxed);
	} else {
		atomic_store_explicit(&w->holding, 0, memory_order_relaxed);
		for (int i = 0; i < parts->cnt; i++) {
			int in = input_of(w, parts->elems[i].topic);
			part_t *p = part_get(w, parts->elems[i].partition);
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

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	bd_worker_t *w = opaque;
	if (m->err)
		bd_health_note(w->env.health, BD_HEALTH_OUTPUT, "delivery to %s failed: %s",
			       rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
	bd_outbox_on_delivery(w->outbox, m);
}

/* Served on every timer tick (the producer's rd_kafka_poll, the consumer's
 * poll).  @locality the worker's loop. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	bd_worker_t *w = opaque;
	(void)len;
	bd_kafka_stats_health(w->env.health, rk, json);
	return 0; /* librdkafka frees json */
}

/* @locality the worker's loop (served by its consumer and producer polls). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	bd_worker_t *w = opaque;
	if (bd_kafka_on_error(w->env.health, rk, err, reason))
		w->fatal = 1;
}

/* ---- mailbox and stop ------------------------------------------------------ */

static void close_all(bd_worker_t *w)
{
	bd_kafka_waker_stop(&w->cons_waker);
	bd_kafka_waker_stop(&w->prod_waker);
	uv_close((uv_handle_t *)&w->timer, NULL);
	uv_close((uv_handle_t *)&w->again, NULL);
	uv_close((uv_handle_t *)&w->mailbox, NULL);
}

static void do_stop(bd_worker_t *w)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	uv_timer_stop(&w->again);
	if (flush(w) != 0)
		w->failed = 1;
	/* close serves the final revoke (rebalance_cb flushes) */
	rd_kafka_consumer_close(w->consumer);
	w->stopping_consumer = 1;
	/* wait for outputs, then record their delivery */
	rd_kafka_flush(w->producer, 10000);
	if (!w->failed && flush(w) != 0)
		w->failed = 1;
	close_all(w);
}

static void fail_stop(bd_worker_t *w)
{
	if (w->stopping)
		return;
	/* Do not close the consumer gracefully: nothing more may be written.
	 * The main thread notices the failed worker and shuts down. */
	w->stopping = 1;
	w->failed = 1;
	close_all(w);
	if (w->env.failed)
		uv_async_send(w->env.failed);
}

static void on_mailbox(uv_async_t *a)
{
	bd_worker_t *w = a->data;
	bd_snapshot_t *snap;
	int stop;

	uv_mutex_lock(&w->mbox_lock);
	snap = w->mbox_snap;
	w->mbox_snap = NULL;
	stop = w->mbox_stop;
	uv_mutex_unlock(&w->mbox_lock);
	if (snap) {
		bd_snapshot_unref(w->snap);
		w->snap = snap;
		if (!w->stopping && carry_all(w) != 0) {
			fail_stop(w);
			return;
		}
	}
	if (!w->stopping && !w->failed)
		(void)inputs_guard(w); /* bd_worker_suspend */
	if (stop)
		do_stop(w);
}

void bd_worker_post_snapshot(bd_worker_t *w, bd_snapshot_t *snap)
{
	bd_snapshot_t *old;
	uv_mutex_lock(&w->mbox_lock);
	old = w->mbox_snap;
	w->mbox_snap = bd_snapshot_ref(snap);
	uv_mutex_unlock(&w->mbox_lock);
	bd_snapshot_unref(old);
	uv_async_send(&w->mailbox);
}

void bd_worker_suspend(bd_worker_t *w, int on)
{
	atomic_store_explicit(&w->suspend_req, on != 0, memory_order_relaxed);
	uv_async_send(&w->mailbox);
}

void bd_worker_stop(bd_worker_t *w)
{
	uv_mutex_lock(&w->mbox_lock);
	w->mbox_stop = 1;
	uv_mutex_unlock(&w->mbox_lock);
	uv_async_send(&w->mailbox);
}

/* ---- life cycle -------------------------------------------------------------- */

static void run(void *arg)
{
	bd_worker_t *w = arg;
	char name[16];
	/* "top -H", gdb and the watchdog test tell the loops apart by it */
	snprintf(name, sizeof(name), "bd-worker-%d", w->id);
	pthread_setname_np(pthread_self(), name);
	uv_run(&w->loop, UV_RUN_DEFAULT);
}

static void worker_free(bd_worker_t *w)
{
	free(w->dec_ts);
	free((void *)w->lag);
	free((void *)w->carried_part);
	if (w->consumer)
		rd_kafka_destroy(w->consumer);
	if (w->cons_q)
		rd_kafka_queue_destroy(w->cons_q);
	if (w->prod_q)
		rd_kafka_queue_destroy(w->prod_q);
	if (w->producer)
		rd_kafka_destroy(w->producer);
	bd_outbox_free(w->outbox);
	bd_codec_free(w->codec);
	bd_store_batch_destroy(w->batch);
	bd_stats_delta_free(w->delta);
	bd_clock_marks_free(&w->clock_marks);
	bd_snapshot_unref(w->snap);
	bd_snapshot_unref(w->mbox_snap);
	bd_buf_free(&w->out);
	pend_clear(w);
	free(w->pend);
	free(w->parts);
	uv_mutex_destroy(&w->mbox_lock);
	free(w);
}

static rd_kafka_t *make_client(bd_worker_t *w, rd_kafka_type_t type,
			       char *errstr, size_t errstr_size)
{
	const bd_config_t *cfg = w->cfg;
	rd_kafka_conf_t *conf = bd_kafka_conf_new(cfg, w->env.bootstrap, errstr,
						  errstr_size);
	char cid[64];
	rd_kafka_t *rk;

	if (!conf)
		return NULL;
	snprintf(cid, sizeof(cid), "budgetd-w%d", w->id);
	if (bd_kafka_conf_set(conf, "client.id", cid, errstr, errstr_size))
		goto fail;
	if (type == RD_KAFKA_CONSUMER) {
		/* Offsets live in RocksDB with the state; Kafka's committed
		 * offsets are not used.  Range assignment keeps partition p of
		 * features and outcomes on the same consumer. */
		if (bd_kafka_conf_set(conf, "group.id", cfg->group_id, errstr, errstr_size) ||
		    bd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
		    bd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) ||
		    /* an offset the broker no longer has is reported to us
		     * (offset_lost), never skipped by librdkafka alone */
		    bd_kafka_conf_set(conf, "auto.offset.reset", "error", errstr, errstr_size) ||
		    bd_kafka_conf_set(conf, "partition.assignment.strategy", "range", errstr, errstr_size) ||
		    /* decisions are online: do not let an idle fetch sit for
		     * librdkafka's default 500 ms */
		    bd_kafka_conf_default(conf, cfg, "fetch.wait.max.ms", "5", errstr, errstr_size) ||
		    /* the consumer needs every input partition's leader all the
		     * time, so its statistics show a lost broker even when no
		     * output goes to it (served by the consumer polls) */
		    bd_kafka_conf_default(conf, cfg, "statistics.interval.ms", "1000", errstr,
					  errstr_size))
			goto fail;
		rd_kafka_conf_set_stats_cb(conf, stats_cb);
		rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
		rd_kafka_conf_set_offset_commit_cb(conf, commit_cb);
	} else {
		if (bd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) ||
		    bd_kafka_conf_set(conf, "partitioner", "murmur2_random", errstr, errstr_size) ||
		    bd_kafka_conf_default(conf, cfg, "linger.ms", "1", errstr, errstr_size) ||
		    bd_kafka_conf_default(conf, cfg, "statistics.interval.ms", "1000", errstr,
					  errstr_size))
			goto fail;
		rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
		rd_kafka_conf_set_stats_cb(conf, stats_cb);
	}
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, w);
	rk = rd_kafka_new(type, conf, errstr, errstr_size);
	if (!rk)
		goto fail;
	return rk; /* conf now owned by rk */
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

int bd_worker_start(int id, const bd_worker_env_t *env, bd_snapshot_t *snap,
		    bd_worker_t **out, char *errstr, size_t errstr_size)
{
	bd_worker_t *w = calloc(1, sizeof(*w));
	rd_kafka_topic_partition_list_t *topics = NULL;
	rd_kafka_resp_err_t kerr;
	int err = BD_EKAFKA;

	if (!w)
		return -ENOMEM;
	w->id = id;
	w->env = *env;
	w->cfg = env->cfg;
	bd_clock_rule_from_config(&w->clock_rule, env->cfg);
	w->snap = bd_snapshot_ref(snap);
	uv_mutex_init(&w->mbox_lock);
	w->lag_n = env->cfg->topic_partitions;
	if (!(w->lag = malloc(sizeof(*w->lag) * 2 * (size_t)w->lag_n))) {
		err = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < 2 * w->lag_n; i++)
		atomic_init(&w->lag[i], -1);
	if (!(w->carried_part = malloc(sizeof(*w->carried_part) * (size_t)w->lag_n))) {
		err = -ENOMEM;
		goto fail;
	}
	for (int i = 0; i < w->lag_n; i++)
		atomic_init(&w->carried_part[i], -1);
	if ((err = bd_codec_new((const uint32_t *)env->cfg->schema_id,
				bd_config_output_format(env->cfg), &w->codec,
				errstr, errstr_size)))
		goto fail;
	err = -ENOMEM;
	if (!(w->batch = bd_store_batch_new(env->store)) ||
	    !(w->delta = bd_stats_delta_new()))
		goto fail;
	err = BD_EKAFKA;
	if (!(w->producer = make_client(w, RD_KAFKA_PRODUCER, errstr, errstr_size)) ||
	    !(w->consumer = make_client(w, RD_KAFKA_CONSUMER, errstr, errstr_size)))
		goto fail;
	if (!(w->outbox = bd_outbox_new(env->store, w->producer,
					env->cfg->topic))) {
		err = -ENOMEM;
		goto fail;
	}
	/* the stall guard (inputs_guard): half a session silent is suspect; the
	 * group answers within two heartbeats (librdkafka also checks its
	 * session at least once a second) */
	w->stall_limit_ns = (uint64_t)bd_kafka_conf_ms(w->consumer, "session.timeout.ms", 45000) *
			    1000000 / 2;
	w->stall_confirm_ns = (uint64_t)bd_kafka_conf_ms(w->consumer, "heartbeat.interval.ms",
							  3000) * 2 * 1000000;
	if (w->stall_confirm_ns < 2000000000ull)
		w->stall_confirm_ns = 2000000000ull;
	rd_kafka_poll_set_consumer(w->consumer);
	w->cons_q = rd_kafka_queue_get_consumer(w->consumer);
	w->prod_q = rd_kafka_queue_get_main(w->producer);
	if ((err = uv_loop_init(&w->loop)))
		goto fail;
	w->cons_waker.data = w->prod_waker.data = w;
	if ((err = bd_kafka_waker_start(&w->cons_waker, &w->loop, w->cons_q,
					on_consumer)) ||
	    (err = bd_kafka_waker_start(&w->prod_waker, &w->loop, w->prod_q,
					on_producer))) {
		snprintf(errstr, errstr_size, "worker %d: %s", id, uv_strerror(err));
		goto fail;
	}
	uv_timer_init(&w->loop, &w->timer);
	uv_timer_init(&w->loop, &w->again);
	w->timer.data = w->again.data = w;
	uv_async_init(&w->loop, &w->mailbox, on_mailbox);
	w->mailbox.data = w;
	atomic_store_explicit(&w->beat_ns, uv_hrtime(), memory_order_relaxed);
	uv_timer_start(&w->timer, on_timer, (uint64_t)w->cfg->flush_interval_ms,
		       (uint64_t)w->cfg->flush_interval_ms);

	topics = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(topics, env->cfg->topic[BD_MSG_FEATURE],
					  RD_KAFKA_PARTITION_UA);
	rd_kafka_topic_partition_list_add(topics, env->cfg->topic[BD_MSG_OUTCOME],
					  RD_KAFKA_PARTITION_UA);
	kerr = rd_kafka_subscribe(w->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (kerr) {
		snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(kerr));
		err = BD_EKAFKA;
		goto fail_loop;
	}
	if ((err = uv_thread_create(&w->thread, run, w))) {
		snprintf(errstr, errstr_size, "thread: %s", uv_strerror(err));
		goto fail_loop;
	}
	*out = w;
	return 0;
fail_loop:
	close_all(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	uv_loop_close(&w->loop);
fail:
	if (!errstr[0])
		snprintf(errstr, errstr_size, "worker %d: %s", id, bd_strerror(err));
	worker_free(w);
	return err;
}

int bd_worker_join(bd_worker_t *w, bd_worker_counters_t *final)
{
	uv_thread_join(&w->thread);
	uv_loop_close(&w->loop);
	if (final)
		bd_worker_counters(w, final);
	int failed = w->failed != 0; /* the thread has ended: no race */
	worker_free(w);
	return failed;
}

int64_t bd_worker_carried(const bd_worker_t *w, int partition)
{
	if (partition < 0 || partition >= w->lag_n)
		return -1;
	return atomic_load_explicit(&((bd_worker_t *)w)->carried_part[partition],
				    memory_order_relaxed);
}

uint64_t bd_worker_heartbeat(const bd_worker_t *w)
{
	return atomic_load_explicit(&((bd_worker_t *)w)->beat_ns, memory_order_relaxed);
}

int bd_worker_assigned(const bd_worker_t *w)
{
	return atomic_load_explicit(&((bd_worker_t *)w)->holding, memory_order_relaxed);
}

int bd_worker_owns(const bd_worker_t *w, int input, int partition)
{
	if (input < 0 || input > 1 || partition < 0 || partition >= BD_WORKER_MAX_PARTITIONS)
		return 0;
	uint64_t v = atomic_load_explicit(&((bd_worker_t *)w)->owned[input][partition / 64],
					  memory_order_relaxed);
	return (int)((v >> (partition % 64)) & 1);
}

void bd_worker_counters(const bd_worker_t *w, bd_worker_counters_t *c)
{
	bd_worker_t *m = (bd_worker_t *)w;
	c->features = atomic_load_explicit(&m->c_features, memory_order_relaxed);
	c->outcomes = atomic_load_explicit(&m->c_outcomes, memory_order_relaxed);
	c->historical = atomic_load_explicit(&m->c_historical, memory_order_relaxed);
	c->decisions = atomic_load_explicit(&m->c_decisions, memory_order_relaxed);
	c->republished = atomic_load_explicit(&m->c_republished, memory_order_relaxed);
	c->dead_letters = atomic_load_explicit(&m->c_dead, memory_order_relaxed);
	c->batches = atomic_load_explicit(&m->c_batches, memory_order_relaxed);
	c->duplicates = atomic_load_explicit(&m->c_dups, memory_order_relaxed);
	c->winsorized = atomic_load_explicit(&m->c_winsorized, memory_order_relaxed);
	for (int r = 0; r < BD_DEAD__COUNT; r++)
		c->dead[r] = atomic_load_explicit(&m->c_dead_by[r], memory_order_relaxed);
	for (int in = 0; in < 2; in++) {
		c->input_resets[in] = atomic_load_explicit(&m->c_resets[in], memory_order_relaxed);
		c->input_skipped[in] = atomic_load_explicit(&m->c_skipped[in], memory_order_relaxed);
	}
}

void bd_worker_latency(const bd_worker_t *w, bd_histo_snap_t *snap)
{
	bd_histo_add_to(&w->lat, snap);
}

int64_t bd_worker_lag(const bd_worker_t *w, int input, int partition)
{
	if (input < 0 || input > 1 || partition < 0 || partition >= w->lag_n)
		return -1;
	return atomic_load_explicit(&((bd_worker_t *)w)->lag[input * w->lag_n + partition],
				    memory_order_relaxed);
}
