#include "budgetd/broker.h"

#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/log.h"

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
