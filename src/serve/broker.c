#include "budgetd/serve/broker.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "budgetd/base/log.h"
#include "budgetd/serve/kafka.h"

/* Kafka protocol request types the fault commands may name. */
static const struct {
	const char *name;
	int16_t key;
} api_keys[] = {
	{"Produce", 0},	      {"Fetch", 1},	    {"ListOffsets", 2},	 {"Metadata", 3},
	{"OffsetCommit", 8},   {"OffsetFetch", 9},   {"FindCoordinator", 10},
	{"JoinGroup", 11},     {"Heartbeat", 12},    {"LeaveGroup", 13}, {"SyncGroup", 14},
	{"InitProducerId", 22}, {"AddPartitionsToTxn", 24}, {"EndTxn", 26},
};

struct bd_broker_s {
	rd_kafka_t *rk; /* the handle that owns the mock cluster */
	rd_kafka_mock_cluster_t *mc;
};

/* librdkafka 2.0.2's mock thread serves its op queue, then drains its
 * wake-up pipe: an op queued in between loses its wake-up and waits for the
 * thread's next poll timeout, up to 1 s.  Creating the topics (one op each,
 * each waiting for its reply) took 0 to 3 s a start that way, 0.8 s on
 * average.  A connection to a broker's listener also ends the poll, so while
 * the topics are created a thread connects (and hangs up) every 10 ms; the
 * mock broker logs those connections at debug level only. */
typedef struct waker_s {
	uv_thread_t thread;
	struct sockaddr_in addr;
	atomic_int stop;
} waker_t;

static void waker_run(void *arg)
{
	waker_t *w = arg;
	while (!atomic_load(&w->stop)) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0) {
			(void)connect(fd, (const struct sockaddr *)&w->addr, sizeof(w->addr));
			close(fd);
		}
		uv_sleep(10);
	}
}

/* Starts @p w on the first address of @p bootstraps ("HOST:PORT,...").
 * @returns 0, or negative when it could not (the creation is then slower,
 * nothing else). */
static int waker_start(waker_t *w, const char *bootstraps)
{
	char host[64];
	const char *colon = strchr(bootstraps, ':');
	if (!colon || (size_t)(colon - bootstraps) >= sizeof(host))
		return -1;
	memcpy(host, bootstraps, (size_t)(colon - bootstraps));
	host[colon - bootstraps] = '\0';
	if (uv_ip4_addr(host, atoi(colon + 1), &w->addr) != 0)
		return -1;
	atomic_init(&w->stop, 0);
	return uv_thread_create(&w->thread, waker_run, w) == 0 ? 0 : -1;
}

static void waker_stop(waker_t *w)
{
	atomic_store(&w->stop, 1);
	uv_thread_join(&w->thread);
}

int bd_broker_start(const bd_config_t *cfg, bd_broker_t **out, char *errstr,
		    size_t errstr_size)
{
	waker_t waker;
	int waking = 0;
	bd_broker_t *b = calloc(1, sizeof(*b));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char num[16];

	if (!b || !conf) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	rd_kafka_conf_set_log_cb(conf, bd_kafka_log_cb);
	/* A producer handle with no brokers of its own: it only hosts the
	 * mock cluster's threads. */
	snprintf(num, sizeof(num), "%d", cfg->broker_count);
	if (rd_kafka_conf_set(conf, "client.id", "budgetd-embedded-broker",
			      errstr, errstr_size) != RD_KAFKA_CONF_OK)
		goto fail;
	b->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size);
	if (!b->rk)
		goto fail;
	conf = NULL; /* now owned by rk */
	b->mc = rd_kafka_mock_cluster_new(b->rk, cfg->broker_count);
	if (!b->mc) {
		snprintf(errstr, errstr_size, "cannot start the mock cluster");
		goto fail;
	}
	waking = waker_start(&waker, rd_kafka_mock_cluster_bootstraps(b->mc)) == 0;
	for (int k = 0; k < BD_MSG__COUNT; k++) {
		/* The control topic has one partition so commands keep one order. */
		int parts = k == BD_MSG_CONTROL ? 1 : cfg->topic_partitions;
		rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
			b->mc, cfg->topic[k], parts,
			cfg->broker_count >= 3 ? 3 : cfg->broker_count);
		if (err) {
			snprintf(errstr, errstr_size, "cannot create topic %s: %s",
				 cfg->topic[k], rd_kafka_err2str(err));
			goto fail;
		}
	}
	if (waking)
		waker_stop(&waker);
	waking = 0;
	bd_info("embedded broker: %d brokers at %s (mock cluster: keeps ~5 MiB "
		"per partition)",
		cfg->broker_count, rd_kafka_mock_cluster_bootstraps(b->mc));
	*out = b;
	return 0;
