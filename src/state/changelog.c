/*
 * The changelog recorder and applier (changelog.h).  The recorder is a
 * store-batch hook: it copies each operation into the arena of the
 * partition its key names, so producing the batch's records after the
 * RocksDB write needs nothing more than the recorder.
 */
#include "budgetd/state/changelog.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct op_ent_s {
	uint8_t cf, op;
	size_t koff, klen, voff, vlen; /* in the partition's arena */
} op_ent_t;

typedef struct rec_part_s {
	uint8_t *arena;
	size_t len, cap;
	op_ent_t *ops;
	size_t n, ncap;
	int64_t seq; /* the next batch_seq */
} rec_part_t;

struct bd_clog_rec_s {
	int nparts;
	rec_part_t *parts;
	char err[160]; /* "" while nothing failed */
	bd_clog_op_t *view;
	size_t view_cap;
	bd_clog_offset_t *offs;
	size_t offs_cap;
};

static const int8_t clog_cf_of[BD_CF__COUNT] = {
	[BD_CF_META] = BD_CLOG_CF_META,		  [BD_CF_OFFSETS] = BD_CLOG_CF_OFFSETS,
	[BD_CF_DECISIONS] = BD_CLOG_CF_DECISIONS, [BD_CF_STATS] = BD_CLOG_CF_STATS,
	[BD_CF_SAMPLES] = BD_CLOG_CF_SAMPLES,	  [BD_CF_OUTBOX] = BD_CLOG_CF_OUTBOX,
	[BD_CF_CAMPAIGNS] = -1,			  [BD_CF_PLANS] = -1,
	[BD_CF_MODELS] = -1,			  [BD_CF_PENDING] = BD_CLOG_CF_PENDING,
};

int bd_clog_cf_of(bd_cf_t cf)
{
	return (unsigned)cf < BD_CF__COUNT ? clog_cf_of[cf] : -1;
}

int bd_clog_store_cf(int clog_cf)
{
	for (int cf = 0; cf < BD_CF__COUNT; cf++)
		if (clog_cf_of[cf] >= 0 && clog_cf_of[cf] == clog_cf)
			return cf;
	return -1;
}

bd_clog_rec_t *bd_clog_rec_new(int nparts)
{
	bd_clog_rec_t *r = calloc(1, sizeof(*r));
	if (!r || nparts < 1 || !(r->parts = calloc((size_t)nparts, sizeof(*r->parts)))) {
		free(r);
		return NULL;
	}
	r->nparts = nparts;
	return r;
}

void bd_clog_rec_free(bd_clog_rec_t *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->nparts; i++) {
		free(r->parts[i].arena);
		free(r->parts[i].ops);
	}
	free(r->parts);
	free(r->view);
	free(r->offs);
	free(r);
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *q = realloc(*p, c * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = c;
	return 0;
}

/* Appends @p len bytes to @p p's arena; @returns their offset or -1. */
static int64_t arena_add(rec_part_t *p, const void *x, size_t len)
{
	size_t at = p->len;
	if (grow((void **)&p->arena, &p->cap, at + len + 1, 1))
		return -1;
	if (len)
		memcpy(p->arena + at, x, len);
	p->len += len;
	return (int64_t)at;
}

static void on_op(void *opaque, bd_cf_t cf, bd_store_op_t op, const void *key, size_t klen,
		  const void *val, size_t vlen)
{
	bd_clog_rec_t *r = opaque;
	int ccf = bd_clog_cf_of(cf), part = bd_store_key_partition(cf, key, klen);
	if (r->err[0])
		return;
	if (ccf < 0 || part < 0) {
		snprintf(r->err, sizeof(r->err), "%s key of %zu bytes names no partition",
			 bd_store_cf_name(cf), klen);
		return;
	}
	if (part >= r->nparts) {
		snprintf(r->err, sizeof(r->err),
			 "%s key of partition %d: the changelog has %d partitions",
			 bd_store_cf_name(cf), part, r->nparts);
		return;
	}
	rec_part_t *p = &r->parts[part];
	int64_t ko, vo;
	if (grow((void **)&p->ops, &p->ncap, p->n + 1, sizeof(*p->ops)) ||
	    (ko = arena_add(p, key, klen)) < 0 || (vo = arena_add(p, val, vlen)) < 0) {
		snprintf(r->err, sizeof(r->err), "out of memory");
		return;
	}
	p->ops[p->n++] = (op_ent_t){.cf = (uint8_t)ccf, .op = (uint8_t)op, .koff = (size_t)ko,
				    .klen = klen, .voff = (size_t)vo, .vlen = vlen};
}

