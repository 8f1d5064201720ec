/*
 * The changelog applier (clog_apply.h): one partition at a time, from an
 * offset to the end of its log, each batch's parts gathered in one RocksDB
 * batch and written when the last part has come; and budgetd
 * --apply-changelog DIR on it.
 */
#include "budgetd/daemon/clog_apply.h"

#include <errno.h>
#include <stdbool.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "budgetd/serve/kafka.h"
#include "budgetd/policy/carry.h"
#include "budgetd/state/changelog.h"
#include "budgetd/state/stats.h"
#include "budgetd/state/store.h"
#include "budgetd/wire/messages.h"
#include "budgetd/wire/registry.h"

#define TIMEOUT_MS 10000

struct bd_clog_applier_s {
	const bd_config_t *cfg;
	rd_kafka_t *rk;
	bd_codec_t *codec; /* borrowed */
	bd_store_t *st;	   /* borrowed */
	bd_store_batch_t *b;
	/* the batch being gathered: its partition's next part (0: none open) */
	int64_t seq;
	int32_t next_part;
	/* the partition being read: the last batch the store holds of it, and
	 * the epoch below which a record is a zombie's */
	bd_clog_stamp_t held;
	int64_t fence;
	bd_clog_tally_t t;
};

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
	    bd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, errstr_size) ||
	    /* reading a log to its end: a fetch that waits for more data only
	     * delays the end (the embedded broker answers it when the wait is
	     * over) */
	    bd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", errstr, errstr_size)) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size);
	if (!rk)
		rd_kafka_conf_destroy(conf);
	return rk;
}