fail:
	if (waking)
		waker_stop(&waker);
	if (conf)
		rd_kafka_conf_destroy(conf);
	bd_broker_stop(b);
	return BD_EKAFKA;
}

const char *bd_broker_bootstraps(const bd_broker_t *b)
{
	return rd_kafka_mock_cluster_bootstraps(b->mc);
}

void bd_broker_stop(bd_broker_t *b)
{
	if (!b)
		return;
	if (b->mc)
		rd_kafka_mock_cluster_destroy(b->mc);
	if (b->rk)
		rd_kafka_destroy(b->rk);
	free(b);
}

/* An error code by librdkafka's name ("NOT_LEADER_FOR_PARTITION",
 * "_TRANSPORT") or number; 0 and *ok = 0 when unknown. */
static rd_kafka_resp_err_t err_by_name(const char *s, int *ok)
{
	const struct rd_kafka_err_desc *descs;
	size_t n;
	char *end;
	long v = strtol(s, &end, 10);

	*ok = 1;
	if (*s && !*end)
		return (rd_kafka_resp_err_t)v;
	rd_kafka_get_err_descs(&descs, &n);
	for (size_t i = 0; i < n; i++)
		if (descs[i].name && strcmp(descs[i].name, s) == 0)
			return descs[i].code;
	*ok = 0;
	return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static int api_by_name(const char *s, int16_t *key)
{
	for (size_t i = 0; i < sizeof(api_keys) / sizeof(api_keys[0]); i++)
		if (strcmp(api_keys[i].name, s) == 0) {
			*key = api_keys[i].key;
			return 0;
		}
	return -1;
}

int bd_broker_fault(bd_broker_t *b, const char *cmd, char *errstr, size_t errstr_size)
{
	char verb[32] = "", a[256] = "", c[64] = "", d[64] = "";
	int n = sscanf(cmd, "%31s %255s %63s %63s", verb, a, c, d);
	int ok;

	if (n < 1) {
		snprintf(errstr, errstr_size, "empty command");
		return BD_EINVAL;
	}
	if ((strcmp(verb, "down") == 0 || strcmp(verb, "up") == 0) && n == 2) {
		int32_t id = (int32_t)atoi(a);
		rd_kafka_resp_err_t e = verb[0] == 'd' ? rd_kafka_mock_broker_set_down(b->mc, id)
						       : rd_kafka_mock_broker_set_up(b->mc, id);
		if (e)
			goto kafka_err;
		return 0;
	}
	if (strcmp(verb, "rtt") == 0 && n == 3) {
		if (rd_kafka_mock_broker_set_rtt(b->mc, (int32_t)atoi(a), atoi(c)))
			goto bad_broker;
		return 0;
	}
	if (strcmp(verb, "leader") == 0 && n == 4) {
		if (rd_kafka_mock_partition_set_leader(b->mc, a, (int32_t)atoi(c),
						       (int32_t)atoi(d)))
			goto bad_broker;
		return 0;
	}
	if (strcmp(verb, "coordinator") == 0 && n == 4) {
		if (rd_kafka_mock_coordinator_set(b->mc, a, c, (int32_t)atoi(d)))
			goto bad_broker;
		return 0;
	}
	if (strcmp(verb, "errors") == 0 && n == 4) {
		int16_t key;
		int cnt = atoi(c);
		rd_kafka_resp_err_t e = err_by_name(d, &ok);
		if (api_by_name(a, &key) != 0) {
			snprintf(errstr, errstr_size, "unknown request type '%s'", a);
			return BD_EINVAL;
		}
		if (!ok || cnt < 1 || cnt > 1000) {
			snprintf(errstr, errstr_size, "errors: want COUNT in 1..1000 and an error "
						      "name or code, got '%s %s'", c, d);
			return BD_EINVAL;
		}
		rd_kafka_resp_err_t *errs = malloc(sizeof(*errs) * (size_t)cnt);
		if (!errs) {
			snprintf(errstr, errstr_size, "out of memory");
			return -ENOMEM;
		}
		for (int i = 0; i < cnt; i++)
			errs[i] = e;
		rd_kafka_mock_push_request_errors_array(b->mc, key, (size_t)cnt, errs);
		free(errs);
		return 0;
	}
	snprintf(errstr, errstr_size,
		 "unknown command '%s' (want: down B | up B | rtt B MS | leader TOPIC P B | "
		 "coordinator group|transaction KEY B | errors REQUEST COUNT ERROR)", cmd);
	return BD_EINVAL;
bad_broker:
	snprintf(errstr, errstr_size, "'%s': no such broker, topic or partition", cmd);
	return BD_EINVAL;
kafka_err:
	snprintf(errstr, errstr_size, "'%s': failed", cmd);
	return BD_EKAFKA;
}

/* ---- --broker-only: the broker alone, with its fault reader ------------------- */

static void on_broker_signal(uv_signal_t *s, int signum)
{
	uv_signal_stop(s);
	uv_stop(s->loop);
}

/* --broker-faults: fault commands on standard input, one per line; each
 * is answered on standard output with "ok: LINE" or "error: WHY". */
typedef struct fault_reader_s {
	uv_pipe_t pipe;
	bd_broker_t *broker;
	char line[1024];
	size_t len;
	char rbuf[4096];
} fault_reader_t;

static void fault_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	fault_reader_t *fr = h->data;
	(void)hint;
	*buf = uv_buf_init(fr->rbuf, sizeof(fr->rbuf));
}

