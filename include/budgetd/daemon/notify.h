/**
 * @file notify.h
 * @brief Telling systemd how the daemon is doing (sd_notify protocol).
 *
 * Built with --with-systemd these send READY=1, STATUS=..., RELOADING=1,
 * STOPPING=1 and WATCHDOG=1 to $NOTIFY_SOCKET through libsystemd; without
 * it (or without $NOTIFY_SOCKET) they do nothing, so callers never check.
 *
 * The daemon sends READY=1 only once the store is open, the control topic
 * replayed, the workers started and each of them holds its first partition
 * assignment; WATCHDOG=1 only while every loop is alive
 * (bd_notify_stale_beat on the workers' heartbeats), so that a stuck worker
 * loop makes systemd restart the service.
 *
 * @locality the main loop (sd_notify is not meant to be raced; one thread
 *           talks to systemd).  bd_notify_stale_beat: any thread.
 */
#ifndef BUDGETD_NOTIFY_H
#define BUDGETD_NOTIFY_H

#include <stdint.h>

#include "budgetd/base/common.h"

/** READY=1 (start-up done, or a reload done).  @returns 0 or an error. */
int bd_notify_ready(void);
/** STATUS=... (one line, shown by `systemctl status`). */
int bd_notify_status(const char *fmt, ...) BD_PRINTF(1, 2);
/** RELOADING=1 with MONOTONIC_USEC (systemd 253+ uses it to pair a reload
 *  with its READY=1; older ones ignore it). */
int bd_notify_reloading(void);
/** STOPPING=1. */
int bd_notify_stopping(void);
/** WATCHDOG=1: every loop is alive. */
int bd_notify_watchdog(void);
/** The watchdog interval systemd asks for (WATCHDOG_USEC, when WATCHDOG_PID
 *  is unset or ours), in microseconds; 0 when disabled or not built in. */
uint64_t bd_notify_watchdog_usec(void);

/**
 * The staleness check behind WATCHDOG=1: @returns the index of the first
 * of @p n heartbeats (uv_hrtime() nanoseconds) older than @p max_age_ns at
 * @p now_ns, or -1 when all are recent.  A heartbeat in the future (another
 * thread stamped after @p now_ns was read) is recent.
 */
int bd_notify_stale_beat(const uint64_t *beat_ns, int n, uint64_t now_ns,
			 uint64_t max_age_ns);

#endif
