/**
 * @file log.h
 * @brief Leveled logging to stderr (journald picks it up under systemd).
 *
 * Three formats (`log.format`): text ("2026-12-06T01:02:03.456Z budgetd
 * INFO: message"), json (one object per line: ts, level, ident, source
 * when not budgetd's own, msg; strings always valid UTF-8) and journal
 * ("<6>message": journald's priority prefix, its own time stamp); auto, the
 * default, is journal when stderr is the journal's stream (JOURNAL_STREAM),
 * else text.  librdkafka's lines come through here too (bd_log_from, source
 * "kafka CLIENT FACILITY").  A record is always one line.
 *
 * Levels are checked at run time, never compiled away, so `-X log.level=debug`
 * works on a production binary.  Payloads and secrets are never logged at
 * info or above.
 *
 * @locality any thread (one write(2) per line).
 */
#ifndef BUDGETD_LOG_H
#define BUDGETD_LOG_H

#include <stdarg.h>
#include <stdatomic.h>

#include "budgetd/base/common.h"

typedef enum bd_log_level {
	BD_LOG_ERROR = 0,
	BD_LOG_WARN = 1,
	BD_LOG_INFO = 2,
	BD_LOG_DEBUG = 3,
} bd_log_level_t;

typedef enum bd_log_format {
	BD_LOG_FORMAT_TEXT = 0,
	BD_LOG_FORMAT_JSON = 1,
	BD_LOG_FORMAT_JOURNAL = 2,
} bd_log_format_t;

/* Atomic: a SIGHUP changes them on the main loop while every thread logs. */
extern _Atomic int bd_log_level;
extern _Atomic int bd_log_format;

/** Parses "error", "warn", "info" or "debug"; @returns the level or -1. */
int bd_log_level_parse(const char *s);
/** Parses "text", "json", "journal" or "auto" (journal if stderr is the
 *  journal's stream, else text); @returns a bd_log_format_t or -1. */
int bd_log_format_parse(const char *s);
void bd_log_set_ident(const char *ident);
void bd_log(bd_log_level_t level, const char *fmt, ...) BD_PRINTF(2, 3);
/** A line from another component (@p source, e.g. "kafka rdkafka#producer-1
 *  CONFWARN"), in the same format and under the same level filter. */
void bd_log_from(bd_log_level_t level, const char *source, const char *fmt, ...)
	BD_PRINTF(3, 4);
void bd_log_v(bd_log_level_t level, const char *source, const char *fmt, va_list ap)
	BD_PRINTF(3, 0);

#define bd_error(...) bd_log(BD_LOG_ERROR, __VA_ARGS__)
#define bd_warn(...) bd_log(BD_LOG_WARN, __VA_ARGS__)
#define bd_info(...) bd_log(BD_LOG_INFO, __VA_ARGS__)
#define bd_debug(...)                                                          \
	do {                                                                   \
		if (bd_log_level >= BD_LOG_DEBUG)                              \
			bd_log(BD_LOG_DEBUG, __VA_ARGS__);                     \
	} while (0)

#endif
