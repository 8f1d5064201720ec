/**
 * @file health.h
 * @brief Whether budgetd is healthy or degraded, and why.
 *
 * Parts of the daemon note problems as they see them (a broker connection
 * lost, a request failing, an output whose delivery failed); the daemon is
 * degraded while any source has noted one within the last window, and
 * healthy again once a whole window passes without one (each source may
 * have its own window: skipped input counts much longer than a broker
 * flap).  librdkafka
 * reports a lost broker again at every reconnect attempt (at most
 * reconnect.backoff.max.ms apart, 10 s by default), so a window of at least
 * that long keeps an outage from flapping.  The main loop evaluates the
 * state on a timer, logs each change, and the admin endpoint reports it.
 *
 * A condition (bd_health_set) is a problem that lasts until its source says
 * it is over, however long that takes: a campaign whose solves keep
 * failing stays degraded until one succeeds, not just for a window.
 *
 * @locality bd_health_note: any thread; the rest: the main loop.
 */
#ifndef BUDGETD_HEALTH_H
#define BUDGETD_HEALTH_H

#include <stdint.h>

#include "budgetd/base/common.h"

typedef enum bd_health_src_e {
	BD_HEALTH_KAFKA,  /**< a client lost its broker, a request failed */
	BD_HEALTH_OUTPUT, /**< an output's delivery failed (it is retried) */
	BD_HEALTH_STORE,  /**< a state write failed */
	BD_HEALTH_SOLVE,  /**< a campaign's solve failed (a condition: until
			       its solves succeed again) */
	BD_HEALTH_SPEND,  /**< an outcome's cost was refused as implausible:
			       spend does not count it */
	BD_HEALTH_INPUT,  /**< input skipped: offsets no longer on the broker */
	BD_HEALTH_INSTANCE, /**< not deciding: a standby, or inputs paused (a
				 condition) */
	BD_HEALTH__COUNT
} bd_health_src_t;

typedef struct bd_health_s bd_health_t;

/** @returns a new tracker (all healthy) or NULL; free with bd_health_free. */
bd_health_t *bd_health_new(int64_t window_ms) BD_WUR;
void bd_health_free(bd_health_t *h);

/** Changes the window (health.window.ms reloaded); the next evaluation
 *  uses it. */
void bd_health_set_window(bd_health_t *h, int64_t window_ms);

/** Sets how long a note of @p src keeps the daemon degraded (by default
 *  the window given to bd_health_new / bd_health_set_window, which does not
 *  change a source's own window once set). */
void bd_health_set_src_window(bd_health_t *h, bd_health_src_t src, int64_t window_ms);

/** Notes a problem of @p src now (reason copied, truncated to 255 bytes). */
void bd_health_note(bd_health_t *h, bd_health_src_t src, const char *fmt, ...)
	BD_PRINTF(3, 4);

/** Notes at @p now_ms, on uv_hrtime()'s clock in ms (for tests). */
void bd_health_note_at(bd_health_t *h, bd_health_src_t src, int64_t now_ms,
		       const char *reason);

/**
 * Sets (@p reason not NULL) or clears (NULL) the condition of @p src: the
 * daemon is degraded while it is set, whatever the window.  Counted
 * (bd_health_count) each time it goes from clear to set.
 */
void bd_health_set(bd_health_t *h, bd_health_src_t src, const char *reason);

/** bd_health_set at @p now_ms (for tests). */
void bd_health_set_at(bd_health_t *h, bd_health_src_t src, int64_t now_ms,
		      const char *reason);

/**
 * Evaluates at @p now_ms (uv_hrtime()'s clock in ms): @returns 1 when degraded (then @p why, when not
 * NULL, gets "source: latest reason" of the most recent problem), 0 when
 * healthy.  Also counts problems per source (bd_health_count).
 */
int bd_health_eval(bd_health_t *h, int64_t now_ms, char *why, size_t why_size);

/** A broker counts as lost once a client has seen it in some state other
 *  than UP (or INIT: never needed) for this long: connecting takes a few
 *  state changes (CONNECT, APIVERSION_QUERY, ...) that are not problems. */
#define BD_HEALTH_BROKER_GRACE_MS 3000

/**
 * Records that client @p client saw broker @p broker @p up (1) or not (0)
 * at @p now_ms (uv_hrtime()'s clock); @returns 1 when the broker has been
 * not up for BD_HEALTH_BROKER_GRACE_MS or more (the caller notes it).
 * Tracks up to 64 (client, broker) pairs; more are ignored.
 */
int bd_health_broker_seen(bd_health_t *h, const char *client, int broker, int up,
			  int64_t now_ms);

/** Problems noted from @p src since start. */
uint64_t bd_health_count(const bd_health_t *h, bd_health_src_t src);

/** "kafka", "output", "store", "solve", "spend", "input", "instance". */
const char *bd_health_src_name(bd_health_src_t src);

#endif
