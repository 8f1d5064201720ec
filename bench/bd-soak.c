/*
 * bd-soak: the measuring half of bench/soak.  A steady stream through the
 * daemon for a long time: requests at a fixed rate, each decision answered
 * by an outcome, so memtables flush, compactions run and expired decisions
 * are deleted as in production.
 *
 *   bd-soak BOOTSTRAP CAMPAIGN N RATE EVENT_MS PID STATE_DIR
 *
 * N requests at RATE per second (wall), request i dated T0 + i x EVENT_MS
 * (event time: a day of traffic in minutes; the daemon runs with
 * clock.mode=event), user u<i mod 200000>.  Each decision of CAMPAIGN is
 * answered by an outcome dated its decision + 1 s: an order for one
 * request in eight, value 20, cost the treatment's (treatment t costs t).
 * Every million decisions (SOAK_WINDOW) prints one line: the decisions per second over
 * that million, the request -> decision latency (the decision's Kafka
 * timestamp less the request's send time) p50 and p99 over it, the
 * daemon's RSS (/proc/PID/statm) and the state directory's disk use:
 *   soak: decided=M wall_s=W rate=R p50_ms=X p99_ms=Y rss_mb=S disk_mb=D wal_mb=L
 *         main_cpu=C (cores the daemon's main thread used over the window:
 *         solving, reports, expiry)
 * (L: the part of D in RocksDB's write-ahead logs, *.log).
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "budgetd/wire/messages.h"

#include "bench_clock.h"


static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr));
	if (type == RD_KAFKA_PRODUCER) {
		rd_kafka_conf_set(conf, "partitioner", "murmur2_random", errstr, sizeof(errstr));
		rd_kafka_conf_set(conf, "linger.ms", "20", errstr, sizeof(errstr));
		rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", errstr,
				  sizeof(errstr));
	} else {
		rd_kafka_conf_set(conf, "group.id", "bd-soak", errstr, sizeof(errstr));
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
		rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", errstr, sizeof(errstr));
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "bd-soak: %s\n", errstr);
		exit(1);
	}
	return rk;
}

/* Every partition of the decisions topic from its end. */
static void assign_end(rd_kafka_t *c, const char *topic)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *t = rd_kafka_topic_new(c, topic, NULL);
	if (rd_kafka_metadata(c, 0, t, &md, 10000) || md->topics[0].err) {
		fprintf(stderr, "bd-soak: no metadata for %s\n", topic);
		exit(1);
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
	for (int p = 0; p < md->topics[0].partition_cnt; p++) {
		int64_t lo, hi;
		rd_kafka_query_watermark_offsets(c, topic, p, &lo, &hi, 10000);
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
	}
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
}

static void produce(rd_kafka_t *p, const char *topic, const char *key, const bd_buf_t *b)
{
	while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
				 RD_KAFKA_V_VALUE(b->data, b->len),
				 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(p, 10);
}

static double disk_bytes, wal_bytes;
static int add_size(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	(void)f;
	if (flag != FTW_F)
		return 0;
	disk_bytes += (double)sb->st_blocks * 512;
	/* RocksDB's write-ahead logs are NNNNNN.log; its info log is LOG */
	size_t n = strlen(path);
	if (n > 4 && strcmp(path + n - 4, ".log") == 0)
		wal_bytes += (double)sb->st_blocks * 512;
	return 0;
}

