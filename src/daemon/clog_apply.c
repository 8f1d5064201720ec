/*
 * budgetd --apply-changelog DIR (clog_apply.h): one partition at a time,
 * from offset 0 to the end of its log, each batch's parts gathered in one
 * RocksDB batch and written when the last part has come.
 */
#include "budgetd/daemon/clog_apply.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "budgetd/serve/kafka.h"
#include "budgetd/state/changelog.h"
#include "budgetd/state/store.h"
#include "budgetd/wire/messages.h"
#include "budgetd/wire/registry.h"

#define TIMEOUT_MS 10000

typedef struct apply_s {
	const bd_config_t *cfg;
	rd_kafka_t *rk;
	bd_codec_t *codec;
	bd_store_t *st;
	bd_store_batch_t *b;
	/* the batch being gathered: its partition's next part (0: none open) */
	int64_t seq;
	int32_t next_part;
	long records, batches, ops, incomplete;
	long long bytes;     /* of the records read (framing included) */
	size_t largest; /* the largest record */
	long cf_ops[BD_CLOG_CF__COUNT];      /* operations by family */
	long long cf_bytes[BD_CLOG_CF__COUNT]; /* their keys' and values' bytes */
} apply_t;

static int fresh_dir(const char *dir, char *errstr, size_t errstr_size)
{
	char current[4200];
	struct stat sb;
	snprintf(current, sizeof(current), "%s/CURRENT", dir);
	if (stat(current, &sb) == 0) {
		snprintf(errstr, errstr_size,
			 "--apply-changelog builds a new store: %s already holds one", dir);
		return BD_ECONFIG;
	}
	return 0;
}

static rd_kafka_t *consumer_new(const bd_config_t *cfg, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf = bd_kafka_conf_new(cfg, cfg->bootstrap_servers, RD_KAFKA_CONSUMER, errstr, errstr_size);
	if (!conf)
		return NULL;
	/* assign only, never subscribe: no group is joined, nothing committed */
	if (bd_kafka_conf_set(conf, "group.id", "budgetd-apply-changelog", errstr, errstr_size) ||
	    bd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
	    bd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errstr_size)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

static int partition_count(apply_t *a, const char *topic, char *errstr, size_t errstr_size)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(a->rk, topic, NULL);
	rd_kafka_resp_err_t err = rd_kafka_metadata(a->rk, 0, rkt, &md, TIMEOUT_MS);
	int n = -1;
	if (!err && md->topic_cnt == 1 && !md->topics[0].err)
		n = md->topics[0].partition_cnt;
	else
		snprintf(errstr, errstr_size, "topic %s: %s", topic,
			 rd_kafka_err2str(err ? err : md->topic_cnt ? md->topics[0].err
								   : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC));
	if (md)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return n;
}

/* One record of partition @p p: a part of a batch, applied to a->b; the
 * batch written at its last part.  @returns 0 or an error. */
static int apply_record(apply_t *a, int32_t p, const rd_kafka_message_t *m, char *errstr,
			size_t errstr_size)
{
	bd_changelog_t r;
	char why[512];
	int err = bd_decode_changelog(a->codec, m->payload, m->len, &r, why, sizeof(why));
	if (err || r.partition != p || r.kind != BD_CLOG_BATCH) {
		snprintf(errstr, errstr_size, "%s/%d at offset %lld: %s",
			 a->cfg->topic[BD_MSG_CHANGELOG], (int)p, (long long)m->offset,
			 err ? why : r.partition != p ? "a record of another partition"
						      : "a record kind this version does not apply");
		return err ? err : BD_EINVAL;
	}
	a->records++;
	a->bytes += (long long)m->len;
	if (m->len > a->largest)
		a->largest = m->len;
	if (r.part == 0 || r.part != a->next_part || r.batch_seq != a->seq) {
		if (a->next_part)
			a->incomplete++; /* a batch cut short: its parts are dropped */
		bd_store_batch_clear(a->b);
		a->next_part = 0;
		if (r.part != 0)
			return 0; /* the rest of a batch whose start is gone */
	}
	a->seq = r.batch_seq;
	if ((err = bd_changelog_apply(a->b, &r, why, sizeof(why)))) {
		snprintf(errstr, errstr_size, "%s/%d at offset %lld: %s",
			 a->cfg->topic[BD_MSG_CHANGELOG], (int)p, (long long)m->offset, why);
		return err;
	}
	a->ops += (long)r.n_ops;
	for (size_t i = 0; i < r.n_ops; i++) {
		a->cf_ops[r.ops[i].cf]++;
		a->cf_bytes[r.ops[i].cf] += (long long)(r.ops[i].klen + r.ops[i].vlen);
	}
	a->next_part = r.part + 1;
	if (a->next_part < r.parts)
		return 0;
	a->next_part = 0;
	a->batches++;
	return bd_store_batch_write(a->st, a->b, errstr, errstr_size);
}

