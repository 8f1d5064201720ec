/*
 * bd-bench: the measuring half of bench/throughput.
 *
 *   bd-bench produce  BOOTSTRAP CAMPAIGN N        N feature events, as fast as possible
 *   bd-bench outcomes BOOTSTRAP CAMPAIGN N        an outcome for each of the first N
 *                                                 decisions of CAMPAIGN (one order, value
 *                                                 10, cost 1), as fast as possible
 *   bd-bench bare     BOOTSTRAP N                 a bare librdkafka consumer reads N
 *                                                 feature events: events/s
 *   bd-bench collect  BOOTSTRAP CAMPAIGN N        waits for N decisions; events/s from
 *                                                 the decisions' own timestamps
 *   bd-bench latency  BOOTSTRAP CAMPAIGN RATE S   RATE requests/s for S seconds; request
 *                                                 to decision latency percentiles (a warmed
 *                                                 client); CAMPAIGN relay: to the relay's
 *                                                 answer (p99_relay_ms)
 *   bd-bench rtt      BOOTSTRAP RATE S            the same through the broker alone:
 *                                                 produce -> consume round trip (on the
 *                                                 models topic, unused by the daemon here)
 *   bd-bench relay    BOOTSTRAP I OF [end]        a bare relay, the fair ceiling of a
 *                                                 consume-decide-produce service: reads
 *                                                 the features partitions p with p % OF
 *                                                 == I and produces for each a fixed
 *                                                 decision (campaign "relay", the size of
 *                                                 the daemon's) with the daemon's producer
 *                                                 settings; run OF of them (one per
 *                                                 worker), time with collect ... relay N;
 *                                                 ends 3 s after its last message; from
 *                                                 the partitions' end with "end"
 *
 * Each prints one `key=value` line.
 */
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "budgetd/wire/messages.h"

#include "bench_clock.h"


static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap, const char *group)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr));
	if (type == RD_KAFKA_PRODUCER) {
		/* the relay's producer is the daemon's (serve/worker.c) */
		if (group && !strcmp(group, "relay"))
			rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr));
		rd_kafka_conf_set(conf, "partitioner", "murmur2_random", errstr, sizeof(errstr));
		rd_kafka_conf_set(conf, "linger.ms", "1", errstr, sizeof(errstr));
		rd_kafka_conf_set(conf, "queue.buffering.max.messages", "1000000", errstr, sizeof(errstr));
	} else {
		rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr));
		rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr));
		rd_kafka_conf_set(conf, "fetch.wait.max.ms", "5", errstr, sizeof(errstr));
		if (getenv("BD_BENCH_CONF")) {
			char k[128], v[128];
			if (sscanf(getenv("BD_BENCH_CONF"), "%127[^=]=%127s", k, v) == 2)
				rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr));
		}
	}
	rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
	if (!rk) {
		fprintf(stderr, "bd-bench: %s\n", errstr);
		exit(1);
	}
	return rk;
}

/* Assigns the partitions p of @p topic with p % of == i (all: 0, 1) from
 * the beginning (or the end, @p where). */
static void assign_share(rd_kafka_t *c, const char *topic, int64_t where, int i, int of)
{
	const struct rd_kafka_metadata *md;
	rd_kafka_topic_t *t = rd_kafka_topic_new(c, topic, NULL);
	if (rd_kafka_metadata(c, 0, t, &md, 10000) || md->topics[0].err) {
		fprintf(stderr, "bd-bench: no metadata for %s\n", topic);
		exit(1);
	}
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(64);
	for (int p = 0; p < md->topics[0].partition_cnt; p++) {
		int64_t lo, hi;
		if (p % of != i)
			continue;
		rd_kafka_query_watermark_offsets(c, topic, p, &lo, &hi, 10000);
		rd_kafka_topic_partition_list_add(l, topic, p)->offset =
			where == RD_KAFKA_OFFSET_END ? hi : lo;
	}
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
}

