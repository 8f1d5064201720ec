/* Leveled logging (log.h): one write(2) per line, as plain text, JSON lines
 * or journald's <N> priority prefix. */
#include "budgetd/base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "budgetd/base/utf8.h"

_Atomic int bd_log_level = BD_LOG_INFO;
_Atomic int bd_log_format = BD_LOG_FORMAT_TEXT;
static const char *bd_log_ident = "budgetd";

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int bd_log_level_parse(const char *s)
{
	for (size_t i = 0; i < BD_ARRAY_SIZE(level_names); i++)
		if (strcmp(s, level_names[i]) == 0)
			return (int)i;
	return -1;
}

/* Whether stderr is the journal's stream: systemd sets JOURNAL_STREAM to
 * its device and inode (systemd.exec(5)), which a redirect changes. */
static int stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	return js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
	       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int bd_log_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return BD_LOG_FORMAT_TEXT;
	if (strcmp(s, "json") == 0)
		return BD_LOG_FORMAT_JSON;
	if (strcmp(s, "journal") == 0)
		return BD_LOG_FORMAT_JOURNAL;
	if (strcmp(s, "auto") == 0)
		return stderr_is_journal() ? BD_LOG_FORMAT_JOURNAL : BD_LOG_FORMAT_TEXT;
	return -1;
}

void bd_log_set_ident(const char *ident)
{
	bd_log_ident = ident;
}

/* @p s as the inside of a JSON string at line[*n] (bytes that are not
 * UTF-8 become U+FFFD), stopping short of @p size - 8. */
static void json_put(char *line, size_t *n, size_t size, const char *s)
{
	size_t len = strlen(s), i = 0;
	while (i < len && *n + 8 < size) {
		unsigned char c = (unsigned char)s[i];
		size_t k = bd_utf8_char(s + i, len - i, NULL);
		if (k == 0) { /* not UTF-8 */
			memcpy(line + *n, "\xef\xbf\xbd", 3);
			*n += 3;
			i++;
		} else if (c == '"' || c == '\\') {
			line[(*n)++] = '\\';
			line[(*n)++] = (char)c;
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			*n += (size_t)snprintf(line + *n, size - *n, "\\u%04x", c);
			i++;
		} else {
			memcpy(line + *n, s + i, k);
			*n += k;
			i += k;
		}
	}
}

/* The line's head: "2026-...Z budgetd INFO: ", "<6>" or the JSON fields
 * before the message (up to "msg":"). */
static size_t head(char *line, size_t size, int format, bd_log_level_t level,
		   const char *source)
{
	static const char *const tags[] = {"ERROR", "WARN", "INFO", "DEBUG"};
	static const int prio[] = {3, 4, 6, 7}; /* syslog's err, warning, info, debug */
	char ts[40];
	struct timeval tv;
	struct tm tm;
	size_t n;

	if (format == BD_LOG_FORMAT_JOURNAL) /* journald stamps the time itself */
		return (size_t)snprintf(line, size, "<%d>%s%s", prio[level], source ? source : "",
					source ? ": " : "");
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03dZ", (int)(tv.tv_usec / 1000));
	if (format == BD_LOG_FORMAT_TEXT)
		return (size_t)snprintf(line, size, "%s %s %s: %s%s", ts, bd_log_ident,
					tags[level], source ? source : "", source ? ": " : "");
	n = (size_t)snprintf(line, size, "{\"ts\":\"%s\",\"level\":\"%s\",\"ident\":\"", ts,
			     level_names[level]);
	json_put(line, &n, size, bd_log_ident);
	if (source) {
		n += (size_t)snprintf(line + n, size - n, "\",\"source\":\"");
		json_put(line, &n, size, source);
	}
	n += (size_t)snprintf(line + n, size - n, "\",\"msg\":\"");
	return n;
}

void bd_log_v(bd_log_level_t level, const char *source, const char *fmt, va_list ap)
{
	char line[4096], msg[2048];
	const int format = bd_log_format;
	size_t n;

	if ((int)level > bd_log_level)
		return;
	n = head(line, sizeof(line) - 8, format, level, source);
	if (n > sizeof(line) - 8)
		n = sizeof(line) - 8;
	if (format == BD_LOG_FORMAT_JSON) {
		vsnprintf(msg, sizeof(msg), fmt, ap);
		json_put(line, &n, sizeof(line), msg);
		line[n++] = '"';
		line[n++] = '}';
	} else {
		n += (size_t)vsnprintf(line + n, sizeof(line) - 8 - n, fmt, ap);
		if (n > sizeof(line) - 8)
			n = sizeof(line) - 8;
		/* one record per line: a newline inside would start a new one */
		for (size_t i = 0; i < n; i++)
			if (line[i] == '\n')
				line[i] = ' ';
	}
	line[n++] = '\n';
	/* One write per line, so lines of different threads do not interleave. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
}

void bd_log(bd_log_level_t level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bd_log_v(level, NULL, fmt, ap);
	va_end(ap);
}

void bd_log_from(bd_log_level_t level, const char *source, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	bd_log_v(level, source, fmt, ap);
	va_end(ap);
}
