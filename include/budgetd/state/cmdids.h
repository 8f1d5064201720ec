/**
 * @file cmdids.h
 * @brief Ids of applied control commands: a command whose id was applied
 *        before is ignored (the schema's "a command id seen before is
 *        ignored", for idempotent retries).
 *
 * The ids of the newest `control.ids.max` applied commands are kept in the
 * meta column family, staged into the same batch as the command's effect
 * and its control-topic offset: after a crash or restart the remembered ids
 * are exactly those of the commands whose effects are stored, so a replay
 * of the control topic neither applies a command twice nor ignores one it
 * never applied.  Nothing is held in memory but two counters.
 *
 * Keys (meta): "cmdi" + id -> sequence number (be64); "cmds" + sequence
 * number (be64) -> id; "cmdq" -> oldest and next sequence number (be64).
 *
 * @locality one thread (the daemon's main loop, which applies commands).
 */
#ifndef BUDGETD_CMDIDS_H
#define BUDGETD_CMDIDS_H

#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/state/store.h"

typedef struct bd_cmdids_s {
	bd_store_t *st;
	uint64_t oldest, next; /* sequence numbers remembered: [oldest, next) */
	int loaded;
} bd_cmdids_t;

/** Starts on @p st (the counters are read at first use). */
void bd_cmdids_init(bd_cmdids_t *ids, bd_store_t *st);

/**
 * Whether @p id is among the remembered ids.
 * @returns 0 if it is (its sequence number, counted from the first command
 *          ever remembered, in @p seq; may be NULL), 1 if not, BD_ESTORE.
 */
int bd_cmdids_seen(bd_cmdids_t *ids, const char *id, uint64_t *seq) BD_WUR;

/**
 * Stages @p id as applied into @p b, and forgets the oldest ids beyond
 * @p max.  Call it only for a command whose effect goes into @p b too.
 * If @p b is then not written, bd_cmdids_init() again: the counters are
 * read back from the store.
 * @returns 0 or BD_ESTORE (the counters unchanged; @p b may hold part
 *          of the change and must not be written).
 */
int bd_cmdids_remember(bd_cmdids_t *ids, bd_store_batch_t *b, const char *id,
		       int max) BD_WUR;

#endif
