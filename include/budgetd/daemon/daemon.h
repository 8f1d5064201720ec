/**
 * @file daemon.h
 * @brief The main thread: start-up and shutdown order, control commands,
 *        solving, snapshots for the workers, signals.
 *
 * Start-up: store -> embedded broker (if no bootstrap.servers) -> campaigns,
 * plans and model from the store -> control consumer at its stored offset ->
 * workers.  Shutdown (SIGTERM/SIGINT): workers drain, write and close their
 * consumers; then the main thread writes, and the broker stops last.  A
 * second SIGTERM/SIGINT exits at once (state is consistent at every batch).
 * SIGHUP reloads the configuration (see bd_config_reload).  systemd is
 * told each step (notify.h): STATUS= lines, READY=1 once every worker holds
 * its partitions, RELOADING=1/READY=1 around a reload, STOPPING=1.
 *
 * @locality everything here runs on the main thread's loop.
 */
#ifndef BUDGETD_DAEMON_H
#define BUDGETD_DAEMON_H

#include "budgetd/base/common.h"
#include "budgetd/base/config.h"

typedef struct bd_daemon_s bd_daemon_t;

/** Runs the daemon until it is stopped; @returns the process exit code.
 *  @p src (kept by the caller until then) is what a SIGHUP reads again:
 *  the settings the table marks live are applied, the others are reported
 *  as taking effect at restart. */
int bd_daemon_run(bd_config_t *cfg, const bd_config_source_t *src);

#endif