void bd_clog_rec_attach(bd_clog_rec_t *r, bd_store_batch_t *b)
{
	bd_store_batch_hook(b, on_op, r);
}

const char *bd_clog_rec_failed(const bd_clog_rec_t *r)
{
	return r->err[0] ? r->err : NULL;
}

/* The input offsets among @p p's ops (put into OFFSETS: topic, NUL, be32
 * partition -> be64 next offset), in r->offs. */
static size_t offsets_of(bd_clog_rec_t *r, const rec_part_t *p)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++) {
		const op_ent_t *o = &p->ops[i];
		if (o->cf != BD_CLOG_CF_OFFSETS || o->op != BD_CLOG_PUT || o->vlen != 8 ||
		    grow((void **)&r->offs, &r->offs_cap, n + 1, sizeof(*r->offs)))
			continue;
		/* the key holds the topic's NUL (bd_store_key_partition checked) */
		r->offs[n].topic = (const char *)p->arena + o->koff;
		r->offs[n++].next = (int64_t)bd_rd_be64(p->arena + o->voff);
	}
	return n;
}

int bd_clog_rec_next(bd_clog_rec_t *r, int *cursor, bd_changelog_t *out)
{
	for (; *cursor < r->nparts; (*cursor)++) {
		rec_part_t *p = &r->parts[*cursor];
		if (!p->n)
			continue;
		if (grow((void **)&r->view, &r->view_cap, p->n, sizeof(*r->view))) {
			(*cursor)++;
			return -ENOMEM;
		}
		for (size_t i = 0; i < p->n; i++) {
			const op_ent_t *o = &p->ops[i];
			r->view[i] = (bd_clog_op_t){.cf = o->cf, .op = o->op,
						    .key = p->arena + o->koff, .klen = o->klen,
						    .value = p->arena + o->voff, .vlen = o->vlen};
		}
		memset(out, 0, sizeof(*out));
		out->kind = BD_CLOG_BATCH;
		out->partition = *cursor;
		out->batch_seq = p->seq++;
		out->part = 0;
		out->parts = 1;
		out->instance = "";
		out->ops = r->view;
		out->n_ops = p->n;
		out->n_offsets = offsets_of(r, p);
		out->offsets = r->offs;
		(*cursor)++;
		return 1;
	}
	return 0;
}

void bd_clog_rec_stamp(bd_clog_rec_t *r, bd_store_batch_t *b, int64_t epoch, int64_t seq)
{
	uint8_t key[6] = {'c', 'l', 's', 'q'}, val[16];
	bd_be64(val, (uint64_t)epoch);
	bd_be64(val + 8, (uint64_t)seq);
	for (int i = 0; i < r->nparts; i++)
		if (r->parts[i].n) {
			bd_be16(key + 4, (uint16_t)i);
			bd_store_batch_put(b, BD_CF_META, key, sizeof(key), val, sizeof(val));
		}
}

void bd_clog_rec_clear(bd_clog_rec_t *r)
{
	for (int i = 0; i < r->nparts; i++)
		r->parts[i].len = r->parts[i].n = 0;
	r->err[0] = '\0';
}

/* ---- applying ---------------------------------------------------------------- */