int bd_clog_applier_partitions(bd_clog_applier_t *a, char *errstr, size_t errstr_size)
{
	const char *topic = a->cfg->topic[BD_MSG_CHANGELOG];
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

/* The highest model version among the statistics cells of @p r and the
 * versions its partitions were carried to. */
static void note_versions(bd_clog_applier_t *a, const bd_changelog_t *r)
{
	bd_stats_key_t k;
	for (size_t i = 0; i < r->n_ops; i++) {
		const bd_clog_op_t *o = &r->ops[i];
		int64_t v = -1;
		if (o->cf == BD_CLOG_CF_STATS && bd_stats_key_parse(o->key, o->klen, &k) == 0 &&
		    k.kind == BD_STATS_CELL)
			v = k.model_version;
		else if (o->cf == BD_CLOG_CF_META && o->op == BD_CLOG_PUT)
			v = bd_carry_marker_version(o->key, o->klen, o->value, o->vlen);
		if (v > a->t.max_model_version)
			a->t.max_model_version = v;
	}
}

/* One record of partition @p p: a part of a batch, applied to a->b; the
 * batch written at its last part.  @returns 0 or an error. */
static int apply_record(bd_clog_applier_t *a, int32_t p, const bd_changelog_t *r,
			int64_t offset, char *errstr, size_t errstr_size)
{
	const char *topic = a->cfg->topic[BD_MSG_CHANGELOG];
	char why[512];
	int err;

	if (r->part == 0 || r->part != a->next_part || r->batch_seq != a->seq) {
		if (a->next_part)
			a->t.incomplete++; /* a batch cut short: its parts are dropped */
		bd_store_batch_clear(a->b);
		a->next_part = 0;
		if (r->part != 0)
			return 0; /* the rest of a batch whose start is gone */
	}
	a->seq = r->batch_seq;
	if ((err = bd_changelog_apply(a->b, r, why, sizeof(why)))) {
		snprintf(errstr, errstr_size, "%s/%d at offset %lld: %s", topic, (int)p,
			 (long long)offset, why);
		return err;
	}
	a->t.ops += (long)r->n_ops;
	for (size_t i = 0; i < r->n_ops; i++) {
		a->t.cf_ops[r->ops[i].cf]++;
		a->t.cf_bytes[r->ops[i].cf] += (long long)(r->ops[i].klen + r->ops[i].vlen);
	}
	note_versions(a, r);
	a->next_part = r->part + 1;
	if (a->next_part < r->parts)
		return 0;
	a->next_part = 0;
	a->t.batches++;
	if ((err = bd_store_batch_write(a->st, a->b, errstr, errstr_size)))
		return err;
	a->held = (bd_clog_stamp_t){r->epoch, r->batch_seq}; /* its stamp, in the store too */
	if (r->epoch > a->fence)
		a->fence = r->epoch;
	return 0;
}

/* Whether the store holds the batch of record @p r already. */
static bool held(const bd_clog_applier_t *a, const bd_changelog_t *r)
{
	return r->epoch == a->held.epoch && r->batch_seq <= a->held.seq;
}

/* Decodes message @p m of partition @p p and applies it unless the store
 * holds it already or it is a zombie's (an epoch below a->fence).  *@p gap
 * (set when the log starts past the store's position) asks the first
 * record read to be one the store holds.  @returns 0 or an error. */
static int read_record(bd_clog_applier_t *a, int32_t p, const rd_kafka_message_t *m,
		       int *gap, char *errstr, size_t errstr_size)
{
	const char *topic = a->cfg->topic[BD_MSG_CHANGELOG];
	bd_changelog_t r;
	char why[512];
	int err = bd_decode_changelog(a->codec, m->payload, m->len, &r, why, sizeof(why));
	if (err || r.partition != p || r.kind != BD_CLOG_BATCH) {
		snprintf(errstr, errstr_size, "%s/%d at offset %lld: %s", topic, (int)p,
			 (long long)m->offset,
			 err ? why : r.partition != p ? "a record of another partition"
						      : "a record kind this version does not apply");
		return err ? err : BD_EINVAL;
	}
	a->t.records++;
	a->t.bytes += (long long)m->len;
	if (m->len > a->t.largest)
		a->t.largest = m->len;
	if (*gap && !held(a, &r)) {
		snprintf(errstr, errstr_size,
			 "%s/%d now starts at offset %lld with a batch this store does not hold "
			 "(epoch %lld, batch %lld; it holds up to %lld of epoch %lld): the broker "
			 "dropped records before it, and the deltas after them cannot be applied on it",
			 topic, (int)p, (long long)m->offset, (long long)r.epoch,
			 (long long)r.batch_seq, (long long)a->held.seq, (long long)a->held.epoch);
		return BD_EINVAL;
	}
	*gap = 0;
	if (r.epoch > a->t.max_epoch)
		a->t.max_epoch = r.epoch;
	if (held(a, &r)) {
		a->t.skipped++; /* written here, or applied before: held already */
		return 0;
	}
	if (r.epoch < a->fence) {
		a->t.fenced++; /* a zombie's: a later holder decided in its place */
		return 0;
	}
	return apply_record(a, p, &r, m->offset, errstr, errstr_size);
}

int bd_clog_applier_watermarks(bd_clog_applier_t *a, int32_t p, int64_t *lo, int64_t *hi,
			       char *errstr, size_t errstr_size)
{
	const char *topic = a->cfg->topic[BD_MSG_CHANGELOG];
	rd_kafka_resp_err_t kerr = rd_kafka_query_watermark_offsets(a->rk, topic, p, lo, hi,
								    TIMEOUT_MS);
	if (!kerr)
		return 0;
	snprintf(errstr, errstr_size, "%s/%d: %s", topic, (int)p, rd_kafka_err2str(kerr));
	return BD_EKAFKA;
}

int bd_clog_applier_partition(bd_clog_applier_t *a, int32_t p, int64_t from,
			      bd_clog_stamp_t *held_, int64_t *fence, int64_t *end, char *errstr,
			      size_t errstr_size)
{
	const char *topic = a->cfg->topic[BD_MSG_CHANGELOG];
	int64_t lo = -1, hi = -1;
	int err, gap = 0;

	*end = from;
	if ((err = bd_clog_applier_watermarks(a, p, &lo, &hi, errstr, errstr_size)))
		return err;
	a->held = *held_;
	a->fence = *fence;
	if (lo > from) {
		if (a->held.epoch < 0) {
			snprintf(errstr, errstr_size,
				 "%s/%d starts at offset %lld, past %lld: the broker dropped the "
				 "records before it, and the batches after them are deltas on "
				 "state this store does not have",
				 topic, (int)p, (long long)lo, (long long)from);
			return BD_EINVAL;
		}
		gap = 1; /* the first record must be one the store holds */
		from = lo;
	}
	if (hi <= from) {
		*end = hi > *end ? hi : *end;
		return 0;
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, p)->offset = from;
	rd_kafka_assign(a->rk, l);
	rd_kafka_topic_partition_list_destroy(l);
	a->next_part = 0;
	for (int64_t next = from; next < hi && !err;) {
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
			err = read_record(a, p, m, &gap, errstr, errstr_size);
			next = m->offset + 1;
			*end = next;
		}
		rd_kafka_message_destroy(m);
	}
	if (a->next_part)
		a->t.incomplete++; /* parts stop at the log end: not applied */
	bd_store_batch_clear(a->b);
	rd_kafka_assign(a->rk, NULL);
	*held_ = a->held;
	*fence = a->fence;
	return err;
}

