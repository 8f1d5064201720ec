/* The outcomes of control commands (cmdlog.h): a ring of the newest
 * BD_CMDLOG_MAX, rendered for the admin endpoint. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "budgetd/base/utf8.h"
#include "budgetd/daemon/cmdlog.h"

const char *bd_cmd_status_name(bd_cmd_status_t s)
{
	switch (s) {
	case BD_CMD_APPLIED: return "applied";
	case BD_CMD_REFUSED: return "refused";
	case BD_CMD_DUPLICATE: return "duplicate";
	case BD_CMD_RUNNING: return "running";
	}
	return "?";
}

void bd_cmdlog_add(bd_cmdlog_t *l, const char *command_id, const char *campaign_id,
		   const char *action, int64_t offset, int64_t ts_ms, int64_t applied_ms,
		   bd_cmd_status_t status, const char *detail)
{
	bd_cmdlog_entry_t *e = &l->v[l->next % BD_CMDLOG_MAX];
	e->seq = ++l->next;
	e->offset = offset;
	e->ts_ms = ts_ms;
	e->applied_ms = applied_ms;
	e->status = status;
	bd_utf8_copy(e->command_id, sizeof(e->command_id), command_id ? command_id : "");
	bd_utf8_copy(e->campaign_id, sizeof(e->campaign_id), campaign_id ? campaign_id : "");
	bd_utf8_copy(e->action, sizeof(e->action), action ? action : "");
	bd_utf8_copy(e->detail, sizeof(e->detail), detail ? detail : "");
}

/* The entries held: the first seq and how many. */
static uint64_t held(const bd_cmdlog_t *l, uint64_t *first)
{
	uint64_t n = l->next < BD_CMDLOG_MAX ? l->next : BD_CMDLOG_MAX;
	*first = l->next - n + 1;
	return n;
}

static const bd_cmdlog_entry_t *at(const bd_cmdlog_t *l, uint64_t seq)
{
	return &l->v[(seq - 1) % BD_CMDLOG_MAX];
}

/* The seq of the newest entry with @p command_id, 0 if none. */
static uint64_t find_seq(const bd_cmdlog_t *l, const char *command_id)
{
	uint64_t first, n = held(l, &first);
	for (uint64_t s = first + n; s-- > first;)
		if (strcmp(at(l, s)->command_id, command_id) == 0)
			return s;
	return 0;
}

const bd_cmdlog_entry_t *bd_cmdlog_find(const bd_cmdlog_t *l, const char *command_id)
{
	uint64_t s = find_seq(l, command_id);
	return s ? at(l, s) : NULL;
}

int bd_cmdlog_update(bd_cmdlog_t *l, const char *command_id, int64_t applied_ms,
		     bd_cmd_status_t status, const char *detail)
{
	uint64_t s = find_seq(l, command_id);
	if (!s)
		return -1;
	bd_cmdlog_entry_t *e = &l->v[(s - 1) % BD_CMDLOG_MAX];
	e->status = status;
	e->applied_ms = applied_ms;
	bd_utf8_copy(e->detail, sizeof(e->detail), detail ? detail : "");
	return 0;
}

/* @p ms as 2026-12-06T01:02:03.456Z into @p buf (at least 32 bytes). */
static const char *iso_utc(char *buf, size_t size, int64_t ms)
{
	time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return "-";
	size_t n = strlen(buf);
	snprintf(buf + n, size - n, ".%03dZ", (int)(ms - (int64_t)t * 1000));
	return buf;
}

void bd_cmdlog_json(const bd_cmdlog_t *l, bd_sbuf_t *o)
{
	char t1[40], t2[40];
	uint64_t first, n = held(l, &first);
	bd_sbuf_cat(o, "{\"commands\":[");
	for (uint64_t s = first; s < first + n; s++) {
		const bd_cmdlog_entry_t *e = at(l, s);
		/* one object per line: budgetctl finds its command by line */
		bd_sbuf_printf(o, "%s\n{\"seq\":%llu,\"command_id\":", s == first ? "" : ",",
			       (unsigned long long)e->seq);
		bd_sbuf_json_str(o, e->command_id);
		bd_sbuf_cat(o, ",\"campaign_id\":");
		bd_sbuf_json_str(o, e->campaign_id);
		bd_sbuf_printf(o, ",\"action\":\"%s\",\"status\":\"%s\",\"offset\":%lld,"
				  "\"ts_ms\":%lld,\"issued\":\"%s\",\"applied_ms\":%lld,"
				  "\"applied\":\"%s\",\"detail\":",
			       e->action, bd_cmd_status_name(e->status), (long long)e->offset,
			       (long long)e->ts_ms, iso_utc(t1, sizeof(t1), e->ts_ms),
			       (long long)e->applied_ms, iso_utc(t2, sizeof(t2), e->applied_ms));
		bd_sbuf_json_str(o, e->detail);
		bd_sbuf_cat(o, "}");
	}
	bd_sbuf_cat(o, "\n]}\n");
}

void bd_cmdlog_text(const bd_cmdlog_t *l, bd_sbuf_t *o)
{
	char t1[40];
	uint64_t first, n = held(l, &first);
	bd_sbuf_printf(o, "%-6s %-8s %-24s %-24s %-16s %-9s %-40s %s\n", "SEQ", "OFFSET",
		       "APPLIED (UTC)", "CAMPAIGN", "ACTION", "STATUS", "COMMAND", "DETAIL");
	for (uint64_t s = first; s < first + n; s++) {
		const bd_cmdlog_entry_t *e = at(l, s);
		bd_sbuf_printf(o, "%-6llu %-8lld %-24s ", (unsigned long long)e->seq,
			       (long long)e->offset, iso_utc(t1, sizeof(t1), e->applied_ms));
		bd_sbuf_cell(o, e->campaign_id, 24, 1);
		bd_sbuf_printf(o, " %-16s %-9s ", e->action, bd_cmd_status_name(e->status));
		bd_sbuf_cell(o, e->command_id, 40, 1);
		bd_sbuf_cat(o, " ");
		bd_sbuf_text(o, e->detail);
		bd_sbuf_cat(o, "\n");
	}
}
