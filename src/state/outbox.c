#include "budgetd/state/outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/log.h"

#define SEQ_BITS 48
#define SEQ_MASK ((1ULL << SEQ_BITS) - 1)

/*
 * An outbox record.  Version 2 (this release):
 *   0xb2, kind, flags (bit 0: the key is null), key length (be32), key, value
 * Version 1 (releases before it), still read so that their state starts:
 *   kind (< BD_MSG__COUNT), key length (be16), key, value
 * (an empty version-1 key was produced as null).  Version 1 stored a key
 * length modulo 65536: a longer key was cut and its tail taken for the
 * value.
 */
#define REC_V2 0xb2
#define REC_V2_HDR 7
#define REC_NULL_KEY 1

typedef struct staged_s {
	uint16_t part;
	uint64_t seq;
	uint64_t gate; /* held: produced once the gate is open (bd_outbox_hold) */
	size_t len;
	uint8_t *data; /* the record */
} staged_t;

typedef struct vec_s {
	void *v;
	size_t n, cap, elem;
} vec_t;

/* One outbox partition's written, not yet deleted entries, in sequence
 * order (they are produced in that order: staged, then recovered from the
 * store's key order).  [head, ready) are acknowledged and go as range
 * deletes; an entry acknowledged past the first unacknowledged one waits
 * for it, and a range spans consecutive sequence numbers only, so that no
 * range ever covers an entry still owed. */
typedef struct queue_s {
	uint64_t *seq;
	uint8_t *acked;
	size_t head, ready, n, cap;
} queue_t;

struct bd_outbox_s {
	bd_store_t *st;
	rd_kafka_t *producer;
	char *const *topics;
	uint64_t *next_seq; /* per outbox partition, lazily grown */
	uint8_t *seq_dirty;
	size_t nparts;
	queue_t **queue; /* per outbox partition, lazily made */
	vec_t staged;  /* staged_t */
	vec_t held;    /* staged_t, written, waiting for their gate, in gate order */
	vec_t retry;   /* uint64_t opaque */
	size_t deletable; /* sum of the queues' ready - head */
	size_t inflight;
	uint64_t failures;
};

static int vec_push(vec_t *v, const void *x)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *p = realloc(v->v, cap * v->elem);
		if (!p)
			return -ENOMEM;
		v->v = p;
		v->cap = cap;
	}
	memcpy((char *)v->v + v->n * v->elem, x, v->elem);
	v->n++;
	return 0;
}

static size_t entry_key(uint8_t *k, uint16_t part, uint64_t seq)
{
	bd_be16(k, part);
	bd_be64(k + 2, seq);
	return 10;
}

static size_t seq_key(uint8_t *k, uint16_t part)
{
	memcpy(k, "oseq", 4);
	bd_be16(k + 4, part);
	return 6;
}

bd_outbox_t *bd_outbox_new(bd_store_t *st, rd_kafka_t *producer,
			   char *const topics[BD_MSG__COUNT])
{
	bd_outbox_t *ob = calloc(1, sizeof(*ob));
	if (!ob)
		return NULL;
	ob->st = st;
	ob->producer = producer;
	ob->topics = topics;
	ob->staged.elem = sizeof(staged_t);
	ob->held.elem = sizeof(staged_t);
	ob->retry.elem = sizeof(uint64_t);
	return ob;
}

void bd_outbox_free(bd_outbox_t *ob)
{
	if (!ob)
		return;
	bd_outbox_discard(ob);
	staged_t *h = ob->held.v;
	for (size_t i = 0; i < ob->held.n; i++)
		free(h[i].data); /* written: the next owner produces them */
	free(ob->held.v);
	free(ob->staged.v);
	free(ob->retry.v);
	for (size_t p = 0; p < ob->nparts; p++)
		if (ob->queue[p]) {
			free(ob->queue[p]->seq);
			free(ob->queue[p]->acked);
			free(ob->queue[p]);
		}
	free(ob->queue);
	free(ob->next_seq);
	free(ob->seq_dirty);
	free(ob);
}

