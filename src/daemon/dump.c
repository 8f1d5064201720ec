#include "budgetd/daemon/dump.h"

#include <string.h>

#include "budgetd/policy/campaign.h"
#include "budgetd/policy/decide.h"
#include "budgetd/state/samples.h"
#include "budgetd/state/stats.h"
#include "budgetd/state/store.h"

static int dump_stats(const char *key, size_t klen, const char *val, size_t vlen,
		      void *opaque)
{
	FILE *f = opaque;
	bd_stats_key_t k;
	double x;

	if (bd_stats_key_parse(key, klen, &k) != 0) {
		fprintf(f, "unparsable-key %zu bytes\n", klen);
		return 0;
	}
	if (k.kind == BD_STATS_CELL)
		fprintf(f, "cell %u %s %lld %d %d %lld", k.partition, k.campaign,
			(long long)k.model_version, k.cluster, k.treatment, (long long)k.hour);
	else if (k.kind == BD_STATS_DELAY)
		fprintf(f, "delay %u %s", k.partition, k.campaign);
	else if (k.kind == BD_STATS_EXPERIMENT)
		fprintf(f, "experiment %u %s %lld %d %d", k.partition, k.campaign,
			(long long)k.day, k.arm, k.bucket);
	else
		fprintf(f, "day %u %s %lld", k.partition, k.campaign, (long long)k.day);
	for (size_t i = 0; i + sizeof(double) <= vlen; i += sizeof(double)) {
		memcpy(&x, val + i, sizeof(x));
		fprintf(f, " %.17g", x);
	}
	fputc('\n', f);
	return 0;
}

static int dump_offsets(const char *key, size_t klen, const char *val, size_t vlen,
			void *opaque)
{
	size_t n = strnlen(key, klen);
	if (n + 5 != klen || vlen != 8)
		return 0;
	const uint8_t *p = (const uint8_t *)key + n + 1;
	fprintf(opaque, "offset %.*s %u %lld\n", (int)n, key,
		(unsigned)(p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]),
		(long long)bd_rd_be64((const uint8_t *)val));
	return 0;
}

static int dump_campaigns(const char *key, size_t klen, const char *val,
			  size_t vlen, void *opaque)
{
	bd_campaign_t c;
	if (bd_campaign_unpack(&c, val, vlen) != 0)
		return 0;
	fprintf(opaque, "campaign %s treatments=%d budget=%.17g exploration=%g paused=%d\n",
		c.id, c.n_treatments, c.daily_budget, c.exploration, c.paused);
	return 0;
}

static int dump_samples(const char *key, size_t klen, const char *val,
			size_t vlen, void *opaque)
{
	bd_sample_t s;
	float f[512];
	if (klen != 10 || bd_sample_unpack(&s, (const uint8_t *)val, vlen, f, 512) != 0)
		return 0;
	fprintf(opaque, "sample %u %llu %s t=%d p=%.17g orders=%d value=%.17g cost=%.17g "
		"cluster=%d model=%lld explored=%d historical=%d\n",
		(unsigned)((uint8_t)key[0] << 8 | (uint8_t)key[1]),
		(unsigned long long)bd_rd_be64((const uint8_t *)key + 2), s.campaign_id,
		s.treatment, s.propensity, s.orders, s.value, s.cost, s.cluster,
		(long long)s.model_version, s.explored, s.historical);
	return 0;
}

static int dump_decisions(const char *key, size_t klen, const char *val, size_t vlen,
			  void *opaque)
{
	bd_decision_rec_t r;
	if (klen != 10 || bd_decision_rec_unpack(&r, (const uint8_t *)val, vlen) != 0) {
		fprintf(opaque, "unparsable-decision %zu bytes\n", vlen);
		return 0;
	}
	fprintf(opaque, "decision %u %016llx %s %s user=%s t=%d p=%.17g cluster=%d explored=%d "
		"joined=%d ts=%lld plan=%lld model=%lld reason=%s\n",
		(unsigned)((uint8_t)key[0] << 8 | (uint8_t)key[1]),
		(unsigned long long)bd_rd_be64((const uint8_t *)key + 2), r.campaign_id,
		r.request_id, r.user_id, r.treatment, r.propensity, r.cluster, r.explored,
		r.joined, (long long)r.ts_ms, (long long)r.plan_version,
		(long long)r.model_version, r.reason);
	return 0;
}

static int dump_outbox(const char *key, size_t klen, const char *val,
		       size_t vlen, void *opaque)
{
	if (klen == 10 && vlen > 0)
		fprintf(opaque, "outbox %u %llu kind=%d bytes=%zu\n",
			(unsigned)((uint8_t)key[0] << 8 | (uint8_t)key[1]),
			(unsigned long long)bd_rd_be64((const uint8_t *)key + 2),
			(uint8_t)val[0], vlen);
	return 0;
}

int bd_dump(const char *state_dir, const char *what, FILE *out, char *errstr,
	    size_t errstr_size)
{
	static const struct {
		const char *name;
		bd_cf_t cf;
		bd_store_scan_cb *cb;
	} kinds[] = {
		{"stats", BD_CF_STATS, dump_stats},
		{"offsets", BD_CF_OFFSETS, dump_offsets},
		{"campaigns", BD_CF_CAMPAIGNS, dump_campaigns},
		{"samples", BD_CF_SAMPLES, dump_samples},
		{"outbox", BD_CF_OUTBOX, dump_outbox},
		{"decisions", BD_CF_DECISIONS, dump_decisions},
	};
	bd_store_t *st;
	int err;

	for (size_t i = 0; i < BD_ARRAY_SIZE(kinds); i++) {
		if (strcmp(kinds[i].name, what) != 0)
			continue;
		if ((err = bd_store_open(state_dir, &st, errstr, errstr_size)))
			return err;
		err = bd_store_scan(st, kinds[i].cf, "", 0, kinds[i].cb, out);
		bd_store_close(st);
		if (err)
			snprintf(errstr, errstr_size, "scan failed: %s", bd_strerror(err));
		return err;
	}
	snprintf(errstr, errstr_size,
		 "--dump %s: expected stats, offsets, campaigns, samples, outbox or decisions", what);
	return BD_ECONFIG;
}