/* Partition @p p from offset 0 to its end.  @returns 0 or an error. */
static int apply_partition(apply_t *a, int32_t p, FILE *out, char *errstr,
			   size_t errstr_size)
{
	const char *topic = a->cfg->topic[BD_MSG_CHANGELOG];
	int64_t lo = -1, hi = -1;
	rd_kafka_resp_err_t kerr = rd_kafka_query_watermark_offsets(a->rk, topic, p, &lo, &hi,
								    TIMEOUT_MS);
	int err = 0;
	if (kerr) {
		snprintf(errstr, errstr_size, "%s/%d: %s", topic, (int)p, rd_kafka_err2str(kerr));
		return BD_EKAFKA;
	}
	if (lo > 0) {
		snprintf(errstr, errstr_size,
			 "%s/%d starts at offset %lld: the broker dropped the records before it, "
			 "and the batches after them are deltas on state this store does not have",
			 topic, (int)p, (long long)lo);
		return BD_EINVAL;
	}
	if (hi <= 0)
		return 0;
	long records = a->records, batches = a->batches;
	long long bytes = a->bytes;
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, p)->offset = 0;
	rd_kafka_assign(a->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	a->next_part = 0;
	for (int64_t next = 0; next < hi && !err;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(a->rk, TIMEOUT_MS);
		if (!m) {
			snprintf(errstr, errstr_size, "%s/%d: nothing read for %d ms at offset %lld "
				 "of %lld", topic, (int)p, TIMEOUT_MS, (long long)next, (long long)hi);
			err = BD_EKAFKA;
			break;
		}
		if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
			rd_kafka_message_destroy(m);
			continue;
		}
		if (m->err) {
			snprintf(errstr, errstr_size, "%s/%d: %s", topic, (int)p,
				 rd_kafka_message_errstr(m));
			err = BD_EKAFKA;
		} else {
			err = apply_record(a, p, m, errstr, errstr_size);
			next = m->offset + 1;
		}
		rd_kafka_message_destroy(m);
	}
	if (a->next_part)
		a->incomplete++; /* parts stop at the log end: not applied */
	bd_store_batch_clear(a->b);
	rd_kafka_assign(a->rk, NULL);
	if (!err)
		fprintf(out, "partition %d: %ld records, %ld batches, %lld bytes (%.0f per record)\n",
			(int)p, a->records - records, a->batches - batches, a->bytes - bytes,
			a->records > records ? (double)(a->bytes - bytes) /
						       (double)(a->records - records) : 0.0);
	return err;
}

int bd_clog_apply_run(const bd_config_t *cfg, const char *dir, FILE *out, char *errstr,
		      size_t errstr_size)
{
	apply_t a = {.cfg = cfg};
	bd_registry_t *reg = NULL;
	int err, n;

	if (!cfg->bootstrap_servers[0]) {
		snprintf(errstr, errstr_size, "--apply-changelog reads a running broker: set "
			 "bootstrap.servers");
		return BD_ECONFIG;
	}
	if ((err = fresh_dir(dir, errstr, errstr_size)))
		return err;
	/* with a registry, the records are read by whatever schema id wrote
	 * them (resolve.h), as the daemon's codecs read their inputs */
	if ((err = bd_registry_from_config(cfg, &reg, errstr, errstr_size)))
		return err;
	if ((err = bd_codec_new((const uint32_t *)cfg->schema_id, bd_config_output_format(cfg),
				&a.codec, errstr, errstr_size))) {
		bd_registry_free(reg);
		return err;
	}
	bd_codec_set_registry(a.codec, reg);
	err = BD_EKAFKA;
	if (!(a.rk = consumer_new(cfg, errstr, errstr_size)) ||
	    (n = partition_count(&a, cfg->topic[BD_MSG_CHANGELOG], errstr, errstr_size)) < 0)
		goto out;
	if ((err = bd_store_open(dir, &a.st, errstr, errstr_size)))
		goto out;
	err = -ENOMEM;
	if (!(a.b = bd_store_batch_new(a.st)))
		goto out;
	for (int32_t p = 0; p < n; p++)
		if ((err = apply_partition(&a, p, out, errstr, errstr_size)))
			goto out;
	fprintf(out,
		"applied %s: %d partitions, %ld records (%lld bytes, largest %zu), %ld batches, "
		"%ld operations; %ld batches cut short at the end of a log not applied\n",
		cfg->topic[BD_MSG_CHANGELOG], n, a.records, a.bytes, a.largest, a.batches, a.ops,
		a.incomplete);
	for (int cf = 0; cf < BD_CLOG_CF__COUNT; cf++)
		if (a.cf_ops[cf])
			fprintf(out, "  %s: %ld operations, %lld bytes of keys and values\n",
				bd_store_cf_name((bd_cf_t)bd_clog_store_cf(cf)), a.cf_ops[cf],
				a.cf_bytes[cf]);
out:
	bd_store_batch_destroy(a.b);
	if (a.st)
		bd_store_close(a.st);
	if (a.rk) {
		rd_kafka_consumer_close(a.rk);
		rd_kafka_destroy(a.rk);
	}
	bd_codec_free(a.codec);
	bd_registry_free(reg);
	return err;
}
