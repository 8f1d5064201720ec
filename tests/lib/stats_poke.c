/* stats_poke STATE_DIR CAMPAIGN DAY COST: adds COST (strtod: "inf" and
 * "nan" too) to the realised cost of CAMPAIGN's day DAY (partition 0) in a
 * stopped daemon's state, through the stats merge operator as a worker
 * would.  Makes the statistics a store written before the outcome bounds
 * may hold, for tests/integration/it_solveguard.py. */
#include <stdio.h>
#include <stdlib.h>

#include "budgetd/state/stats.h"
#include "budgetd/state/store.h"

int main(int argc, char **argv)
{
	char errstr[512];
	bd_store_t *st = NULL;
	bd_store_batch_t *b = NULL;
	uint8_t key[BD_STATS_KEY_MAX];
	double y[BD_DAY__COUNT] = {0};
	int rc = 1;

	if (argc != 5) {
		fprintf(stderr, "usage: stats_poke STATE_DIR CAMPAIGN DAY COST\n");
		return 2;
	}
	y[BD_DAY_COST] = strtod(argv[4], NULL);
	if (bd_store_open(argv[1], &st, errstr, sizeof(errstr))) {
		fprintf(stderr, "stats_poke: %s\n", errstr);
		return 1;
	}
	if (!(b = bd_store_batch_new(st)))
		goto out;
	size_t klen = bd_stats_day_key(key, 0, argv[2], strtoll(argv[3], NULL, 10));
	bd_store_batch_add(b, BD_CF_STATS, key, klen, y, BD_DAY__COUNT);
	if (bd_store_batch_write(st, b, errstr, sizeof(errstr))) {
		fprintf(stderr, "stats_poke: %s\n", errstr);
		goto out;
	}
	rc = 0;
out:
	bd_store_batch_destroy(b);
	bd_store_close(st);
	return rc;
}
