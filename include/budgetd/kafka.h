/**
 * @file kafka.h
 * @brief librdkafka clients configured from the settings, and their glue to
 *        libuv: a queue's IO event wakes a uv_poll handle, so no thread
 *        polls idly.
 */
#ifndef BUDGETD_KAFKA_H
#define BUDGETD_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <uv.h>

#include "budgetd/common.h"
#include "budgetd/config.h"

/**
 * A configuration with the `kafka.*` pass-through settings applied, then
 * bootstrap.servers = @p bootstrap.  @returns NULL with errstr set.
 */
rd_kafka_conf_t *bd_kafka_conf_new(const bd_config_t *cfg, const char *bootstrap,
				   char *errstr, size_t errstr_size);

/**
 * Sets @p key to @p val unless the operator set kafka.@p key: budgetd's
 * defaults, which the configuration may override.
 */
int bd_kafka_conf_default(rd_kafka_conf_t *conf, const bd_config_t *cfg,
			  const char *key, const char *val, char *errstr,
			  size_t errstr_size) BD_WUR;

/** Sets one property; on failure errstr names it. */
int bd_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val,
		      char *errstr, size_t errstr_size) BD_WUR;

/**
 * Wakes a libuv loop when @p q becomes non-empty.
 * @locality the loop's thread.
 */
typedef struct bd_kafka_waker_s {
	uv_poll_t poll;
	int fds[2];
	rd_kafka_queue_t *q; /* borrowed */
	void *data;
} bd_kafka_waker_t;

/** Starts watching @p q; @p cb runs on the loop whenever the queue fills. */
int bd_kafka_waker_start(bd_kafka_waker_t *w, uv_loop_t *loop,
			 rd_kafka_queue_t *q, uv_poll_cb cb) BD_WUR;
/** Consumes the wake-up bytes; call from the callback before draining. */
void bd_kafka_waker_drain(bd_kafka_waker_t *w);
/** Stops watching; the handle closes on the next loop iteration. */
void bd_kafka_waker_stop(bd_kafka_waker_t *w);

#endif
