/**
 * @file store.h
 * @brief RocksDB state: one column family per kind of state, atomic batches.
 *
 * Every change an input message causes is written in ONE write batch
 * together with the input offsets that produced it, so after any crash the
 * stored offsets and the stored state agree: a restart neither loses nor
 * double-counts.  Statistics are summed by a merge operator (element-wise
 * addition of little-endian double vectors) rather than read-modify-write.
 *
 * Keys that belong to an input partition start with the partition number
 * (big-endian u16), so a partition's state can be moved or dropped as a
 * unit.
 *
 * @locality the store is thread-safe (RocksDB is); batches are not shared.
 */
#ifndef BUDGETD_STORE_H
#define BUDGETD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budgetd/base/common.h"

typedef enum bd_cf {
	BD_CF_META = 0,   /**< format version, instance data */
	BD_CF_OFFSETS,    /**< topic/partition -> next offset to read */
	BD_CF_DECISIONS,  /**< partition/decision -> decision record */
	BD_CF_STATS,      /**< partition/campaign/... -> double vector (merge) */
	BD_CF_SAMPLES,    /**< partition/seq -> joined training sample */
	BD_CF_OUTBOX,     /**< partition/seq -> output message not yet acked */
	BD_CF_CAMPAIGNS,  /**< campaign -> campaign record */
	BD_CF_PLANS,      /**< campaign -> latest plan message */
	BD_CF_MODELS,     /**< version -> model */
	BD_CF_PENDING,    /**< partition/decision time/decision -> "" while the
			       decision waits for its outcome (carry.h) */
	BD_CF__COUNT
} bd_cf_t;

typedef struct bd_store_s bd_store_t;
typedef struct bd_store_batch_s bd_store_batch_t;

/**
 * Opens (creating if missing) the database in @p dir.  Refuses a database
 * that RocksDB reports corrupt, with a message naming the recovery.
 */
int bd_store_open(const char *dir, bd_store_t **out, char *errstr,
		  size_t errstr_size) BD_WUR;
void bd_store_close(bd_store_t *st);

/**
 * Whether a record of @p cf has expired and may go: called by RocksDB's
 * compaction threads, concurrently, for every record a compaction of
 * BD_CF_DECISIONS or BD_CF_PENDING reads; true drops it.
 */
typedef bool bd_store_expire_fn(void *opaque, bd_cf_t cf, const char *key, size_t klen,
				const char *val, size_t vlen);
/**
 * Installs the expiry rule for the compactions from now on (NULL, the
 * default: nothing expires).  A compaction runs only when RocksDB decides or
 * bd_store_compact asks, so expired records go eventually, not at once.
 * @p opaque must stay valid until the next call or the store is closed.
 */
void bd_store_set_expiry(bd_store_t *st, bd_store_expire_fn *fn, void *opaque);
/** Records the expiry rule has dropped since the store was opened. */
uint64_t bd_store_expired(bd_store_t *st);
/** Flushes @p cf's memtable and compacts all of its files, so the expiry
 *  rule sees every record.  Blocks until done: call it off the main loop
 *  (daemon_expiry.c runs it on libuv's thread pool).  A suggested
 *  compaction (RocksDB's SuggestCompactRange) is not enough: files written
 *  by a compaction running at the time are not marked, and their expired
 *  records stayed (it_expiry, 1 run in CI).  @returns 0 or BD_ESTORE with
 *  @p errstr. */
int bd_store_expire_now(bd_store_t *st, bd_cf_t cf, char *errstr, size_t errstr_size) BD_WUR;

/**
 * For every thread that reads or writes a store, once: RocksDB's per-thread
 * performance counters off (on by default, they cost about a quarter of a
 * write on the hot path and nothing here reads them).  bd_store_open calls
 * it for the opening thread.
 */
void bd_store_thread_init(void);

/**
 * Gets a value.  @returns 0 and a malloc'd value (caller frees) if found,
 * 1 if absent, or BD_ESTORE.
 */
int bd_store_get(bd_store_t *st, bd_cf_t cf, const void *key, size_t klen,
		 char **val, size_t *vlen) BD_WUR;

/** A batch for @p st (it must outlive the batch). */
bd_store_batch_t *bd_store_batch_new(bd_store_t *st);
void bd_store_batch_destroy(bd_store_batch_t *b);
void bd_store_batch_clear(bd_store_batch_t *b);
int bd_store_batch_count(const bd_store_batch_t *b);
void bd_store_batch_put(bd_store_batch_t *b, bd_cf_t cf, const void *key,
			size_t klen, const void *val, size_t vlen);
/** Adds @p n doubles element-wise to the vector stored under @p key. */
void bd_store_batch_add(bd_store_batch_t *b, bd_cf_t cf, const void *key,
			size_t klen, const double *x, int n);
void bd_store_batch_delete(bd_store_batch_t *b, bd_cf_t cf, const void *key,
			   size_t klen);
void bd_store_batch_delete_range(bd_store_batch_t *b, bd_cf_t cf,
				 const void *from, size_t flen, const void *to,
				 size_t tlen);

/** The kinds of operation a batch holds (bd_store_batch_hook). */
typedef enum bd_store_op {
	BD_STORE_PUT = 0,
	BD_STORE_MERGE,        /**< bd_store_batch_add: value = the doubles' bytes */
	BD_STORE_DELETE,       /**< value empty */
	BD_STORE_DELETE_RANGE, /**< value = the end key (exclusive) */
} bd_store_op_t;

/** Told every operation made on a batch, as it is made (the changelog's
 *  recorder, state/changelog.h); it must not touch the batch. */
