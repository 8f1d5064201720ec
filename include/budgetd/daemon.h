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
 *
 * @locality everything here runs on the main thread's loop.
 */
#ifndef BUDGETD_DAEMON_H
#define BUDGETD_DAEMON_H

#include "budgetd/common.h"
#include "budgetd/config.h"

typedef struct bd_daemon_s bd_daemon_t;

/** Runs the daemon until it is stopped; @returns the process exit code. */
int bd_daemon_run(bd_config_t *cfg);

/** Runs only the embedded broker until SIGTERM/SIGINT. @p addr_file, when
 *  not NULL, receives the bootstrap address. */
int bd_daemon_run_broker(bd_config_t *cfg, const char *addr_file, int faults);

#endif