static void fault_line(fault_reader_t *fr)
{
	char errstr[512];
	fr->line[fr->len] = '\0';
	fr->len = 0;
	if (!fr->line[0])
		return;
	if (bd_broker_fault(fr->broker, fr->line, errstr, sizeof(errstr)) == 0) {
		bd_info("broker fault: %s", fr->line);
		printf("ok: %s\n", fr->line);
	} else {
		bd_warn("broker fault: %s", errstr);
		printf("error: %s\n", errstr);
	}
	fflush(stdout);
}

static void fault_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	fault_reader_t *fr = st->data;
	if (n < 0) { /* EOF or error: no more commands, keep serving */
		uv_read_stop(st);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		char ch = buf->base[i];
		if (ch == '\n')
			fault_line(fr);
		else if (fr->len + 1 < sizeof(fr->line))
			fr->line[fr->len++] = ch;
	}
}

int bd_broker_run(bd_config_t *cfg, const char *addr_file, int faults)
{
	bd_broker_t *b = NULL;
	char errstr[512];
	uv_loop_t loop;
	uv_signal_t s1, s2;
	fault_reader_t fr = {0};
	int piped = 0;

	if (bd_broker_start(cfg, &b, errstr, sizeof(errstr)) != 0) {
		bd_error("%s", errstr);
		return 1;
	}
	printf("bootstrap=%s\n", bd_broker_bootstraps(b));
	fflush(stdout);
	if (addr_file) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", addr_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%s\n", bd_broker_bootstraps(b)) < 0 ||
		    fclose(f) != 0 || rename(tmp, addr_file) != 0) {
			bd_error("cannot write %s: %s", addr_file, strerror(errno));
			bd_broker_stop(b);
			return 1;
		}
	}
	uv_loop_init(&loop);
	uv_signal_init(&loop, &s1);
	uv_signal_init(&loop, &s2);
	uv_signal_start(&s1, on_broker_signal, SIGINT);
	uv_signal_start(&s2, on_broker_signal, SIGTERM);
	if (faults) {
		int e;
		fr.broker = b;
		fr.pipe.data = &fr;
		if ((e = uv_pipe_init(&loop, &fr.pipe, 0)) == 0) {
			piped = 1;
			if ((e = uv_pipe_open(&fr.pipe, 0)) == 0)
				e = uv_read_start((uv_stream_t *)&fr.pipe, fault_alloc, fault_read);
		}
		if (e) /* keep serving without it */
			bd_error("--broker-faults: cannot read standard input: %s", uv_strerror(e));
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&s1, NULL);
	uv_close((uv_handle_t *)&s2, NULL);
	if (piped)
		uv_close((uv_handle_t *)&fr.pipe, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
	bd_broker_stop(b);
	bd_info("broker stopped");
	return 0;
}
