/**
 * @file clog_apply.h
 * @brief budgetd --apply-changelog DIR: a fresh store built from the
 *        changelog topic alone (state/changelog.h).
 *
 * Reads every partition of topic.changelog from bootstrap.servers, from
 * the start of its log to its end at the time of the call, and makes each
 * batch's operations on a new RocksDB store in DIR: one RocksDB batch per
 * changelog batch, written when its last part has come (a batch whose
 * parts stop at the log end is not applied, and is counted).
 *
 * It refuses, and says why: a DIR that already holds a store; a partition
 * whose log no longer starts at offset 0 (the broker dropped records: the
 * deltas after them cannot be applied on nothing); a record that does not
 * decode, or whose operations name another partition.  Shadow mode: this
 * is how the changelog is checked (tests/integration/it_changelog_replay.sh);
 * nothing else reads it yet.
 *
 * @locality the calling thread; a process of its own (no daemon).
 */
#ifndef BUDGETD_CLOG_APPLY_H
#define BUDGETD_CLOG_APPLY_H

#include <stdio.h>

#include "budgetd/base/common.h"
#include "budgetd/base/config.h"

/** Builds the store in @p dir; a summary line goes to @p out.
 *  @returns 0, or an error with @p errstr set. */
int bd_clog_apply_run(const bd_config_t *cfg, const char *dir, FILE *out, char *errstr,
		      size_t errstr_size) BD_WUR;

#endif
