#include "budgetd/state/stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/hash.h"

void bd_stats_outcome_vector(double x[BD_STAT__COUNT], double value, double cost,
			     double orders, double propensity, int explored)
{
	double ip = 1.0 / propensity;
	memset(x, 0, sizeof(double) * BD_STAT__COUNT);
	x[BD_STAT_OUTCOMES] = 1;
	x[BD_STAT_W] = ip;
	x[BD_STAT_W2] = ip * ip;
	x[BD_STAT_VALUE] = value;
	x[BD_STAT_VALUE2] = value * value;
	x[BD_STAT_COST] = cost;
	x[BD_STAT_COST2] = cost * cost;
	x[BD_STAT_ORDERS] = orders;
	x[BD_STAT_CONV] = orders > 0;
	x[BD_STAT_ORDERS2] = orders * orders;
	x[BD_STAT_WVALUE] = value * ip;
	x[BD_STAT_WCOST] = cost * ip;
	x[BD_STAT_WORDERS] = orders * ip;
	if (explored) {
		x[BD_STAT_XN] = 1;
		x[BD_STAT_XVALUE] = value;
		x[BD_STAT_XCOST] = cost;
		x[BD_STAT_XORDERS] = orders;
	}
}

void bd_stats_exposure_vector(double x[BD_STAT__COUNT], double propensity)
{
	memset(x, 0, sizeof(double) * BD_STAT__COUNT);
	x[BD_STAT_DECISIONS] = 1;
	x[BD_STAT_DW] = 1.0 / propensity;
}

static size_t key_head(uint8_t *buf, char kind, uint16_t partition,
		       const char *campaign)
{
	size_t n = strnlen(campaign, 127);
	bd_be16(buf, partition);
	buf[2] = (uint8_t)kind;
	memcpy(buf + 3, campaign, n);
	buf[3 + n] = '\0';
	return 4 + n;
}

size_t bd_stats_cell_key(uint8_t *buf, uint16_t partition, const char *campaign,
			 int64_t model_version, int32_t cluster, int32_t treatment,
			 int64_t hour)
{
	size_t n = key_head(buf, BD_STATS_CELL, partition, campaign);
	bd_be64(buf + n, (uint64_t)model_version);
	bd_be32(buf + n + 8, (uint32_t)cluster);
	buf[n + 12] = (uint8_t)treatment;
	bd_be64(buf + n + 13, (uint64_t)hour);
	return n + 21;
}

size_t bd_stats_delay_key(uint8_t *buf, uint16_t partition, const char *campaign)
{
	return key_head(buf, BD_STATS_DELAY, partition, campaign);
}

size_t bd_stats_day_key(uint8_t *buf, uint16_t partition, const char *campaign,
			int64_t day)
{
	size_t n = key_head(buf, BD_STATS_DAY, partition, campaign);
	bd_be64(buf + n, (uint64_t)day);
	return n + 8;
}

size_t bd_stats_experiment_key(uint8_t *buf, uint16_t partition, const char *campaign,
				int64_t day, int arm, int bucket)
{
	size_t n = key_head(buf, BD_STATS_EXPERIMENT, partition, campaign);
	bd_be64(buf + n, (uint64_t)day);
	buf[n + 8] = (uint8_t)arm;
	buf[n + 9] = (uint8_t)bucket;
	return n + 10;
}