static double rss_mb(int pid)
{
	char path[64];
	long pages = 0, rss = 0;
	snprintf(path, sizeof(path), "/proc/%d/statm", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : (double)rss * (double)sysconf(_SC_PAGESIZE) / 1048576.0;
}

/* CPU seconds the daemon's main thread (its tid is its pid) has used:
 * /proc/PID/task/PID/stat, utime + stime (fields 14 and 15). */
static double main_cpu_s(int pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", pid, pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command name, which may hold spaces: from the last ')' */
	char *q = strrchr(buf, ')');
	unsigned long ut = 0, st = 0;
	if (!q || sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
			 &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}


int main(int argc, char **argv)
{
	uint32_t ids[BD_MSG__COUNT] = {1, 2, 3, 4, 5, 6, 7};
	char errstr[256], rid[64], uid[32];
	bd_codec_t *codec;
	bd_buf_t b = {0};
	if (argc != 8 || bd_codec_new(ids, BD_WIRE_CONFLUENT, &codec, errstr, sizeof(errstr))) {
		fprintf(stderr, "usage: bd-soak BOOTSTRAP CAMPAIGN N RATE EVENT_MS PID STATE_DIR\n");
		return 2;
	}
	const char *bootstrap = argv[1], *campaign = argv[2], *dir = argv[7];
	const long n = atol(argv[3]);
	const double rate = atof(argv[4]), event_ms = atof(argv[5]);
	const int pid = atoi(argv[6]);
	int64_t *sent_ms = calloc((size_t)n, sizeof(int64_t));
	/* a line per WINDOW decisions (SOAK_WINDOW, default a million) */
	const char *w_env = getenv("SOAK_WINDOW");
	const long WINDOW = w_env && atol(w_env) > 0 ? atol(w_env) : 1000000;
	double *lat = calloc((size_t)WINDOW, sizeof(double));
	rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bootstrap);
	rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bootstrap);
	if (!sent_ms || !lat)
		return 1;
	assign_end(c, "budgetd.decisions");
	/* the topics looked up before the first message (librdkafka #3202) */
	const char *outs[] = {"budgetd.features", "budgetd.outcomes"};
	rd_kafka_topic_t *ot[2];
	for (int k = 0; k < 2; k++) {
		const struct rd_kafka_metadata *md;
		ot[k] = rd_kafka_topic_new(p, outs[k], NULL);
		if (ot[k] && !rd_kafka_metadata(p, 0, ot[k], &md, 10000))
			rd_kafka_metadata_destroy(md);
	}
	const int64_t t0_event = wall_ms();
	long sent = 0, decided = 0, nlat = 0;
	double t0 = now(), win_t = t0, last_seen = t0, win_cpu = main_cpu_s(pid);
	float f[12];
	while (decided < n && now() - last_seen < 120) {
		double t = now();
		while (sent < n && t0 + sent / rate <= t) {
			snprintf(rid, sizeof(rid), "s%ld", sent);
			snprintf(uid, sizeof(uid), "u%ld", sent % 200000);
			for (int j = 0; j < 12; j++)
				f[j] = (float)(((sent % 200000) * 7919 + j * 104729) % 2000) / 1000.0f - 1.0f;
			bd_feature_event_t ev = {rid, campaign, uid,
						 t0_event + (int64_t)((double)sent * event_ms), f, 12};
			if (bd_encode_feature(codec, &ev, &b))
				return 1;
			sent_ms[sent++] = wall_ms();
			produce(p, "budgetd.features", uid, &b);
		}
		rd_kafka_poll(p, 0);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 1);
		if (!m)
			continue;
		bd_decision_t d;
		long i;
		if (!m->err &&
		    !bd_decode_decision(codec, m->payload, m->len, &d, errstr, sizeof(errstr)) &&
		    !strcmp(d.campaign_id, campaign) && sscanf(d.request_id, "s%ld", &i) == 1 &&
		    i >= 0 && i < sent && sent_ms[i] > 0) {
			lat[nlat++ % WINDOW] = (double)(rd_kafka_message_timestamp(m, NULL) - sent_ms[i]);
			sent_ms[i] = 0; /* a decision published again counts once */
			int orders = (i % 8) == 0;
			bd_outcome_event_t o = {
				.decision_id = d.decision_id, .campaign_id = campaign,
				.user_id = d.user_id, .ts_ms = d.ts_ms + 1000, .orders = orders,
				.value = 20.0 * orders, .cost = orders ? (double)d.treatment : 0,
			};
			if (bd_encode_outcome(codec, &o, &b))
				return 1;
			produce(p, "budgetd.outcomes", d.user_id, &b);
			last_seen = now();
			if (++decided % WINDOW == 0 || decided == n) {
				long k = nlat < WINDOW ? nlat : WINDOW;
				qsort(lat, (size_t)k, sizeof(double), cmp_double);
				disk_bytes = wal_bytes = 0;
				nftw(dir, add_size, 32, FTW_PHYS);
				double dt = now() - win_t, cpu = main_cpu_s(pid);
				printf("soak: decided=%ld wall_s=%.0f rate=%.0f p50_ms=%.0f p99_ms=%.0f "
				       "rss_mb=%.0f disk_mb=%.0f wal_mb=%.0f main_cpu=%.2f\n", decided,
				       now() - t0,
				       dt > 0 ? (double)(decided - (decided - 1) / WINDOW * WINDOW) / dt : 0,
				       k ? lat[k / 2] : -1, k ? lat[(long)(k * 0.99)] : -1, rss_mb(pid),
				       disk_bytes / 1048576.0, wal_bytes / 1048576.0,
				       dt > 0 && cpu >= 0 && win_cpu >= 0 ? (cpu - win_cpu) / dt : -1);
				fflush(stdout);
				win_cpu = cpu;
				win_t = now();
				nlat = 0;
			}
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_flush(p, 30000);
	for (int k = 0; k < 2; k++)
		if (ot[k])
			rd_kafka_topic_destroy(ot[k]);
	if (decided < n)
		fprintf(stderr, "bd-soak: %ld of %ld decided (none for 120 s)\n", decided, n);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	rd_kafka_destroy(p);
	bd_codec_free(codec);
	bd_buf_free(&b);
	free(sent_ms);
	free(lat);
	return decided == n ? 0 : 1;
}
