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

#include "budgetd/base/common.h"
#include "budgetd/base/config.h"
#include "budgetd/serve/health.h"

/**
 * A configuration for a client of @p type (RD_KAFKA_CONSUMER or
 * RD_KAFKA_PRODUCER) with the `kafka.*` pass-through settings that concern
 * it, then bootstrap.servers = @p bootstrap.  `kafka.consumer.X` and
 * `kafka.producer.X` set X for that kind of client only (and win over
 * `kafka.X`); a plain `kafka.X` goes to the clients librdkafka's own
 * property table says X is for (C, P or both), so a consumer setting such
 * as session.timeout.ms does not make every producer warn.  The client's
 * log lines go through budgetd's logger (bd_kafka_log_cb).  @returns NULL
 * with errstr set.
 */
rd_kafka_conf_t *bd_kafka_conf_new(const bd_config_t *cfg, const char *bootstrap,
				   rd_kafka_type_t type, char *errstr, size_t errstr_size);

/** librdkafka's log callback: its syslog level mapped to budgetd's (0-3
 *  error, 4-5 warn, 6 info, 7 debug), the line logged with source "kafka
 *  CLIENT FACILITY" in budgetd's format.  @locality any thread. */
void bd_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/**
 * Sets @p key to @p val unless the operator set kafka.@p key or its
 * kafka.consumer./kafka.producer. form for @p type: budgetd's defaults,
 * which the configuration may override.
 */
int bd_kafka_conf_default(rd_kafka_conf_t *conf, const bd_config_t *cfg,
			  rd_kafka_type_t type, const char *key, const char *val,
			  char *errstr, size_t errstr_size) BD_WUR;

/** The integer setting @p key (e.g. "session.timeout.ms") of client @p rk,
 *  or @p def when it cannot be read. */
int64_t bd_kafka_conf_ms(rd_kafka_t *rk, const char *key, int64_t def);

/**
 * Looks @p topic up in @p rk's metadata, waiting up to @p timeout_ms, and
 * returns a handle that keeps the topic known to @p rk: librdkafka holds
 * the first message to a topic it has no metadata for until its next
 * refresh (librdkafka #3202: up to a second), so a client looks its output
 * topics up at start and keeps the handles (rd_kafka_topic_destroy before
 * the client).  @p partitions (may be NULL): the topic's partitions, 0
 * when the lookup failed (logged at debug).  @returns NULL only when no
 * handle could be made.  @locality any thread; blocks.
 */
rd_kafka_topic_t *bd_kafka_topic_lookup(rd_kafka_t *rk, const char *topic, int timeout_ms,
					int *partitions);

/** Sets one property; on failure errstr names it. */
int bd_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val,
		      char *errstr, size_t errstr_size) BD_WUR;

/**
 * What an error_cb does with a client error: notes it in @p health (it
 * makes the daemon degraded for a while) and logs it.  librdkafka recovers
 * from most errors by itself (reconnects, retries, new leaders); only a
 * fatal one (an idempotent producer's broken sequence) leaves the client
 * unusable.  @returns 1 for a fatal error: the caller stops, and the
 * outputs it owed are produced again from the outbox by the next start.
 * @locality the thread that serves the client's callbacks.
 */
int bd_kafka_on_error(bd_health_t *health, rd_kafka_t *rk, int err, const char *reason);

/**
 * What a stats_cb does with librdkafka's statistics (JSON): notes every
 * broker the client needs but has had no connection to for
 * BD_HEALTH_BROKER_GRACE_MS (state other than UP or INIT all along).  librdkafka reports a lost broker through error_cb only now and
 * then (identical errors are suppressed), while its statistics say at each
 * interval whether it is still gone, so this keeps the daemon degraded for
 * exactly as long as the broker is away.  @returns the brokers noted.
 * @locality the thread that serves the client's callbacks.
 */
int bd_kafka_stats_health(bd_health_t *health, rd_kafka_t *rk, const char *json);

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
