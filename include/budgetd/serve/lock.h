/**
 * @file lock.h
 * @brief The instance lock: one budgetd instance of a consumer group
 *        decides, the others stand by.  Held through Kafka itself.
 *
 * Two instances that both decide pace the whole budget each on their share
 * of the traffic and spend it about twice.  Until several instances can
 * share the work (a later issue, which makes the holder of this lock the
 * leader that solves), exactly one may decide.
 *
 * Contract:
 * - Each instance's main thread keeps one consumer in the group
 *   "<group.id>.active", subscribed to the control topic.  The member that
 *   is assigned partition 0 of that topic holds the lock.  (The control
 *   topic has one partition; with more, only partition 0 counts.)
 * - The group uses the cooperative-sticky assignor: a member that joins
 *   never takes partition 0 from the member that has it, and a rebalance
 *   does not revoke it from its owner.  So the lock moves only when its
 *   owner leaves the group: at once when it stops cleanly (bd_lock_stop
 *   leaves the group), after session.timeout.ms when it crashed, hangs or
 *   lost its brokers.
 * - Kafka has no fencing for this: an owner cut off from its coordinator
 *   (or stopped, SIGSTOP) learns that it lost the lock when librdkafka's
 *   own session check revokes the partition as lost, about when the
 *   coordinator gives it to another member.  The workers guard that gap
 *   themselves (their own group's revocation, and the stall guard of
 *   bd_worker_suspend).
 * - The lock consumer never reads: its partition is paused when assigned.
 * - The state is reported through the callback, from the main loop and
 *   never from inside a librdkafka call: BD_LOCK_STANDBY once the group
 *   assigned this member without partition 0, BD_LOCK_HELD when it has
 *   partition 0, BD_LOCK_JOINING when it lost it (revoked, or lost with
 *   its session) and rejoins.
 *
 * @locality the main loop (it serves the consumer's callbacks).
 */
#ifndef BUDGETD_LOCK_H
#define BUDGETD_LOCK_H

#include <stdint.h>

#include <uv.h>

#include "budgetd/base/common.h"
#include "budgetd/base/config.h"
#include "budgetd/serve/health.h"

/** The lock's consumer group is the workers' group.id with this suffix. */
#define BD_LOCK_GROUP_SUFFIX ".active"

typedef enum bd_lock_state_e {
	BD_LOCK_JOINING, /**< not (yet) in the lock's group, or rejoining */
	BD_LOCK_STANDBY, /**< in the group; another member holds the lock */
	BD_LOCK_HELD,	 /**< this instance holds the lock */
} bd_lock_state_t;

typedef struct bd_lock_s bd_lock_t;

/** Called on the main loop when the state changes; @p why says how. */
typedef void bd_lock_cb(void *opaque, bd_lock_state_t state, const char *why);

/**
 * Starts the lock's consumer on @p loop (the kafka.* settings apply, e.g.
 * session.timeout.ms) and joins the group; the first join takes a few
 * seconds (the broker waits for more members).  Client errors are noted in
 * @p health.  @returns 0 or an error with errstr.
 */
int bd_lock_start(const bd_config_t *cfg, const char *bootstrap, uv_loop_t *loop,
		  bd_health_t *health, bd_lock_cb *cb, void *opaque, bd_lock_t **out,
		  char *errstr, size_t errstr_size) BD_WUR;

bd_lock_state_t bd_lock_state(const bd_lock_t *l);

/** The lock's group ("budgetd.active"). */
const char *bd_lock_group(const bd_lock_t *l);

/** Times the lock was acquired or lost since start. */
uint64_t bd_lock_changes(const bd_lock_t *l);

/**
 * Leaves the group (the lock moves to a standby at once) and closes the
 * loop handles; no callback after this.  NULL is ignored.
 */
void bd_lock_stop(bd_lock_t *l);

/** Frees the lock once the loop has run the close callbacks of
 *  bd_lock_stop (leaves the group first if it was not stopped: then its
 *  handles must not have been started on a loop that still runs).  NULL is
 *  ignored. */
void bd_lock_free(bd_lock_t *l);

/** "joining", "standby", "held". */
const char *bd_lock_state_name(bd_lock_state_t s);

#endif
