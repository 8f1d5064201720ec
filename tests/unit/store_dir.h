/* Unit tests' stores: RocksDB directories under one temporary directory
 * (test_store, test_changelog).  Include after <cmocka.h>. */
#ifndef BD_TEST_STORE_DIR_H
#define BD_TEST_STORE_DIR_H

#include <stdio.h>

#include "budgetd/state/store.h"

/* Opens (creating) the store @p dir/@p sub, or fails the test with why. */
static inline bd_store_t *bd_test_store_open(const char *dir, const char *sub, char *err,
					     size_t err_size)
{
	char path[128];
	bd_store_t *st = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if (bd_store_open(path, &st, err, err_size) != 0)
		fail_msg("open %s: %s", path, err);
	return st;
}

#endif