static int ensure_part(bd_outbox_t *ob, uint16_t part)
{
	if (part < ob->nparts)
		return 0;
	size_t n = (size_t)part + 1;
	uint64_t *s = realloc(ob->next_seq, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	ob->next_seq = s;
	uint8_t *d = realloc(ob->seq_dirty, n);
	if (!d)
		return -ENOMEM;
	ob->seq_dirty = d;
	queue_t **q = realloc(ob->queue, n * sizeof(*q));
	if (!q)
		return -ENOMEM;
	ob->queue = q;
	for (size_t i = ob->nparts; i < n; i++) {
		ob->next_seq[i] = UINT64_MAX; /* not recovered yet */
		ob->seq_dirty[i] = 0;
		ob->queue[i] = NULL;
	}
	ob->nparts = n;
	return 0;
}

static uint64_t load_seq(bd_outbox_t *ob, uint16_t part)
{
	uint8_t k[6];
	char *v = NULL;
	size_t vlen = 0;
	uint64_t seq = 0;
	if (bd_store_get(ob->st, BD_CF_META, k, seq_key(k, part), &v, &vlen) == 0) {
		if (vlen == 8)
			seq = bd_rd_be64((uint8_t *)v);
		free(v);
	}
	return seq;
}

/* Appends a written entry to its partition's queue (@p seq above every
 * entry queued there). */
static int queue_push(bd_outbox_t *ob, uint16_t part, uint64_t seq)
{
	queue_t *q;
	int err;

	if ((err = ensure_part(ob, part)))
		return err;
	if (!(q = ob->queue[part]) && !(q = ob->queue[part] = calloc(1, sizeof(*q))))
		return -ENOMEM;
	if (q->head > 0 && q->head >= q->n / 2) { /* reuse the deleted front */
		memmove(q->seq, q->seq + q->head, (q->n - q->head) * sizeof(*q->seq));
		memmove(q->acked, q->acked + q->head, q->n - q->head);
		q->n -= q->head;
		q->ready -= q->head;
		q->head = 0;
	}
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 256;
		uint64_t *sq = realloc(q->seq, cap * sizeof(*sq));
		if (!sq)
			return -ENOMEM;
		q->seq = sq;
		uint8_t *a = realloc(q->acked, cap);
		if (!a)
			return -ENOMEM;
		q->acked = a;
		q->cap = cap;
	}
	q->seq[q->n] = seq;
	q->acked[q->n++] = 0;
	return 0;
}

/* Marks a queued entry acknowledged; one no longer queued (its partition
 * was recovered again since, or it was deleted already) is ignored. */
