/**
 * @file broker.h
 * @brief The embedded broker: librdkafka's mock cluster on 127.0.0.1.
 *
 * Used when no bootstrap.servers is configured, and by `--broker-only`.
 * It speaks the real Kafka protocol over TCP, so kcat and
 * python3-confluent-kafka work against it.  Limits (librdkafka 2.0.2): it
 * keeps about 5 MiB per partition and drops older data silently, has no
 * CreateTopics API (topics are created here), and no transaction markers.
 */
#ifndef BUDGETD_BROKER_H
#define BUDGETD_BROKER_H

#include "budgetd/base/common.h"
#include "budgetd/base/config.h"

typedef struct bd_broker_s bd_broker_t;

/** Starts the cluster and creates every topic of @p cfg. */
int bd_broker_start(const bd_config_t *cfg, bd_broker_t **out, char *errstr,
		    size_t errstr_size) BD_WUR;
/** "127.0.0.1:port,..." owned by the broker. */
const char *bd_broker_bootstraps(const bd_broker_t *b);
void bd_broker_stop(bd_broker_t *b);

/**
 * Injects a fault through the mock cluster's controls, for fault tests and
 * demos.  @p cmd is one line:
 *   down B | up B                      broker B (1-based) stops / resumes
 *   rtt B MS                           broker B answers MS ms late
 *   leader TOPIC PARTITION B           moves a partition's leader
 *   coordinator group|transaction KEY B  moves a coordinator
 *   errors REQUEST COUNT ERROR         the next COUNT requests of REQUEST
 *                                      (Produce, Fetch, JoinGroup, ...) fail
 *                                      with ERROR (librdkafka's name, e.g.
 *                                      NOT_LEADER_FOR_PARTITION, or a code)
 * @returns 0, or BD_EINVAL / BD_EKAFKA with @p errstr.
 * @locality any thread.
 */
int bd_broker_fault(bd_broker_t *b, const char *cmd, char *errstr,
		    size_t errstr_size) BD_WUR;

/**
 * `budgetd --broker-only`: runs the embedded broker alone until SIGTERM or
 * SIGINT, printing "bootstrap=ADDR" on standard output.  @p addr_file, when
 * not NULL, receives the bootstrap address (written to a temporary file,
 * then renamed).  With @p faults, fault commands (bd_broker_fault) are read
 * from standard input, one per line, each answered on standard output with
 * "ok: LINE" or "error: WHY"; at its end the broker keeps serving.
 * @returns the process exit code.  @locality its own loop on the calling
 * thread.
 */
int bd_broker_run(bd_config_t *cfg, const char *addr_file, int faults);

#endif