static void assign_all(rd_kafka_t *c, const char *topic, int64_t where)
{
	assign_share(c, topic, where, 0, 1);
}

static void send_feature(rd_kafka_t *p, bd_codec_t *codec, const char *campaign,
			 const char *rid, int user, bd_buf_t *b)
{
	float f[12];
	char uid[32];
	for (int j = 0; j < 12; j++)
		f[j] = (float)((user * 7919 + j * 104729) % 2000) / 1000.0f - 1.0f;
	snprintf(uid, sizeof(uid), "u%d", user);
	bd_feature_event_t ev = {rid, campaign, uid, wall_ms(), f, 12};
	if (bd_encode_feature(codec, &ev, b))
		exit(1);
	while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("budgetd.features"),
				 RD_KAFKA_V_KEY(uid, strlen(uid)),
				 RD_KAFKA_V_VALUE(b->data, b->len),
				 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
				 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
		rd_kafka_poll(p, 10);
}

/* An outcome for each of the first @p n decisions of @p campaign. */
static void send_outcomes(const char *bootstrap, const char *campaign, int n, bd_codec_t *codec,
			  bd_buf_t *b)
{
	rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bootstrap, "bd-bench-outcomes");
	rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bootstrap, NULL);
	char errstr[512];
	int sent = 0;
	assign_all(c, "budgetd.decisions", RD_KAFKA_OFFSET_BEGINNING);
	for (double end = now() + 300; sent < n && now() < end;) {
		rd_kafka_poll(p, 0);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (!m)
			continue;
		bd_decision_t d;
		if (!m->err &&
		    !bd_decode_decision(codec, m->payload, m->len, &d, errstr, sizeof(errstr)) &&
		    !strcmp(d.campaign_id, campaign)) {
			bd_outcome_event_t o = {.decision_id = d.decision_id,
						.campaign_id = d.campaign_id,
						.user_id = d.user_id,
						.ts_ms = wall_ms(),
						.orders = 1,
						.value = 10,
						.cost = 1};
			if (bd_encode_outcome(codec, &o, b))
				exit(1);
			while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("budgetd.outcomes"),
						 RD_KAFKA_V_KEY(d.user_id, strlen(d.user_id)),
						 RD_KAFKA_V_VALUE(b->data, b->len),
						 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(p, 10);
			sent++;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_flush(p, 60000);
	printf("outcomes=%d\n", sent);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	rd_kafka_destroy(p);
}

/* The relay: each feature event in, one fixed decision out (see the top). */
static void relay(const char *bootstrap, int i, int of, int64_t from, bd_codec_t *codec,
		  bd_buf_t *b)
{
	rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bootstrap, "bd-bench-relay");
	rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bootstrap, "relay");
	bd_decision_t d = {"0123456789abcdef", "b123456", "relay", "u12345", wall_ms(), 2, 5,
			   0.925, false, 7, 1, "plan", ""};
	int n = 0;
	if (bd_encode_decision(codec, &d, b))
		exit(1);
	/* the output topic looked up before the first message (librdkafka #3202) */
	rd_kafka_topic_t *out = rd_kafka_topic_new(p, "budgetd.decisions", NULL);
	const struct rd_kafka_metadata *md;
	if (!rd_kafka_metadata(p, 0, out, &md, 10000))
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(out);
	assign_share(c, "budgetd.features", from, i, of);
	for (double idle = now() + 60; now() < idle;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		rd_kafka_poll(p, 0);
		if (!m)
			continue;
		if (!m->err) {
			while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("budgetd.decisions"),
						 RD_KAFKA_V_KEY(m->key, m->key_len),
						 RD_KAFKA_V_VALUE(b->data, b->len),
						 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
				rd_kafka_poll(p, 1);
			n++;
			idle = now() + 3;
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_flush(p, 30000);
	printf("relayed=%d\n", n);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	rd_kafka_destroy(p);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The request -> decision round trip at @p rate requests/s for @p secs s:
 * the daemon's decisions matched by request id; the relay's (campaign
 * "relay": its decision is fixed) by the request's key, the user u<i>.  The
 * client is warmed first, as a user's long-lived client is: its topics
 * looked up and one request answered before the timing starts (librdkafka
 * #3202 otherwise holds the first message up to a second). */
static void latency(const char *bootstrap, const char *campaign, double rate, double secs,
		    bd_codec_t *codec, bd_buf_t *b)
{
	const bool by_key = !strcmp(campaign, "relay");
	const char *label = by_key ? "relay" : "decision";
	int n = (int)(rate * secs), got = 0, sent = 0;
	char rid[64], errstr[256];
	if (n > 100000)
		n = 100000; /* users u0..u99999 tell the relay's answers apart */
	double *sent_at = calloc((size_t)n + 1, sizeof(double)), *lat = calloc((size_t)n + 1, sizeof(double));
	double *in_lat = calloc((size_t)n + 1, sizeof(double));
	int64_t *sent_ms = calloc((size_t)n + 1, sizeof(int64_t));
	char *seen = calloc((size_t)n + 1, 1);
	rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bootstrap, NULL);
	rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bootstrap, "bd-bench-lat");
	assign_all(c, "budgetd.decisions", RD_KAFKA_OFFSET_END);
	rd_kafka_topic_t *ft = rd_kafka_topic_new(p, "budgetd.features", NULL);
	const struct rd_kafka_metadata *md;
	if (!rd_kafka_metadata(p, 0, ft, &md, 10000))
		rd_kafka_metadata_destroy(md);
	/* warm up: one request (user n, outside the timed ones) answered */
	send_feature(p, codec, campaign, "lat-warm", n, b);
	for (double w = now() + 10; now() < w;) {
		rd_kafka_poll(p, 0);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 50);
		if (!m)
			continue;
		bd_decision_t d;
		bool warm = !m->err && !bd_decode_decision(codec, m->payload, m->len, &d, errstr,
							   sizeof(errstr)) &&
			    !strcmp(d.campaign_id, campaign);
		rd_kafka_message_destroy(m);
		if (warm)
			break;
	}
	double t0 = now(), end = t0 + secs + 30;
	while ((got < n) && now() < end) {
		double t = now();
		while (sent < n && t0 + sent / rate <= t) {
			snprintf(rid, sizeof(rid), "lat%d", sent);
			sent_at[sent] = now();
			sent_ms[sent] = wall_ms();
			send_feature(p, codec, campaign, rid, sent, b);
			sent++;
		}
		rd_kafka_poll(p, 0);
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 1);
		if (!m)
			continue;
		bd_decision_t d;
		int idx = -1;
		if (!m->err && !bd_decode_decision(codec, m->payload, m->len, &d, errstr,
						   sizeof(errstr))) {
			if (by_key && !strcmp(d.campaign_id, "relay") && m->key_len < 16) {
				char k[16];
				memcpy(k, m->key, m->key_len);
				k[m->key_len] = '\0';
				if (sscanf(k, "u%d", &idx) != 1)
					idx = -1;
			} else if (!by_key && sscanf(d.request_id, "lat%d", &idx) != 1) {
				idx = -1;
			}
		}
		if (idx >= 0 && idx < sent && !seen[idx]) {
			seen[idx] = 1;
			/* the decision's CreateTime splits the path in two:
			 * request -> decided, and decided -> received */
			in_lat[got] = (double)(rd_kafka_message_timestamp(m, NULL) - sent_ms[idx]);
			lat[got++] = (now() - sent_at[idx]) * 1000;
		}
		rd_kafka_message_destroy(m);
	}
	qsort(lat, (size_t)got, sizeof(double), cmp_double);
	qsort(in_lat, (size_t)got, sizeof(double), cmp_double);
	fprintf(stderr, "request->%s produced: p50 %.0f p90 %.0f p99 %.0f ms\n", label,
		got ? in_lat[got / 2] : -1, got ? in_lat[(int)(got * 0.9)] : -1,
		got ? in_lat[(int)(got * 0.99)] : -1);
	printf("%s_latency_n=%d p50_%s_ms=%.2f p90_%s_ms=%.2f p99_%s_ms=%.2f max_%s_ms=%.2f\n",
	       label, got, label, got ? lat[got / 2] : -1, label, got ? lat[(int)(got * 0.9)] : -1,
	       label, got ? lat[(int)(got * 0.99)] : -1, label, got ? lat[got - 1] : -1);
	if (getenv("BD_BENCH_TRACE"))
		for (int i = 0; i < got; i += got / 50 + 1)
			fprintf(stderr, "%d %.2f\n", i, lat[i]);
	rd_kafka_topic_destroy(ft);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	rd_kafka_flush(p, 5000);
	rd_kafka_destroy(p);
	free(sent_at);
	free(sent_ms);
	free(in_lat);
	free(lat);
	free(seen);
}