static void queue_ack(bd_outbox_t *ob, uint64_t opaque)
{
	uint16_t part = (uint16_t)(opaque >> SEQ_BITS);
	uint64_t seq = opaque & SEQ_MASK;
	queue_t *q = part < ob->nparts ? ob->queue[part] : NULL;
	size_t lo, hi;

	if (!q)
		return;
	lo = q->head;
	hi = q->n;
	while (lo < hi) { /* the first queued at or above seq */
		size_t mid = lo + (hi - lo) / 2;
		if (q->seq[mid] < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == q->n || q->seq[lo] != seq)
		return;
	q->acked[lo] = 1;
	while (q->ready < q->n && q->acked[q->ready]) {
		q->ready++;
		ob->deletable++;
	}
}

/* Forgets a partition's queue: its entries are produced again from the
 * store, and queued again, by bd_outbox_recover. */
static void queue_reset(bd_outbox_t *ob, uint16_t part)
{
	queue_t *q = ob->queue[part];
	if (!q)
		return;
	ob->deletable -= q->ready - q->head;
	q->head = q->ready = q->n = 0;
}

int bd_outbox_add(bd_outbox_t *ob, bd_store_batch_t *b, uint16_t part,
		  bd_msg_kind_t kind, const void *key, size_t klen,
		  const void *val, size_t vlen)
{
	staged_t s = {.part = part, .len = REC_V2_HDR + klen + vlen};
	uint8_t ek[10];
	int err;

	if (klen > UINT32_MAX)
		return BD_EINVAL;
	if ((err = ensure_part(ob, part)))
		return err;
	if (ob->next_seq[part] == UINT64_MAX)
		ob->next_seq[part] = load_seq(ob, part);
	s.seq = ob->next_seq[part]++;
	ob->seq_dirty[part] = 1;
	s.data = malloc(s.len);
	if (!s.data)
		return -ENOMEM;
	s.data[0] = REC_V2;
	s.data[1] = (uint8_t)kind;
	s.data[2] = key ? 0 : REC_NULL_KEY;
	bd_be32(s.data + 3, (uint32_t)klen);
	if (klen)
		memcpy(s.data + REC_V2_HDR, key, klen);
	memcpy(s.data + REC_V2_HDR + klen, val, vlen);
	if ((err = vec_push(&ob->staged, &s))) {
		free(s.data);
		return err;
	}
	bd_store_batch_put(b, BD_CF_OUTBOX, ek, entry_key(ek, part, s.seq), s.data, s.len);
	return 0;
}

void bd_outbox_prepare(bd_outbox_t *ob, bd_store_batch_t *b)
{
	/* a range per run of consecutive sequence numbers in each partition's
	 * acknowledged prefix (one per partition but where a batch was
	 * discarded or an entry could not be queued): a point delete per
	 * entry was a memtable entry per output (issue 19) */
	for (size_t p = 0; ob->deletable && p < ob->nparts; p++) {
		queue_t *q = ob->queue[p];
		if (!q)
			continue;
		for (size_t i = q->head; i < q->ready;) {
			size_t j = i + 1;
			while (j < q->ready && q->seq[j] == q->seq[j - 1] + 1)
				j++;
			uint8_t from[10], to[10];
			entry_key(from, (uint16_t)p, q->seq[i]);
			entry_key(to, (uint16_t)p, q->seq[j - 1] + 1);
			bd_store_batch_delete_range(b, BD_CF_OUTBOX, from, 10, to, 10);
			i = j;
		}
		ob->deletable -= q->ready - q->head;
		q->head = q->ready;
	}
	for (size_t p = 0; p < ob->nparts; p++)
		if (ob->seq_dirty[p]) {
			uint8_t k[6], v[8];
			bd_be64(v, ob->next_seq[p]);
			bd_store_batch_put(b, BD_CF_META, k, seq_key(k, (uint16_t)p),
					   v, 8);
			ob->seq_dirty[p] = 0;
		}
}

/* A stored record's parts; @returns 0, or -1 if it is damaged. */
typedef struct rec_s {
	bd_msg_kind_t kind;
	const uint8_t *key, *val; /* key NULL: a null key */
	size_t klen, vlen;
} rec_t;

static int rec_parse(const uint8_t *data, size_t len, rec_t *r)
{
	size_t hdr, klen;
	int null_key;

	if (len >= REC_V2_HDR && data[0] == REC_V2) {
		r->kind = (bd_msg_kind_t)data[1];
		null_key = data[2] & REC_NULL_KEY;
		klen = (size_t)data[3] << 24 | (size_t)data[4] << 16 | (size_t)data[5] << 8 |
		       data[6];
		hdr = REC_V2_HDR;
	} else if (len >= 3) { /* version 1 */
		r->kind = (bd_msg_kind_t)data[0];
		klen = (size_t)data[1] << 8 | data[2];
		null_key = klen == 0;
		hdr = 3;
	} else {
		return -1;
	}
	if ((unsigned)r->kind >= BD_MSG__COUNT || klen > len - hdr || (null_key && klen))
		return -1;
	r->key = null_key ? NULL : data + hdr;
	r->klen = klen;
	r->val = data + hdr + klen;
	r->vlen = len - hdr - klen;
	return 0;
}

static void produce_one(bd_outbox_t *ob, uint16_t part, uint64_t seq,
			const uint8_t *data, size_t len)
{
	uint64_t opaque = (uint64_t)part << SEQ_BITS | seq;
	rd_kafka_resp_err_t err;
	rec_t r;

	if (rec_parse(data, len, &r) != 0) {
		bd_error("outbox entry %u/%llu is damaged; dropped", part,
			 (unsigned long long)seq);
		queue_ack(ob, opaque);
		return;
	}
	/* an empty key stays empty: librdkafka makes a key null only when
	 * its pointer is NULL */
	err = rd_kafka_producev(
		ob->producer, RD_KAFKA_V_TOPIC(ob->topics[r.kind]),
		RD_KAFKA_V_KEY(r.key ? (void *)(r.klen ? r.key : (const uint8_t *)"") : NULL,
			       r.klen),
		RD_KAFKA_V_VALUE((void *)r.val, r.vlen),
		RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
		RD_KAFKA_V_OPAQUE((void *)(uintptr_t)opaque), RD_KAFKA_V_END);
	if (err) {
		/* queue full or similar: keep it for the next round */
		ob->failures++;
		vec_push(&ob->retry, &opaque);
		return;
	}
	ob->inflight++;
}

static void retry_from_store(bd_outbox_t *ob)
{
	size_t n = ob->retry.n;
	uint64_t *r = malloc(n * sizeof(*r));
	if (!r)
		return;
	memcpy(r, ob->retry.v, n * sizeof(*r));
	ob->retry.n = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ek[10];
		char *v = NULL;
		size_t vlen = 0;
		uint16_t part = (uint16_t)(r[i] >> SEQ_BITS);
		uint64_t seq = r[i] & SEQ_MASK;
		if (bd_store_get(ob->st, BD_CF_OUTBOX, ek, entry_key(ek, part, seq),
				 &v, &vlen) == 0) {
			produce_one(ob, part, seq, (uint8_t *)v, vlen);
			free(v);
		}
	}
	free(r);
}