static int apply_op(bd_store_batch_t *b, int32_t partition, const bd_clog_op_t *o,
		    char *errstr, size_t errstr_size)
{
	int cf = bd_clog_store_cf(o->cf);
	double x[64];
	if (cf < 0 || o->op >= BD_CLOG_OP__COUNT) {
		snprintf(errstr, errstr_size, "operation %d on family %d is not known", o->op, o->cf);
		return BD_EINVAL;
	}
	int part = bd_store_key_partition((bd_cf_t)cf, o->key, o->klen);
	if (part != partition) {
		snprintf(errstr, errstr_size, "a %s key of partition %d in a record of partition %d",
			 bd_store_cf_name((bd_cf_t)cf), part, partition);
		return BD_EINVAL;
	}
	switch (o->op) {
	case BD_CLOG_PUT:
		bd_store_batch_put(b, (bd_cf_t)cf, o->key, o->klen, o->value, o->vlen);
		return 0;
	case BD_CLOG_MERGE:
		if (o->vlen % sizeof(double) || o->vlen > sizeof(x)) {
			snprintf(errstr, errstr_size, "a merge of %zu bytes (not whole doubles, or "
				 "more than %zu)", o->vlen, sizeof(x) / sizeof(double));
			return BD_EINVAL;
		}
		memcpy(x, o->value, o->vlen);
		bd_store_batch_add(b, (bd_cf_t)cf, o->key, o->klen, x,
				   (int)(o->vlen / sizeof(double)));
		return 0;
	case BD_CLOG_DELETE:
		bd_store_batch_delete(b, (bd_cf_t)cf, o->key, o->klen);
		return 0;
	default:
		bd_store_batch_delete_range(b, (bd_cf_t)cf, o->key, o->klen, o->value, o->vlen);
		return 0;
	}
}

int bd_changelog_apply(bd_store_batch_t *b, const bd_changelog_t *r, char *errstr,
		       size_t errstr_size)
{
	for (size_t i = 0; i < r->n_ops; i++) {
		int err = apply_op(b, r->partition, &r->ops[i], errstr, errstr_size);
		if (err)
			return err;
	}
	return 0;
}

/* ---- where the store stands against the changelog ------------------------- */

/* A meta key: @p tag, and the partition unless @p part < 0. */
static size_t meta_key(uint8_t key[6], const char tag[4], int part)
{
	memcpy(key, tag, 4);
	if (part < 0)
		return 4;
	bd_be16(key + 4, (uint16_t)part);
	return 6;
}

/* The big-endian i64 under meta key @p tag (+ @p part); -1 when absent. */
static int64_t meta_get(bd_store_t *st, const char tag[4], int part)
{
	uint8_t key[6];
	char *val = NULL;
	size_t vlen = 0;
	int64_t v = -1;
	if (bd_store_get(st, BD_CF_META, key, meta_key(key, tag, part), &val, &vlen) == 0) {
		if (vlen == 8)
			v = (int64_t)bd_rd_be64((const uint8_t *)val);
		free(val);
	}
	return v;
}

static void meta_put(bd_store_batch_t *b, const char tag[4], int part, int64_t v)
{
	uint8_t key[6], val[8];
	bd_be64(val, (uint64_t)v);
	bd_store_batch_put(b, BD_CF_META, key, meta_key(key, tag, part), val, sizeof(val));
}

int64_t bd_clog_position_get(bd_store_t *st, uint16_t part)
{
	return meta_get(st, "clof", part);
}

void bd_clog_position_put(bd_store_batch_t *b, uint16_t part, int64_t next_offset)
{
	meta_put(b, "clof", part, next_offset);
}

int64_t bd_clog_fence_get(bd_store_t *st, uint16_t part)
{
	return meta_get(st, "clfe", part);
}

void bd_clog_fence_put(bd_store_batch_t *b, uint16_t part, int64_t epoch)
{
	meta_put(b, "clfe", part, epoch);
}

int64_t bd_clog_epoch_get(bd_store_t *st)
{
	return meta_get(st, "clep", -1);
}

void bd_clog_epoch_put(bd_store_batch_t *b, int64_t epoch)
{
	meta_put(b, "clep", -1, epoch);
}

bd_clog_stamp_t bd_clog_stamp_get(bd_store_t *st, uint16_t part)
{
	uint8_t key[6];
	char *val = NULL;
	size_t vlen = 0;
	bd_clog_stamp_t s = {-1, -1};
	if (bd_store_get(st, BD_CF_META, key, meta_key(key, "clsq", part), &val, &vlen) == 0) {
		if (vlen == 16)
			s = (bd_clog_stamp_t){(int64_t)bd_rd_be64((const uint8_t *)val),
					      (int64_t)bd_rd_be64((const uint8_t *)val + 8)};
		free(val);
	}
	return s;
}
