/*
 * The carry-over of statistics to a new model version (carry.h): markers in
 * the meta column family, the pending index, and a worker's step for one
 * partition.
 *
 * Meta keys: "sseq" + partition (the sample log's next sequence, worker_batch.c),
 * "rbld" + partition -> version, sequence; "carr" + partition -> version;
 * "ctgt" -> version; "mver" -> the last version number handed out.
 */
#include "budgetd/policy/carry.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/policy/decide.h"

static size_t part_key(uint8_t buf[6], const char tag[4], uint16_t part)
{
	memcpy(buf, tag, 4);
	bd_be16(buf + 4, part);
	return 6;
}

/* Reads @p n big-endian u64 under @p key; @returns 0, 1 absent or an error. */
static int get_u64s(bd_store_t *st, const uint8_t *key, size_t klen, uint64_t *v, int n)
{
	char *val = NULL;
	size_t vlen = 0;
	int err = bd_store_get(st, BD_CF_META, key, klen, &val, &vlen);
	if (err)
		return err;
	if (vlen != (size_t)n * 8) {
		free(val);
		return 1; /* not ours: as if absent */
	}
	for (int i = 0; i < n; i++)
		v[i] = bd_rd_be64((const uint8_t *)val + 8 * i);
	free(val);
	return 0;
}

size_t bd_carry_pending_key(uint8_t *buf, uint16_t part, int64_t ts_ms, uint64_t hash)
{
	bd_be16(buf, part);
	bd_be64(buf + 2, (uint64_t)(ts_ms > 0 ? ts_ms : 0));
	bd_be64(buf + 10, hash);
	return BD_CARRY_PENDING_KEY;
}

uint64_t bd_carry_sample_seq(bd_store_t *st, uint16_t part)
{
	uint8_t key[6];
	uint64_t v = 0;
	return get_u64s(st, key, part_key(key, "sseq", part), &v, 1) == 0 ? v : 0;
}

static int first_key(const char *key, size_t klen, const char *val, size_t vlen, void *opaque)
{
	(void)val;
	(void)vlen;
	if (klen >= 2)
		*(int *)opaque = (uint8_t)key[0] << 8 | (uint8_t)key[1];
	return 1; /* one is enough */
}

int bd_carry_pending_parts(bd_store_t *st, uint8_t *has)
{
	/* one seek per partition that has any: the first key at or after the
	 * next partition number */
	for (int p = 0; p < 65536;) {
		uint8_t from[2];
		int q = -1, err;
		bd_be16(from, (uint16_t)p);
		if ((err = bd_store_scan_from(st, BD_CF_PENDING, "", 0, from, 2, first_key, &q)))
			return err;
		if (q < 0)
			break;
		has[q] = 1;
		p = q + 1;
	}
	return 0;
}

void bd_carry_put_rebuilt(bd_store_batch_t *b, uint16_t part, int64_t version, uint64_t seq)
{
	uint8_t key[6], val[16];
	bd_be64(val, (uint64_t)version);
	bd_be64(val + 8, seq);
	bd_store_batch_put(b, BD_CF_META, key, part_key(key, "rbld", part), val, sizeof(val));
}

void bd_carry_put_carried(bd_store_batch_t *b, uint16_t part, int64_t version)
{
	uint8_t key[6], val[8];
	bd_be64(val, (uint64_t)version);
	bd_store_batch_put(b, BD_CF_META, key, part_key(key, "carr", part), val, sizeof(val));
}

int64_t bd_carry_get_carried(bd_store_t *st, uint16_t part)
{
	uint8_t key[6];
	uint64_t v;
	return get_u64s(st, key, part_key(key, "carr", part), &v, 1) == 0 ? (int64_t)v : -1;
}

int64_t bd_carry_marker_version(const void *key, size_t klen, const void *val, size_t vlen)
{
	if (klen != 6 || memcmp(key, "carr", 4) != 0 || vlen != 8)
		return -1;
	return (int64_t)bd_rd_be64(val);
}

void bd_carry_put_target(bd_store_batch_t *b, int64_t version)
{
	uint8_t val[8];
	bd_be64(val, (uint64_t)version);
	bd_store_batch_put(b, BD_CF_META, "ctgt", 4, val, sizeof(val));
}

int64_t bd_carry_get_target(bd_store_t *st)
{
	uint64_t v;
	return get_u64s(st, (const uint8_t *)"ctgt", 4, &v, 1) == 0 ? (int64_t)v : -1;
}

int64_t bd_carry_next_version(bd_store_t *st, bd_store_batch_t *b, int64_t current)
{
	uint64_t last = 0;
	uint8_t val[8];
	if (get_u64s(st, (const uint8_t *)"mver", 4, &last, 1) != 0)
		last = 0;
	int64_t next = ((int64_t)last > current ? (int64_t)last : current) + 1;
	bd_be64(val, (uint64_t)next);
	bd_store_batch_put(b, BD_CF_META, "mver", 4, val, sizeof(val));
	return next;
}

void bd_carry_reserve_version(bd_store_t *st, bd_store_batch_t *b, int64_t version)
{
	uint64_t last = 0;
	uint8_t val[8];
	if (get_u64s(st, (const uint8_t *)"mver", 4, &last, 1) != 0)
		last = 0;
	if (version <= (int64_t)last)
		return;
	bd_be64(val, (uint64_t)version);
	bd_store_batch_put(b, BD_CF_META, "mver", 4, val, sizeof(val));
}