bd_clog_applier_t *bd_clog_applier_new(const bd_config_t *cfg, bd_codec_t *codec,
				       bd_store_t *st, char *errstr, size_t errstr_size)
{
	bd_clog_applier_t *a = calloc(1, sizeof(*a));
	if (!a || !(a->b = bd_store_batch_new(st))) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	a->cfg = cfg;
	a->codec = codec;
	a->st = st;
	a->t.max_model_version = -1;
	a->t.max_epoch = -1;
	if (!(a->rk = consumer_new(cfg, errstr, errstr_size)))
		goto fail;
	return a;
fail:
	bd_clog_applier_free(a);
	return NULL;
}

void bd_clog_applier_free(bd_clog_applier_t *a)
{
	if (!a)
		return;
	bd_store_batch_destroy(a->b);
	if (a->rk) {
		rd_kafka_consumer_close(a->rk);
		rd_kafka_destroy(a->rk);
	}
	free(a);
}

const bd_clog_tally_t *bd_clog_applier_tally(const bd_clog_applier_t *a)
{
	return &a->t;
}

/* --apply-changelog's summary of @p t over @p n partitions. */
static void print_tally(const bd_config_t *cfg, const bd_clog_tally_t *t, int n, FILE *out)
{
	fprintf(out,
		"applied %s: %d partitions, %ld records (%lld bytes, largest %zu), %ld batches, "
		"%ld operations; %ld batches cut short at the end of a log not applied; %ld records "
		"of a fenced epoch not applied\n",
		cfg->topic[BD_MSG_CHANGELOG], n, t->records, t->bytes, t->largest, t->batches,
		t->ops, t->incomplete, t->fenced);
	for (int cf = 0; cf < BD_CLOG_CF__COUNT; cf++)
		if (t->cf_ops[cf])
			fprintf(out, "  %s: %ld operations, %lld bytes of keys and values\n",
				bd_store_cf_name((bd_cf_t)bd_clog_store_cf(cf)), t->cf_ops[cf],
				t->cf_bytes[cf]);
}

/* Every partition from offset 0, each marked applied up to its end (in
 * one batch after the last).  @returns 0 or an error. */
static int apply_all(bd_clog_applier_t *a, int n, FILE *out, char *errstr, size_t errstr_size)
{
	bd_store_batch_t *mark = bd_store_batch_new(a->st);
	int err = mark ? 0 : -ENOMEM;
	for (int32_t p = 0; p < n && !err; p++) {
		bd_clog_tally_t was = a->t;
		int64_t end = 0, fence = -1;
		bd_clog_stamp_t held = {-1, -1};
		if ((err = bd_clog_applier_partition(a, p, 0, &held, &fence, &end, errstr,
						     errstr_size)))
			break;
		bd_clog_position_put(mark, (uint16_t)p, end);
		bd_clog_fence_put(mark, (uint16_t)p, fence);
		long records = a->t.records - was.records;
		fprintf(out, "partition %d: %ld records, %ld batches, %lld bytes (%.0f per record)\n",
			(int)p, records, a->t.batches - was.batches, a->t.bytes - was.bytes,
			records ? (double)(a->t.bytes - was.bytes) / (double)records : 0.0);
	}
	if (!err)
		err = bd_store_batch_write(a->st, mark, errstr, errstr_size);
	bd_store_batch_destroy(mark);
	return err;
}

int bd_clog_apply_run(const bd_config_t *cfg, const char *dir, FILE *out, char *errstr,
		      size_t errstr_size)
{
	bd_clog_applier_t *a = NULL;
	bd_registry_t *reg = NULL;
	bd_codec_t *codec = NULL;
	bd_store_t *st = NULL;
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
				&codec, errstr, errstr_size)))
		goto out;
	bd_codec_set_registry(codec, reg);
	if ((err = bd_store_open(dir, &st, errstr, errstr_size)))
		goto out;
	err = BD_EKAFKA;
	if (!(a = bd_clog_applier_new(cfg, codec, st, errstr, errstr_size)) ||
	    (n = bd_clog_applier_partitions(a, errstr, errstr_size)) < 0)
		goto out;
	if ((err = apply_all(a, n, out, errstr, errstr_size)))
		goto out;
	print_tally(cfg, &a->t, n, out);
out:
	bd_clog_applier_free(a);
	if (st)
		bd_store_close(st);
	bd_codec_free(codec);
	bd_registry_free(reg);
	return err;
}
