#include "budgetd/serve/broker.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/log.h"

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

int bd_broker_start(const bd_config_t *cfg, bd_broker_t **out, char *errstr,
		    size_t errstr_size)
{
	bd_broker_t *b = calloc(1, sizeof(*b));
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char num[16];

	if (!b || !conf) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
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
	bd_info("embedded broker: %d brokers at %s (mock cluster: keeps ~5 MiB "
		"per partition)",
		cfg->broker_count, rd_kafka_mock_cluster_bootstraps(b->mc));
	*out = b;
	return 0;
fail:
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