int bd_carry_add_sample(bd_stats_delta_t *d, uint16_t part, const bd_cluster_model_t *m,
			const bd_sample_t *s)
{
	uint8_t key[BD_STATS_KEY_MAX];
	double x[BD_STAT__COUNT];
	if (s->dim != m->dim || !(s->propensity > 0))
		return 0;
	bd_stats_outcome_vector(x, s->value, s->cost, s->orders, s->propensity, s->explored);
	x[BD_STAT_DECISIONS] = 1;
	x[BD_STAT_DW] = 1.0 / s->propensity;
	size_t klen = bd_stats_cell_key(key, part, s->campaign_id, m->version,
					bd_cluster_assign(m, s->features), s->treatment,
					s->historical ? bd_stats_log_hour(s->ts_ms)
						      : bd_stats_hour(s->ts_ms));
	int err = bd_stats_delta_add(d, key, klen, x, BD_STAT__COUNT);
	return err ? err : 1;
}

/* ---- a worker's step ---------------------------------------------------------- */

typedef struct scan_s {
	bd_store_t *st;
	uint16_t part;
	const bd_cluster_model_t *m;
	bd_stats_delta_t *d;
	bd_store_batch_t *b;
	int64_t expire_before_ms;
	bd_carry_counts_t *n;
	float f[512];
	int err;
} scan_t;

static int carry_sample(const char *key, size_t klen, const char *val, size_t vlen,
			void *opaque)
{
	scan_t *sc = opaque;
	bd_sample_t s;

	if (klen != 10 || bd_sample_unpack(&s, (const uint8_t *)val, vlen, sc->f, 512) != 0)
		return 0;
	int r = bd_carry_add_sample(sc->d, sc->part, sc->m, &s);
	if (r < 0) {
		sc->err = r;
		return -1;
	}
	sc->n->samples += r;
	return 0;
}

static int carry_pending(const char *key, size_t klen, const char *val, size_t vlen,
			 void *opaque)
{
	scan_t *sc = opaque;
	uint8_t dkey[10];
	char *rec = NULL;
	size_t rlen = 0;
	bd_decision_rec_t r;
	double x[BD_STAT__COUNT];
	(void)val;
	(void)vlen;

	if (klen != BD_CARRY_PENDING_KEY)
		return 0;
	if ((int64_t)bd_rd_be64((const uint8_t *)key + 2) < sc->expire_before_ms) {
		bd_store_batch_delete(sc->b, BD_CF_PENDING, key, klen);
		sc->n->expired++;
		return 0;
	}
	memcpy(dkey, key, 2);
	memcpy(dkey + 2, key + 10, 8);
	int err = bd_store_get(sc->st, BD_CF_DECISIONS, dkey, sizeof(dkey), &rec, &rlen);
	if (err < 0) {
		sc->err = err;
		return -1;
	}
	if (err == 1) /* the record is gone: nothing to count */
		return 0;
	err = bd_decision_rec_unpack(&r, (const uint8_t *)rec, rlen);
	free(rec);
	if (err || r.joined || r.dim != sc->m->dim || !(r.propensity > 0))
		return 0;
	uint8_t ckey[BD_STATS_KEY_MAX];
	bd_stats_exposure_vector(x, r.propensity);
	size_t cklen = bd_stats_cell_key(ckey, sc->part, r.campaign_id, sc->m->version,
					 bd_cluster_assign(sc->m, r.features), r.treatment,
					 bd_stats_hour(r.ts_ms));
	if ((sc->err = bd_stats_delta_add(sc->d, ckey, cklen, x, BD_STAT__COUNT)))
		return -1;
	sc->n->pending++;
	return 0;
}

int bd_carry_partition(bd_store_t *st, uint16_t part, const bd_cluster_model_t *m,
		       int64_t expire_before_ms, bd_stats_delta_t *d, bd_store_batch_t *b,
		       bd_carry_counts_t *n)
{
	scan_t *sc = calloc(1, sizeof(*sc)); /* 2 KB of features: not on the stack */
	uint8_t key[6], prefix[2], from[10];
	uint64_t rb[2];
	int err;

	memset(n, 0, sizeof(*n));
	if (!sc)
		return -ENOMEM;
	*sc = (scan_t){.st = st, .part = part, .m = m, .d = d, .b = b,
		       .expire_before_ms = expire_before_ms, .n = n};
	/* the samples the trainer's rebuild of this version did not see */
	err = get_u64s(st, key, part_key(key, "rbld", part), rb, 2);
	if (err < 0)
		goto out;
	n->from_seq = err == 0 && (int64_t)rb[0] == m->version ? rb[1] : 0;
	bd_be16(prefix, part);
	if ((err = bd_store_scan_from(st, BD_CF_SAMPLES, prefix, 2, from,
				      bd_sample_key(from, part, n->from_seq), carry_sample, sc)) ||
	    (err = sc->err))
		goto out;
	if ((err = bd_store_scan(st, BD_CF_PENDING, prefix, 2, carry_pending, sc)) ||
	    (err = sc->err))
		goto out;
	bd_carry_put_carried(b, part, m->version);
out:
	free(sc);
	return err;
}