typedef void(bd_store_op_hook)(void *opaque, bd_cf_t cf, bd_store_op_t op, const void *key,
			       size_t klen, const void *val, size_t vlen);
/** Installs @p fn (NULL: none) on @p b: every put, add, delete and range
 *  delete made on @p b from now on is also told to @p fn. */
void bd_store_batch_hook(bd_store_batch_t *b, bd_store_op_hook *fn, void *opaque);

/**
 * The input partition a key of @p cf belongs to: the first 2 bytes
 * (big-endian) of the partitioned families (decisions, stats, samples,
 * outbox, pending), the 2 bytes after the 4-byte tag of a meta key, the
 * last 4 bytes of an offsets key (topic, NUL, be32 partition).
 * @returns the partition, or BD_EINVAL for a family that is not per
 * partition (campaigns, plans, models) or a key too short to hold one.
 * @locality any thread; pure.
 */
int bd_store_key_partition(bd_cf_t cf, const void *key, size_t klen);

/** Writes the batch atomically (WAL on).  Clears it on success.  Its point
 *  operations go to RocksDB sorted by family and key (one key's in the
 *  order they were made; a range delete after those made before it): the
 *  same result, cheaper memtable inserts (store.c). */
int bd_store_batch_write(bd_store_t *st, bd_store_batch_t *b, char *errstr,
			 size_t errstr_size) BD_WUR;

/** Input offsets: the next offset to consume, or -1 when none is stored. */
int64_t bd_store_offset_get(bd_store_t *st, const char *topic, int32_t partition);
void bd_store_batch_offset(bd_store_batch_t *b, const char *topic,
			   int32_t partition, int64_t next_offset);

/** Iterates keys of @p cf starting with @p prefix; stop by returning != 0. */
typedef int(bd_store_scan_cb)(const char *key, size_t klen, const char *val,
			      size_t vlen, void *opaque);
int bd_store_scan(bd_store_t *st, bd_cf_t cf, const void *prefix, size_t plen,
		  bd_store_scan_cb *cb, void *opaque) BD_WUR;
/** The same from the first key >= @p from (which starts with @p prefix). */
int bd_store_scan_from(bd_store_t *st, bd_cf_t cf, const void *prefix, size_t plen,
		       const void *from, size_t flen, bd_store_scan_cb *cb,
		       void *opaque) BD_WUR;

/** A consistent on-disk copy (hard links) in @p dir, which must not exist. */
int bd_store_checkpoint(bd_store_t *st, const char *dir, char *errstr,
			size_t errstr_size) BD_WUR;

/**
 * A backup: writes a checkpoint to @p dir/checkpoint-<UTC time> (e.g.
 * checkpoint-20250301T120000.123Z; @p dir is created if missing), then
 * deletes the oldest checkpoints in @p dir beyond @p keep (0: none) and any
 * checkpoint-*.tmp a crash left.  A checkpoint is a whole database: open it
 * with bd_store_open (or start budgetd on a copy of it); it holds the input
 * offsets of its state, so a daemon started on it re-reads from Kafka what
 * came after.  Nothing is deleted when the new checkpoint fails.  The path
 * written goes to @p path (may be NULL).
 */
int bd_store_checkpoint_rotate(bd_store_t *st, const char *dir, int keep,
			       char *path, size_t path_size, char *errstr,
			       size_t errstr_size) BD_WUR;

/* Key helpers: big-endian so that keys sort numerically. */
static inline void bd_be16(uint8_t *p, uint16_t x)
{
	p[0] = (uint8_t)(x >> 8);
	p[1] = (uint8_t)x;
}
static inline void bd_be32(uint8_t *p, uint32_t x)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(x >> (24 - 8 * i));
}
static inline void bd_be64(uint8_t *p, uint64_t x)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(x >> (56 - 8 * i));
}
static inline uint64_t bd_rd_be64(const uint8_t *p)
{
	uint64_t x = 0;
	for (int i = 0; i < 8; i++)
		x = (x << 8) | p[i];
	return x;
}

/** An integer RocksDB property ("rocksdb.estimate-num-keys", ...), summed
 *  over every column family (a property of the whole database, such as
 *  rocksdb.num-running-compactions or rocksdb.block-cache-usage, is read
 *  once).  @returns 0 or BD_EINVAL (unknown).  @locality any thread. */
int bd_store_property(bd_store_t *st, const char *name, double *out) BD_WUR;

/** Memory RocksDB holds, in bytes. */
typedef struct bd_store_memory_s {
	double memtables; /**< every column family's memtables (active, immutable) */
	double memtable_cf[BD_CF__COUNT]; /**< the same by column family */
	double block_cache;	   /**< the block cache every family shares */
	double block_cache_pinned; /**< the part of it in use by readers */
	double table_readers; /**< index and filter blocks held outside the cache */
	double sst_cf[BD_CF__COUNT]; /**< disk, not memory: each family's SST files
				       *  (read here so one call gives the gauges) */
} bd_store_memory_t;

/** Reads @p m.  The outbox family's memtable is bounded to 4 MiB (it holds
 *  outputs until their delivery: a put each, then range deletes), the
 *  statistics' too (every solve sums the merge operands in it); the others
 *  have RocksDB's default (64 MiB, up to 2).  @returns 0 or BD_EINVAL.
 *  @locality any thread. */
int bd_store_memory(bd_store_t *st, bd_store_memory_t *m) BD_WUR;

/** "default", "offsets", "decisions", ... (the column family's name). */
const char *bd_store_cf_name(bd_cf_t cf);

/** mkdir -p with mode 0750.  @returns 0 or an errno; @p at (may be NULL)
 *  gets the path as far as it got (where it failed). */
int bd_store_mkdirs(const char *path, char *at, size_t at_size);

#endif