/* Produces @p n written entries from @p s, in order. */
static void produce_written(bd_outbox_t *ob, staged_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* without its queue slot (no memory) it is never deleted, only
		 * produced again at the next recovery: at least once still */
		if (queue_push(ob, s[i].part, s[i].seq))
			bd_warn("outbox: no memory to track entry %u/%llu", s[i].part,
				(unsigned long long)s[i].seq);
		produce_one(ob, s[i].part, s[i].seq, s[i].data, s[i].len);
		free(s[i].data);
	}
}

void bd_outbox_produce(bd_outbox_t *ob)
{
	produce_written(ob, ob->staged.v, ob->staged.n);
	ob->staged.n = 0;
	bd_outbox_retry(ob);
}

void bd_outbox_hold(bd_outbox_t *ob, uint64_t gate)
{
	staged_t *s = ob->staged.v;
	size_t i = 0;
	for (; i < ob->staged.n; i++) {
		s[i].gate = gate;
		if (vec_push(&ob->held, &s[i]) != 0)
			break;
	}
	/* no memory to hold the rest: produced now, as without a gate */
	produce_written(ob, s + i, ob->staged.n - i);
	ob->staged.n = 0;
	bd_outbox_retry(ob);
}

void bd_outbox_release(bd_outbox_t *ob, uint64_t gate)
{
	staged_t *h = ob->held.v;
	size_t n = 0;
	while (n < ob->held.n && h[n].gate <= gate)
		n++;
	if (!n)
		return;
	produce_written(ob, h, n);
	memmove(h, h + n, (ob->held.n - n) * sizeof(*h));
	ob->held.n -= n;
}

size_t bd_outbox_held(const bd_outbox_t *ob)
{
	return ob->held.n;
}

void bd_outbox_retry(bd_outbox_t *ob)
{
	if (ob->retry.n)
		retry_from_store(ob);
}

void bd_outbox_discard(bd_outbox_t *ob)
{
	staged_t *s = ob->staged.v;
	for (size_t i = 0; i < ob->staged.n; i++)
		free(s[i].data);
	ob->staged.n = 0;
	/* sequence numbers handed out are simply skipped */
}

typedef struct recover_s {
	bd_outbox_t *ob;
	uint16_t part;
	size_t n;
} recover_t;

static int recover_cb(const char *key, size_t klen, const char *val, size_t vlen,
		      void *opaque)
{
	recover_t *r = opaque;
	if (klen != 10)
		return 0;
	if (queue_push(r->ob, r->part, bd_rd_be64((const uint8_t *)key + 2)))
		return -ENOMEM;
	produce_one(r->ob, r->part, bd_rd_be64((const uint8_t *)key + 2),
		    (const uint8_t *)val, vlen);
	r->n++;
	return 0;
}

int bd_outbox_recover(bd_outbox_t *ob, uint16_t part)
{
	uint8_t prefix[2];
	recover_t r = {ob, part, 0};
	int err;

	if ((err = ensure_part(ob, part)))
		return err;
	ob->next_seq[part] = load_seq(ob, part);
	queue_reset(ob, part);
	bd_be16(prefix, part);
	err = bd_store_scan(ob->st, BD_CF_OUTBOX, prefix, 2, recover_cb, &r);
	if (r.n)
		bd_info("partition %u: re-producing %zu undelivered outputs", part,
			r.n);
	return err;
}

void bd_outbox_on_delivery(bd_outbox_t *ob, const rd_kafka_message_t *m)
{
	uint64_t opaque = (uint64_t)(uintptr_t)m->_private;
	if (ob->inflight)
		ob->inflight--;
	if (m->err) {
		ob->failures++;
		bd_warn("delivery to %s failed: %s (will retry)",
			rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
		vec_push(&ob->retry, &opaque);
		return;
	}
	queue_ack(ob, opaque);
}

size_t bd_outbox_inflight(const bd_outbox_t *ob)
{
	return ob->inflight;
}

size_t bd_outbox_acked(const bd_outbox_t *ob)
{
	return ob->deletable;
}

uint64_t bd_outbox_failures(const bd_outbox_t *ob)
{
	return ob->failures;
}