int main(int argc, char **argv)
{
	uint32_t ids[BD_MSG__COUNT] = {1, 2, 3, 4, 5, 6, 7};
	bd_codec_t *codec;
	char errstr[256], rid[64];
	bd_buf_t b = {0};

	if (argc < 4 || bd_codec_new(ids, BD_WIRE_CONFLUENT, &codec, errstr, sizeof(errstr))) {
		fprintf(stderr, "usage: see the comment at the top of bench/bd-bench.c\n");
		return 2;
	}
	const char *bootstrap = argv[2];
	if (!strcmp(argv[1], "produce") && argc == 5) {
		int n = atoi(argv[4]);
		rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bootstrap, NULL);
		for (int i = 0; i < n; i++) {
			snprintf(rid, sizeof(rid), "b%d", i);
			send_feature(p, codec, argv[3], rid, i % 100000, &b);
		}
		rd_kafka_flush(p, 60000);
		printf("produced=%d\n", n);
		rd_kafka_destroy(p);
	} else if (!strcmp(argv[1], "outcomes") && argc == 5) {
		send_outcomes(bootstrap, argv[3], atoi(argv[4]), codec, &b);
	} else if (!strcmp(argv[1], "bare") && argc == 4) {
		int n = atoi(argv[3]), got = 0;
		rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bootstrap, "bd-bench-bare");
		assign_all(c, "budgetd.features", RD_KAFKA_OFFSET_BEGINNING);
		double t0 = 0, end = now() + 120;
		while (got < n && now() < end) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
			if (!m)
				continue;
			if (!m->err && got++ == 0)
				t0 = now();
			rd_kafka_message_destroy(m);
		}
		double dt = now() - t0;
		printf("bare_eps=%.0f bare_n=%d\n", got > 1 ? (got - 1) / dt : 0, got);
		rd_kafka_consumer_close(c);
		rd_kafka_destroy(c);
	} else if (!strcmp(argv[1], "collect") && argc == 5) {
		int n = atoi(argv[4]), got = 0;
		int64_t first = INT64_MAX, last = 0;
		rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bootstrap, "bd-bench-collect");
		assign_all(c, "budgetd.decisions", RD_KAFKA_OFFSET_BEGINNING);
		double end = now() + 300;
		while (got < n && now() < end) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
			if (!m)
				continue;
			bd_decision_t d;
			if (!m->err && !bd_decode_decision(codec, m->payload, m->len, &d, errstr,
							   sizeof(errstr)) &&
			    !strcmp(d.campaign_id, argv[3])) {
				int64_t ts = rd_kafka_message_timestamp(m, NULL);
				first = ts < first ? ts : first;
				last = ts > last ? ts : last;
				got++;
			}
			rd_kafka_message_destroy(m);
		}
		double dt = (double)(last - first) / 1000.0;
		/* the relay's decisions are keyed relay_ */
		const char *who = strcmp(argv[3], "relay") ? "daemon" : "relay";
		printf("%s_eps=%.0f %s_n=%d\n", who, got > 1 && dt > 0 ? (got - 1) / dt : 0, who, got);
		rd_kafka_consumer_close(c);
		rd_kafka_destroy(c);
	} else if (!strcmp(argv[1], "latency") && argc == 6) {
		latency(bootstrap, argv[3], atof(argv[4]), atof(argv[5]), codec, &b);
	} else if (!strcmp(argv[1], "rtt") && argc == 5) {
		double rate = atof(argv[3]), secs = atof(argv[4]);
		int n = (int)(rate * secs), got = 0, sent = 0;
		double *sent_at = calloc((size_t)n, sizeof(double)), *lat = calloc((size_t)n, sizeof(double));
		rd_kafka_t *p = client(RD_KAFKA_PRODUCER, bootstrap, NULL);
		rd_kafka_t *c = client(RD_KAFKA_CONSUMER, bootstrap, "bd-bench-rtt");
		assign_all(c, "budgetd.models", RD_KAFKA_OFFSET_END);
		/* warmed as latency's client is: one message there and back */
		while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("budgetd.models"),
					 RD_KAFKA_V_VALUE("warm", 4),
					 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
					 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(p, 1);
		for (double w = now() + 10; now() < w;) {
			rd_kafka_poll(p, 0);
			rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 50);
			bool warm = m && !m->err && m->len == 4 && !memcmp(m->payload, "warm", 4);
			if (m)
				rd_kafka_message_destroy(m);
			if (warm)
				break;
		}
		double t0 = now(), end = t0 + secs + 30;
		while (got < n && now() < end) {
			while (sent < n && t0 + sent / rate <= now()) {
				snprintf(rid, sizeof(rid), "%d", sent);
				sent_at[sent] = now();
				while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC("budgetd.models"),
							 RD_KAFKA_V_KEY(rid, strlen(rid)),
							 RD_KAFKA_V_VALUE(rid, strlen(rid)),
							 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
							 RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
					rd_kafka_poll(p, 1);
				sent++;
			}
			rd_kafka_poll(p, 0);
			rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 1);
			if (!m)
				continue;
			int idx;
			char num[32];
			snprintf(num, sizeof(num), "%.*s", (int)(m->len < 31 ? m->len : 31),
				 (const char *)m->payload);
			if (!m->err && sscanf(num, "%d", &idx) == 1 && idx >= 0 && idx < sent)
				lat[got++] = (now() - sent_at[idx]) * 1000;
			rd_kafka_message_destroy(m);
		}
		qsort(lat, (size_t)got, sizeof(double), cmp_double);
		printf("rtt_n=%d p50_rtt_ms=%.2f p99_rtt_ms=%.2f\n", got,
		       got ? lat[got / 2] : -1, got ? lat[(int)(got * 0.99)] : -1);
		rd_kafka_consumer_close(c);
		rd_kafka_destroy(c);
		rd_kafka_flush(p, 5000);
		rd_kafka_destroy(p);
		free(sent_at);
		free(lat);
	} else if (!strcmp(argv[1], "relay") && (argc == 5 || argc == 6) && atoi(argv[4]) > 0) {
		relay(bootstrap, atoi(argv[3]), atoi(argv[4]),
		      argc == 6 && !strcmp(argv[5], "end") ? RD_KAFKA_OFFSET_END
							 : RD_KAFKA_OFFSET_BEGINNING, codec, &b);
	} else {
		fprintf(stderr, "bd-bench: unknown mode or arguments\n");
		return 2;
	}
	bd_buf_free(&b);
	bd_codec_free(codec);
	return 0;
}
