/**
 * @file log.h
 * @brief Leveled logging to stderr (journald picks it up under systemd).
 *
 * Levels are checked at run time, never compiled away, so `-X log.level=debug`
 * works on a production binary.  Payloads and secrets are never logged at
 * info or above.
 *
 * @locality any thread (one write(2) per line).
 */
#ifndef BUDGETD_LOG_H
#define BUDGETD_LOG_H

#include <stdatomic.h>

#include "budgetd/base/common.h"

typedef enum bd_log_level {
	BD_LOG_ERROR = 0,
	BD_LOG_WARN = 1,
	BD_LOG_INFO = 2,
	BD_LOG_DEBUG = 3,
} bd_log_level_t;

/* Atomic: a SIGHUP changes it on the main loop while every thread logs. */
extern _Atomic int bd_log_level;

/** Parses "error", "warn", "info" or "debug"; @returns the level or -1. */
int bd_log_level_parse(const char *s);
void bd_log_set_ident(const char *ident);
void bd_log(bd_log_level_t level, const char *fmt, ...) BD_PRINTF(2, 3);

#define bd_error(...) bd_log(BD_LOG_ERROR, __VA_ARGS__)
#define bd_warn(...) bd_log(BD_LOG_WARN, __VA_ARGS__)
#define bd_info(...) bd_log(BD_LOG_INFO, __VA_ARGS__)
#define bd_debug(...)                                                          \
	do {                                                                   \
		if (bd_log_level >= BD_LOG_DEBUG)                              \
			bd_log(BD_LOG_DEBUG, __VA_ARGS__);                     \
	} while (0)

#endif
