/**
 * @file dump.h
 * @brief Offline inspection of a state directory (budgetd --dump WHAT).
 *
 * Opens the RocksDB state of a stopped daemon and prints it as text, one
 * record per line, for operators and for the tests that compare the state
 * of two runs.
 */
#ifndef BUDGETD_DUMP_H
#define BUDGETD_DUMP_H

#include <stdio.h>

#include "budgetd/base/common.h"

/**
 * @param what "stats", "offsets", "campaigns", "samples", "outbox" or
 *             "decisions" (one line per stored decision record).
 * @returns 0, or an error with errstr set.
 */
int bd_dump(const char *state_dir, const char *what, FILE *out, char *errstr,
	    size_t errstr_size) BD_WUR;

#endif
