#include "budgetd/state/samples.h"

#include <errno.h>
#include <string.h>

#include "budgetd/state/store.h"

#define SAMPLE_VERSION 1

/* Fixed header, then the campaign id with its NUL, then the features. */
#define FLAG_EXPLORED 1
#define FLAG_HISTORICAL 2

typedef struct __attribute__((packed)) sample_hdr_s {
	uint8_t version, flags;
	uint16_t dim, campaign_len;
	int32_t treatment, cluster, orders;
	int64_t ts_ms, model_version;
	double propensity, value, cost;
} sample_hdr_t;

size_t bd_sample_key(uint8_t *buf, uint16_t partition, uint64_t seq)
{
	bd_be16(buf, partition);
	bd_be64(buf + 2, seq);
	return 10;
}

int bd_sample_pack(const bd_sample_t *s, uint8_t *buf, size_t size)
{
	size_t clen = strnlen(s->campaign_id, 1024);
	size_t need = sizeof(sample_hdr_t) + clen + 1 + (size_t)s->dim * sizeof(float);
	sample_hdr_t h = {
		.version = SAMPLE_VERSION,
		.flags = (uint8_t)((s->explored ? FLAG_EXPLORED : 0) |
				   (s->historical ? FLAG_HISTORICAL : 0)),
		.dim = (uint16_t)s->dim,
		.campaign_len = (uint16_t)clen,
		.treatment = s->treatment,
		.cluster = s->cluster,
		.orders = s->orders,
		.ts_ms = s->ts_ms,
		.model_version = s->model_version,
		.propensity = s->propensity,
		.value = s->value,
		.cost = s->cost,
	};
	if (need > size)
		return -ENOSPC;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), s->campaign_id, clen);
	buf[sizeof(h) + clen] = '\0';
	memcpy(buf + sizeof(h) + clen + 1, s->features,
	       (size_t)s->dim * sizeof(float));
	return (int)need;
}

int bd_sample_unpack(bd_sample_t *s, const uint8_t *buf, size_t len,
		     float *fbuf, int fcap)
{
	sample_hdr_t h;
	if (len < sizeof(h))
		return BD_EDECODE;
	memcpy(&h, buf, sizeof(h));
	if (h.version != SAMPLE_VERSION ||
	    len != sizeof(h) + h.campaign_len + 1 + (size_t)h.dim * sizeof(float) ||
	    buf[sizeof(h) + h.campaign_len] != '\0' || h.dim > fcap)
		return BD_EDECODE;
	s->ts_ms = h.ts_ms;
	s->model_version = h.model_version;
	s->treatment = h.treatment;
	s->cluster = h.cluster;
	s->orders = h.orders;
	s->explored = (h.flags & FLAG_EXPLORED) != 0;
	s->historical = (h.flags & FLAG_HISTORICAL) != 0;
	s->propensity = h.propensity;
	s->value = h.value;
	s->cost = h.cost;
	s->campaign_id = (const char *)buf + sizeof(h);
	s->dim = h.dim;
	memcpy(fbuf, buf + sizeof(h) + h.campaign_len + 1,
	       (size_t)h.dim * sizeof(float));
	s->features = fbuf;
	return 0;
}
