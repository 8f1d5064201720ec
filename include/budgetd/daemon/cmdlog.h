/**
 * @file cmdlog.h
 * @brief What became of each control command: applied (with its effect),
 *        refused (with the reason) or ignored as a duplicate.
 *
 * A control command is fire-and-forget on Kafka; this log is how its sender
 * learns the outcome.  The daemon records every command it reads from the
 * control topic (those it cannot decode far enough to know the id are only
 * dead-lettered) and serves the newest BD_CMDLOG_MAX as /api/commands and
 * /text/commands; `budgetctl` waits there for its command ids and exits 0
 * (applied), 1 (refused) or 2 (no outcome in time).  Campaign managers read
 * a campaign's history of changes from it (`budgetctl show campaign ID`).
 *
 * In memory only: it holds the commands read since the daemon started
 * (those of a catch-up at start included).  The durable record of a command
 * is the control topic itself, and its effect the stored campaign.
 *
 * @locality one thread (the daemon's main loop).
 */
#ifndef BUDGETD_CMDLOG_H
#define BUDGETD_CMDLOG_H

#include <stdint.h>

#include "budgetd/base/sbuf.h"

#define BD_CMDLOG_MAX 512

typedef enum bd_cmd_status_e {
	BD_CMD_APPLIED,
	BD_CMD_REFUSED,   /**< invalid, or for an unknown campaign */
	BD_CMD_DUPLICATE, /**< its id was applied before: ignored */
	BD_CMD_RUNNING,   /**< accepted, its outcome still to come (RETRAIN:
			       the training run it started or joined) */
} bd_cmd_status_t;

typedef struct bd_cmdlog_entry_s {
	uint64_t seq;	      /**< 1, 2, ... in the order read */
	int64_t offset;	      /**< on the control topic */
	int64_t ts_ms;	      /**< when the sender issued it */
	int64_t applied_ms;   /**< when the daemon decided its outcome */
	bd_cmd_status_t status;
	char command_id[128], campaign_id[128], action[24];
	char detail[320];     /**< the effect, or why it was refused */
} bd_cmdlog_entry_t;

typedef struct bd_cmdlog_s {
	bd_cmdlog_entry_t v[BD_CMDLOG_MAX]; /**< a ring: entry seq at (seq-1) % MAX */
	uint64_t next;			    /**< the next seq - 1 */
} bd_cmdlog_t;

/** "applied", "refused", "duplicate", "running". */
const char *bd_cmd_status_name(bd_cmd_status_t s);

/** Records one outcome (the oldest entry drops out when full).  Strings
 *  longer than their field are cut (on a UTF-8 character boundary); NULL
 *  reads as "". */
void bd_cmdlog_add(bd_cmdlog_t *l, const char *command_id, const char *campaign_id,
		   const char *action, int64_t offset, int64_t ts_ms, int64_t applied_ms,
		   bd_cmd_status_t status, const char *detail);

/** The outcome of a RUNNING command once known: the newest entry with
 *  @p command_id gets @p status, @p detail and @p applied_ms.  @returns 0,
 *  or -1 when it has dropped out of the log. */
int bd_cmdlog_update(bd_cmdlog_t *l, const char *command_id, int64_t applied_ms,
		     bd_cmd_status_t status, const char *detail);

/** The entry with @p command_id, the newest if several; NULL if none. */
const bd_cmdlog_entry_t *bd_cmdlog_find(const bd_cmdlog_t *l, const char *command_id);

/** /api/commands: {"commands":[...]}, oldest first, one object per line. */
void bd_cmdlog_json(const bd_cmdlog_t *l, bd_sbuf_t *out);

/** /text/commands: a table, oldest first. */
void bd_cmdlog_text(const bd_cmdlog_t *l, bd_sbuf_t *out);

#endif