int bd_stats_key_parse(const void *key, size_t klen, bd_stats_key_t *k)
{
	const uint8_t *p = key;
	const uint8_t *nul;
	size_t n;

	if (klen < 4)
		return BD_EDECODE;
	k->partition = (uint16_t)(p[0] << 8 | p[1]);
	k->kind = (bd_stats_key_kind_t)p[2];
	nul = memchr(p + 3, '\0', klen - 3);
	if (!nul || (n = (size_t)(nul - (p + 3))) >= sizeof(k->campaign))
		return BD_EDECODE;
	memcpy(k->campaign, p + 3, n + 1);
	p = nul + 1;
	klen -= (size_t)(p - (const uint8_t *)key);
	if (k->kind == BD_STATS_CELL && klen == 21) {
		k->model_version = (int64_t)bd_rd_be64(p);
		k->cluster = (int32_t)((uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
				       (uint32_t)p[10] << 8 | p[11]);
		k->treatment = p[12];
		k->hour = (int64_t)bd_rd_be64(p + 13);
		return 0;
	}
	if (k->kind == BD_STATS_DELAY && klen == 0)
		return 0;
	if (k->kind == BD_STATS_DAY && klen == 8) {
		k->day = (int64_t)bd_rd_be64(p);
		return 0;
	}
	if (k->kind == BD_STATS_EXPERIMENT && klen == 10) {
		k->day = (int64_t)bd_rd_be64(p);
		k->arm = p[8];
		k->bucket = p[9];
		return 0;
	}
	return BD_EDECODE;
}

/* ---- delta map: open addressing, grows at 50% load ------------------------- */

typedef struct slot_s {
	uint8_t klen; /* 0 = empty */
	uint8_t key[BD_STATS_KEY_MAX];
	double x[BD_STAT__COUNT];
	int n;
} slot_t;

struct bd_stats_delta_s {
	slot_t *slots;
	size_t cap, used;
};

bd_stats_delta_t *bd_stats_delta_new(void)
{
	bd_stats_delta_t *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->cap = 256;
	d->slots = calloc(d->cap, sizeof(slot_t));
	if (!d->slots) {
		free(d);
		return NULL;
	}
	return d;
}

void bd_stats_delta_free(bd_stats_delta_t *d)
{
	if (!d)
		return;
	free(d->slots);
	free(d);
}

static slot_t *lookup(slot_t *slots, size_t cap, const void *key, size_t klen)
{
	size_t i = bd_hash_bytes(key, klen, 0) & (cap - 1);
	for (;; i = (i + 1) & (cap - 1)) {
		slot_t *s = &slots[i];
		if (s->klen == 0 ||
		    (s->klen == klen && memcmp(s->key, key, klen) == 0))
			return s;
	}
}

static int grow(bd_stats_delta_t *d)
{
	size_t cap = d->cap * 2;
	slot_t *slots = calloc(cap, sizeof(slot_t));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < d->cap; i++)
		if (d->slots[i].klen)
			*lookup(slots, cap, d->slots[i].key, d->slots[i].klen) =
				d->slots[i];
	free(d->slots);
	d->slots = slots;
	d->cap = cap;
	return 0;
}

int bd_stats_delta_add(bd_stats_delta_t *d, const void *key, size_t klen,
		       const double *x, int n)
{
	slot_t *s;
	if (klen == 0 || klen > BD_STATS_KEY_MAX || n > BD_STAT__COUNT)
		return BD_EINVAL;
	if (2 * (d->used + 1) > d->cap) {
		int err = grow(d);
		if (err)
			return err;
	}
	s = lookup(d->slots, d->cap, key, klen);
	if (s->klen == 0) {
		s->klen = (uint8_t)klen;
		memcpy(s->key, key, klen);
		memset(s->x, 0, sizeof(s->x));
		s->n = 0;
		d->used++;
	}
	for (int i = 0; i < n; i++)
		s->x[i] += x[i];
	if (n > s->n)
		s->n = n;
	return 0;
}

void bd_stats_delta_flush(bd_stats_delta_t *d, bd_store_batch_t *b)
{
	if (d->used == 0)
		return;
	for (size_t i = 0; i < d->cap; i++) {
		slot_t *s = &d->slots[i];
		if (!s->klen)
			continue;
		bd_store_batch_add(b, BD_CF_STATS, s->key, s->klen, s->x, s->n);
		s->klen = 0;
	}
	d->used = 0;
}

int bd_stats_delta_count(const bd_stats_delta_t *d)
{
	return (int)d->used;
}
