/*
 * RocksDB through its C API.  Column families keep kinds of state apart so
 * each can have its own options (a merge operator, a bloom filter, the
 * compaction filter that drops expired decisions) and can be scanned
 * without touching the others.
 */
#include "budgetd/state/store.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "budgetd/base/log.h"

static const char *cf_names[BD_CF__COUNT] = {
	"default", "offsets", "decisions", "stats", "samples",
	"outbox",  "campaigns", "plans",   "models", "pending",
};

/* Memory RocksDB may hold, made explicit so that it is bounded and can be
 * measured (bd_store_memory).  Each column family's memtable grows to its
 * write buffer size before it is flushed (RocksDB's default: 64 MiB, with up
 * to 2 of them per family).  The outbox holds outputs only until their
 * delivery report (a put each, and a range delete per partition and batch),
 * so a small memtable flushes often and cheaply: at 64 MiB, 200 000 dead
 * letters grew the process by ~100 MB before its first flush
 * (docs/reliability.md).  The block cache is RocksDB's default size, one
 * cache shared by every family.
 *
 * Disk: a write-ahead log file is kept until every family with data in it
 * has flushed, and a family written a little per batch (statistics, plans)
 * fills its memtable only after hours, so by RocksDB's default limit (four
 * times the memtables, ~4.6 GiB here) the logs, not the data, were most of
 * the state's disk: 559 of 613 MB after a million soak decisions
 * (bench/soak).  Past MAX_WAL_BYTES RocksDB flushes the families that hold
 * the oldest log. */
#define OUTBOX_WRITE_BUFFER (4u << 20)
/* The statistics family holds a merge operand per cell and batch; every
 * solve (solve.interval.ms) scans the family and RocksDB sums each cell's
 * operands still in the memtables on the read.  With a 64 MiB memtable
 * that was most of the main thread's work in a long run (bench/soak: 57 MiB
 * of operands, 67% of a core); a flush folds a cell's operands into one
 * value, so a small memtable bounds what a scan sums. */
#define STATS_WRITE_BUFFER (4u << 20)
#define BLOCK_CACHE_BYTES (8u << 20)
#define MAX_WAL_BYTES (256u << 20)

struct bd_store_s {
	rocksdb_t *db;
	rocksdb_options_t *opts;
	rocksdb_cache_t *cache;
	rocksdb_block_based_table_options_t *bbto;
	rocksdb_block_based_table_options_t *bbto_bloom; /* decisions: point lookups */
	rocksdb_options_t *cf_opts[BD_CF__COUNT];
	rocksdb_column_family_handle_t *cf[BD_CF__COUNT];
	rocksdb_mergeoperator_t *merge;
	rocksdb_writeoptions_t *wopts;
	rocksdb_readoptions_t *ropts;
	/* expiry (bd_store_set_expiry): one compaction filter per family it
	 * applies to, calling the function set, under the lock */
	rocksdb_compactionfilter_t *filter[BD_CF__COUNT];
	struct expiry_s {
		bd_store_t *st;
		bd_cf_t cf;
	} filter_state[BD_CF__COUNT];
	pthread_mutex_t expiry_lock;
	bd_store_expire_fn *expire;
	void *expire_opaque;
	_Atomic uint64_t expired; /* records dropped */
};

/* ---- expiry: compaction filters -------------------------------------------- */

static unsigned char expiry_filter(void *state, int level, const char *key, size_t klen,
				   const char *val, size_t vlen, char **new_val,
				   size_t *new_vlen, unsigned char *changed)
{
	struct expiry_s *x = state;
	bd_store_t *st = x->st;
	bool drop = false;
	(void)level, (void)new_val, (void)new_vlen;
	*changed = 0;
	pthread_mutex_lock(&st->expiry_lock);
	if (st->expire)
		drop = st->expire(st->expire_opaque, x->cf, key, klen, val, vlen);
	pthread_mutex_unlock(&st->expiry_lock);
	if (drop)
		atomic_fetch_add_explicit(&st->expired, 1, memory_order_relaxed);
	return drop;
}

static const char *expiry_name(void *state)
{
	(void)state;
	return "budgetd.expiry";
}

static void expiry_destroy(void *state)
{
	(void)state; /* filter_state lives in the store */
}

void bd_store_set_expiry(bd_store_t *st, bd_store_expire_fn *fn, void *opaque)
{
	pthread_mutex_lock(&st->expiry_lock);
	st->expire = fn;
	st->expire_opaque = opaque;
	pthread_mutex_unlock(&st->expiry_lock);
}

uint64_t bd_store_expired(bd_store_t *st)
{
	return atomic_load_explicit(&st->expired, memory_order_relaxed);
}

int bd_store_expire_now(bd_store_t *st, bd_cf_t cf, char *errstr, size_t errstr_size)
{
	rocksdb_flushoptions_t *fo = rocksdb_flushoptions_create();
	char *err = NULL;
	rocksdb_flushoptions_set_wait(fo, 1);
	rocksdb_flush_cf(st->db, fo, st->cf[cf], &err);
	rocksdb_flushoptions_destroy(fo);
	/* every level, the bottommost too (a compaction filter is set:
	 * RocksDB's default then compacts it) */
	if (!err)
		rocksdb_compact_range_cf(st->db, st->cf[cf], NULL, 0, NULL, 0);
	if (err) {
		snprintf(errstr, errstr_size, "%s: %s", cf_names[cf], err);
		free(err);
		return BD_ESTORE;
	}
	return 0;
}

/* A point operation held until the batch is written (sorted_flush). */
typedef struct held_op_s {
	size_t off;          /* key, then value, in the arena */
	uint32_t klen, vlen;
	uint8_t cf, kind;    /* bd_cf_t, bd_store_op_t */
} held_op_t;

struct bd_store_batch_s {
	rocksdb_writebatch_t *wb;
	bd_store_t *st; /* whose column family handles it uses */
	bd_store_op_hook *hook; /* told every operation (NULL: none) */
	void *hook_opaque;
	/* point operations not yet in wb, in the order they were made */
	held_op_t *ops;
	size_t n_ops, cap_ops;
	char *arena;
	size_t arena_len, arena_cap;
	int failed; /* out of memory holding one: the write fails */
};

/* ---- merge operator: element-wise sum of double vectors ----------------- */

static void vec_add(double *acc, size_t n, const char *p, size_t len)
{
	size_t m = len / sizeof(double);
	for (size_t i = 0; i < m && i < n; i++) {
		double x;
		memcpy(&x, p + i * sizeof(double), sizeof(double));
		acc[i] += x;
	}
}

static char *sum_operands(const char *existing, size_t elen,
			  const char *const *ops, const size_t *lens, int n,
			  size_t *out_len)
{
	size_t maxlen = existing ? elen : 0;
	for (int i = 0; i < n; i++)
		if (lens[i] > maxlen)
			maxlen = lens[i];
	size_t cnt = maxlen / sizeof(double);
	double *acc = calloc(cnt ? cnt : 1, sizeof(double));
	if (!acc)
		return NULL;
	if (existing)
		vec_add(acc, cnt, existing, elen);
	for (int i = 0; i < n; i++)
		vec_add(acc, cnt, ops[i], lens[i]);
	*out_len = cnt * sizeof(double);
	return (char *)acc;
}

static char *merge_full(void *state, const char *key, size_t klen,
			const char *existing, size_t elen,
			const char *const *ops, const size_t *lens, int n,
			unsigned char *success, size_t *out_len)
{
	char *r = sum_operands(existing, elen, ops, lens, n, out_len);
	*success = r != NULL;
	return r;
}

static char *merge_partial(void *state, const char *key, size_t klen,
			   const char *const *ops, const size_t *lens, int n,
			   unsigned char *success, size_t *out_len)
{
	char *r = sum_operands(NULL, 0, ops, lens, n, out_len);
	*success = r != NULL;
	return r;
}

static void merge_delete_value(void *state, const char *v, size_t len)
{
	free((void *)v);
}

static const char *merge_name(void *state)
{
	return "budgetd.vecsum.v1";
}

static void merge_destroy(void *state)
{
}

/* ---- open / close ---------------------------------------------------------- */

/* The paranoid checks of the open verify what it reads (manifest, table
 * footers and indexes), not data blocks.  So before the read-write open,
 * which writes a new manifest, a read-only open reads the first entry of
 * every column family: a table damaged near its start stops the start
 * here, with the advice and the files untouched, rather than at the first
 * read of the state (where it lands depends on how much each table
 * holds).  A read-only open that fails for another reason (no database
 * yet, a column family to create) leaves the verdict to the real open.
 * @returns RocksDB's corruption error (free it) or NULL. */
static char *check_first_entries(bd_store_t *st, const char *dir, const char *const *names,
				 const rocksdb_options_t *const *cfo)
{
	rocksdb_column_family_handle_t *cf[BD_CF__COUNT] = {0};
	char *err = NULL;
	rocksdb_t *db = rocksdb_open_for_read_only_column_families(
		st->opts, dir, BD_CF__COUNT, (const char **)names, cfo, cf, 0, &err);
	if (!db) {
		if (err && !strstr(err, "orrupt")) {
			free(err);
			err = NULL;
		}
		return err;
	}
	rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
	for (int i = 0; i < BD_CF__COUNT; i++) {
		rocksdb_iterator_t *it = rocksdb_create_iterator_cf(db, ro, cf[i]);
		rocksdb_iter_seek_to_first(it);
		if (!err)
			rocksdb_iter_get_error(it, &err);
		rocksdb_iter_destroy(it);
		rocksdb_column_family_handle_destroy(cf[i]);
	}
	rocksdb_readoptions_destroy(ro);
	rocksdb_close(db);
	return err;
}

void bd_store_thread_init(void)
{
	rocksdb_set_perf_level(rocksdb_disable);
}

int bd_store_open(const char *dir, bd_store_t **out, char *errstr,
		  size_t errstr_size)
{
	bd_store_t *st = calloc(1, sizeof(*st));
	char *err = NULL;
	const char *names[BD_CF__COUNT];
	const rocksdb_options_t *cfo[BD_CF__COUNT];

	if (!st)
		return -ENOMEM;
	bd_store_thread_init();
	pthread_mutex_init(&st->expiry_lock, NULL);
	st->opts = rocksdb_options_create();
	rocksdb_options_set_create_if_missing(st->opts, 1);
	rocksdb_options_set_create_missing_column_families(st->opts, 1);
	/* A corrupt WAL must stop the start, not be silently skipped. */
	rocksdb_options_set_wal_recovery_mode(st->opts, 2 /* point in time */);
	rocksdb_options_set_paranoid_checks(st->opts, 1);
	rocksdb_options_set_max_total_wal_size(st->opts, MAX_WAL_BYTES);
	rocksdb_options_increase_parallelism(st->opts, 2);
	st->cache = rocksdb_cache_create_lru(BLOCK_CACHE_BYTES);
	st->bbto = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(st->bbto, st->cache);
	rocksdb_options_set_block_based_table_factory(st->opts, st->bbto);
	st->bbto_bloom = rocksdb_block_based_options_create();
	rocksdb_block_based_options_set_block_cache(st->bbto_bloom, st->cache);
	/* owned by the table options from here on */
	rocksdb_block_based_options_set_filter_policy(st->bbto_bloom,
						      rocksdb_filterpolicy_create_bloom_full(10));
	st->merge = rocksdb_mergeoperator_create(NULL, merge_destroy, merge_full,
						 merge_partial, merge_delete_value,
						 merge_name);
	for (int i = 0; i < BD_CF__COUNT; i++) {
		st->cf_opts[i] = rocksdb_options_create_copy(st->opts);
		if (i == BD_CF_STATS) {
			rocksdb_options_set_merge_operator(st->cf_opts[i], st->merge);
			rocksdb_options_set_write_buffer_size(st->cf_opts[i], STATS_WRITE_BUFFER);
		}
		if (i == BD_CF_OUTBOX)
			rocksdb_options_set_write_buffer_size(st->cf_opts[i], OUTBOX_WRITE_BUFFER);
		/* every feature event looks its request up (the dedup) and every
		 * outcome its decision: mostly keys that are not in a given file
		 * (new requests), which a bloom filter answers without reading
		 * the file's blocks.  Files written before it have none and are
		 * read as before. */
		if (i == BD_CF_DECISIONS) {
			rocksdb_options_set_block_based_table_factory(st->cf_opts[i], st->bbto_bloom);
			/* the same for the memtable, where a new request's key is
			 * otherwise searched down the skiplist: 7.9k of a feature
			 * event's 78k instructions (callgrind, docs/benchmarks.md);
			 * 2% of the write buffer */
			rocksdb_options_set_memtable_prefix_bloom_size_ratio(st->cf_opts[i], 0.02);
			rocksdb_options_set_memtable_whole_key_filtering(st->cf_opts[i], 1);
		}
		/* the families whose records expire (bd_store_set_expiry) */
		if (i == BD_CF_DECISIONS || i == BD_CF_PENDING) {
			st->filter_state[i] = (struct expiry_s){st, (bd_cf_t)i};
			st->filter[i] = rocksdb_compactionfilter_create(
				&st->filter_state[i], expiry_destroy, expiry_filter, expiry_name);
			rocksdb_options_set_compaction_filter(st->cf_opts[i], st->filter[i]);
		}
		names[i] = cf_names[i];
		cfo[i] = st->cf_opts[i];
	}
	err = check_first_entries(st, dir, names, cfo);
	if (!err)
		st->db = rocksdb_open_column_families(st->opts, dir, BD_CF__COUNT, names,
						      cfo, st->cf, &err);
	if (err) {
		/* A MANIFEST that CURRENT names but that is gone is damage
		 * too (a missing directory is created, never an error). */
		bool damaged = strstr(err, "orrupt") ||
			       (strstr(err, "MANIFEST") && strstr(err, "No such file"));
		snprintf(errstr, errstr_size,
			 "cannot open state in %s: %s%s", dir, err,
			 damaged ? " (the database is damaged and budgetd will not start "
				   "on it: move the directory aside and put a backup in "
				   "its place, a copy taken while budgetd was stopped or "
				   "a checkpoint (checkpoint.dir, budgetd --checkpoint))"
			 : strstr(err, "LOCK") ? " (another process has it open: is budgetd "
						 "running on it?)"
				 : "");
		free(err);
		bd_store_close(st);
		return BD_ESTORE;
	}
	st->wopts = rocksdb_writeoptions_create();
	st->ropts = rocksdb_readoptions_create();
	*out = st;
	return 0;
}

void bd_store_close(bd_store_t *st)
{
	if (!st)
		return;
	for (int i = 0; i < BD_CF__COUNT; i++)
		if (st->cf[i])
			rocksdb_column_family_handle_destroy(st->cf[i]);
	if (st->db)
		rocksdb_close(st->db);
	for (int i = 0; i < BD_CF__COUNT; i++)
		if (st->cf_opts[i])
			rocksdb_options_destroy(st->cf_opts[i]);
	/* The merge operator is owned by the options that hold it and goes with
	 * the last of them; destroying it here as well would free it twice. */
	if (st->opts)
		rocksdb_options_destroy(st->opts);
	/* the options only point at the filters: theirs to free, after the
	 * database that runs them is closed */
	for (int i = 0; i < BD_CF__COUNT; i++)
		if (st->filter[i])
			rocksdb_compactionfilter_destroy(st->filter[i]);
	pthread_mutex_destroy(&st->expiry_lock);
	if (st->bbto)
		rocksdb_block_based_options_destroy(st->bbto);
	if (st->bbto_bloom)
		rocksdb_block_based_options_destroy(st->bbto_bloom);
	if (st->cache)
		rocksdb_cache_destroy(st->cache);
	if (st->wopts)
		rocksdb_writeoptions_destroy(st->wopts);
	if (st->ropts)
		rocksdb_readoptions_destroy(st->ropts);
	free(st);
}

int bd_store_get(bd_store_t *st, bd_cf_t cf, const void *key, size_t klen,
		 char **val, size_t *vlen)
{
	char *err = NULL;
	*val = rocksdb_get_cf(st->db, st->ropts, st->cf[cf], key, klen, vlen, &err);
	if (err) {
		bd_error("RocksDB get in %s: %s", cf_names[cf], err);
		free(err);
		return BD_ESTORE;
	}
	return *val ? 0 : 1;
}

/* ---- batches --------------------------------------------------------------- */

/*
 * A batch's point operations are held and go into the RocksDB write batch
 * sorted by family and key (equal keys in the order they were made), when
 * the batch is written or before a range delete (which must see the
 * operations made before it, and only those).  Why: RocksDB inserts a
 * batch into each family's memtable skiplist in batch order, starting each
 * insert from where the last one ended; in request order a family's keys
 * are random and every insert searched from the skiplist's top, 31% of a
 * feature event's instructions (docs/benchmarks.md).  The result is the
 * same: operations on different keys commute, on one key they keep their
 * order.
 */
static int held_push(bd_store_batch_t *b, bd_cf_t cf, bd_store_op_t kind, const void *key,
		     size_t klen, const void *val, size_t vlen)
{
	if (b->n_ops == b->cap_ops) {
		size_t cap = b->cap_ops ? b->cap_ops * 2 : 1024;
		held_op_t *v = realloc(b->ops, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->ops = v;
		b->cap_ops = cap;
	}
	if (b->arena_len + klen + vlen > b->arena_cap) {
		size_t cap = b->arena_cap ? b->arena_cap : 65536;
		while (cap < b->arena_len + klen + vlen)
			cap *= 2;
		char *a = realloc(b->arena, cap);
		if (!a)
			return -ENOMEM;
		b->arena = a;
		b->arena_cap = cap;
	}
	held_op_t *o = &b->ops[b->n_ops++];
	o->off = b->arena_len;
	o->klen = (uint32_t)klen;
	o->vlen = (uint32_t)vlen;
	o->cf = (uint8_t)cf;
	o->kind = (uint8_t)kind;
	memcpy(b->arena + b->arena_len, key, klen);
	if (vlen)
		memcpy(b->arena + b->arena_len + klen, val, vlen);
	b->arena_len += klen + vlen;
	return 0;
}

typedef struct held_ref_s {
	const char *key;
	uint32_t klen, i;
	uint8_t cf;
} held_ref_t;

static int held_cmp(const void *pa, const void *pb)
{
	const held_ref_t *a = pa, *b = pb;
	if (a->cf != b->cf)
		return a->cf < b->cf ? -1 : 1;
	int c = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);
	if (c)
		return c;
	if (a->klen != b->klen)
		return a->klen < b->klen ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i; /* stable: equal keys in order */
}

/* Moves the held operations into the write batch, sorted.  @returns 0 or
 * -ENOMEM (nothing moved; the batch must not be written). */
static int sorted_flush(bd_store_batch_t *b)
{
	if (!b->n_ops)
		return 0;
	held_ref_t *r = malloc(b->n_ops * sizeof(*r));
	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < b->n_ops; i++)
		r[i] = (held_ref_t){b->arena + b->ops[i].off, b->ops[i].klen, (uint32_t)i,
				    b->ops[i].cf};
	qsort(r, b->n_ops, sizeof(*r), held_cmp);
	for (size_t j = 0; j < b->n_ops; j++) {
		const held_op_t *o = &b->ops[r[j].i];
		const char *k = b->arena + o->off, *v = k + o->klen;
		rocksdb_column_family_handle_t *h = b->st->cf[o->cf];
		if (o->kind == BD_STORE_PUT)
			rocksdb_writebatch_put_cf(b->wb, h, k, o->klen, v, o->vlen);
		else if (o->kind == BD_STORE_MERGE)
			rocksdb_writebatch_merge_cf(b->wb, h, k, o->klen, v, o->vlen);
		else
			rocksdb_writebatch_delete_cf(b->wb, h, k, o->klen);
	}
	free(r);
	b->n_ops = 0;
	b->arena_len = 0;
	return 0;
}

static void held_op(bd_store_batch_t *b, bd_cf_t cf, bd_store_op_t kind, const void *key,
		    size_t klen, const void *val, size_t vlen)
{
	if (held_push(b, cf, kind, key, klen, val, vlen))
		b->failed = 1;
	if (b->hook)
		b->hook(b->hook_opaque, cf, kind, key, klen, val, vlen);
}

bd_store_batch_t *bd_store_batch_new(bd_store_t *st)
{
	bd_store_batch_t *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->wb = rocksdb_writebatch_create();
	b->st = st;
	return b;
}

void bd_store_batch_destroy(bd_store_batch_t *b)
{
	if (!b)
		return;
	rocksdb_writebatch_destroy(b->wb);
	free(b->ops);
	free(b->arena);
	free(b);
}

void bd_store_batch_clear(bd_store_batch_t *b)
{
	rocksdb_writebatch_clear(b->wb);
	b->n_ops = 0;
	b->arena_len = 0;
	b->failed = 0;
}

int bd_store_batch_count(const bd_store_batch_t *b)
{
	return rocksdb_writebatch_count(b->wb) + (int)b->n_ops;
}

void bd_store_batch_hook(bd_store_batch_t *b, bd_store_op_hook *fn, void *opaque)
{
	b->hook = fn;
	b->hook_opaque = opaque;
}

void bd_store_batch_put(bd_store_batch_t *b, bd_cf_t cf, const void *key,
			size_t klen, const void *val, size_t vlen)
{
	held_op(b, cf, BD_STORE_PUT, key, klen, val, vlen);
}

void bd_store_batch_add(bd_store_batch_t *b, bd_cf_t cf, const void *key,
			size_t klen, const double *x, int n)
{
	held_op(b, cf, BD_STORE_MERGE, key, klen, x, (size_t)n * sizeof(double));
}

void bd_store_batch_delete(bd_store_batch_t *b, bd_cf_t cf, const void *key,
			   size_t klen)
{
	held_op(b, cf, BD_STORE_DELETE, key, klen, "", 0);
}

void bd_store_batch_delete_range(bd_store_batch_t *b, bd_cf_t cf,
				 const void *from, size_t flen, const void *to,
				 size_t tlen)
{
	/* after what was made before it, before what comes after */
	if (sorted_flush(b))
		b->failed = 1;
	rocksdb_writebatch_delete_range_cf(b->wb, b->st->cf[cf], from, flen, to,
					   tlen);
	if (b->hook)
		b->hook(b->hook_opaque, cf, BD_STORE_DELETE_RANGE, from, flen, to, tlen);
}

int bd_store_key_partition(bd_cf_t cf, const void *key, size_t klen)
{
	const uint8_t *k = key;
	switch (cf) {
	case BD_CF_DECISIONS:
	case BD_CF_STATS:
	case BD_CF_SAMPLES:
	case BD_CF_OUTBOX:
	case BD_CF_PENDING:
		return klen >= 2 ? k[0] << 8 | k[1] : BD_EINVAL;
	case BD_CF_META: /* tag + be16 partition (+ more: a campaign's clock) */
		return klen >= 6 ? k[4] << 8 | k[5] : BD_EINVAL;
	case BD_CF_OFFSETS: { /* topic, NUL, be32 partition */
		if (klen < 6 || k[klen - 5] != 0 || k[klen - 4] || k[klen - 3])
			return BD_EINVAL;
		return k[klen - 2] << 8 | k[klen - 1];
	}
	default:
		return BD_EINVAL;
	}
}

int bd_store_batch_write(bd_store_t *st, bd_store_batch_t *b, char *errstr,
			 size_t errstr_size)
{
	char *err = NULL;
	if (b->failed || sorted_flush(b)) {
		snprintf(errstr, errstr_size, "RocksDB write: out of memory holding the batch");
		return BD_ESTORE;
	}
	rocksdb_write(st->db, st->wopts, b->wb, &err);
	if (err) {
		snprintf(errstr, errstr_size, "RocksDB write: %s", err);
		free(err);
		return BD_ESTORE;
	}
	rocksdb_writebatch_clear(b->wb);
	return 0;
}

/* ---- offsets --------------------------------------------------------------- */

static size_t offset_key(char *buf, size_t size, const char *topic,
			 int32_t partition)
{
	size_t n = strlen(topic);
	if (n + 5 > size)
		n = size - 5;
	memcpy(buf, topic, n);
	buf[n] = '\0';
	bd_be32((uint8_t *)buf + n + 1, (uint32_t)partition);
	return n + 5;
}

int64_t bd_store_offset_get(bd_store_t *st, const char *topic, int32_t partition)
{
	char key[300], *val = NULL;
	size_t klen = offset_key(key, sizeof(key), topic, partition), vlen = 0;
	int64_t off = -1;

	if (bd_store_get(st, BD_CF_OFFSETS, key, klen, &val, &vlen) == 0) {
		if (vlen == 8)
			off = (int64_t)bd_rd_be64((const uint8_t *)val);
		free(val);
	}
	return off;
}

void bd_store_batch_offset(bd_store_batch_t *b, const char *topic,
			   int32_t partition, int64_t next_offset)
{
	char key[300];
	uint8_t val[8];
	size_t klen = offset_key(key, sizeof(key), topic, partition);
	bd_be64(val, (uint64_t)next_offset);
	bd_store_batch_put(b, BD_CF_OFFSETS, key, klen, val, sizeof(val));
}

/* ---- scans and checkpoints ----------------------------------------------- */

int bd_store_scan(bd_store_t *st, bd_cf_t cf, const void *prefix, size_t plen,
		  bd_store_scan_cb *cb, void *opaque)
{
	return bd_store_scan_from(st, cf, prefix, plen, prefix, plen, cb, opaque);
}

int bd_store_scan_from(bd_store_t *st, bd_cf_t cf, const void *prefix, size_t plen,
		       const void *from, size_t flen, bd_store_scan_cb *cb, void *opaque)
{
	rocksdb_iterator_t *it = rocksdb_create_iterator_cf(st->db, st->ropts,
							     st->cf[cf]);
	char *err = NULL;
	int rc = 0;

	if (flen)
		rocksdb_iter_seek(it, from, flen);
	else
		rocksdb_iter_seek_to_first(it);
	for (; rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
		size_t klen, vlen;
		const char *k = rocksdb_iter_key(it, &klen);
		const char *v = rocksdb_iter_value(it, &vlen);
		if (klen < plen || memcmp(k, prefix, plen) != 0)
			break;
		if ((rc = cb(k, klen, v, vlen, opaque)) != 0)
			break;
	}
	rocksdb_iter_get_error(it, &err);
	rocksdb_iter_destroy(it);
	if (err) {
		bd_error("RocksDB scan of %s: %s", cf_names[cf], err);
		free(err);
		return BD_ESTORE;
	}
	return rc > 0 ? 0 : rc;
}

int bd_store_checkpoint(bd_store_t *st, const char *dir, char *errstr,
			size_t errstr_size)
{
	char *err = NULL;
	rocksdb_checkpoint_t *cp = rocksdb_checkpoint_object_create(st->db, &err);
	if (!err)
		rocksdb_checkpoint_create(cp, dir, 0, &err);
	if (cp)
		rocksdb_checkpoint_object_destroy(cp);
	if (err) {
		snprintf(errstr, errstr_size, "checkpoint to %s: %s", dir, err);
		free(err);
		return BD_ESTORE;
	}
	return 0;
}

/* ---- rotating checkpoints ------------------------------------------------ */

#define CP_PREFIX "checkpoint-"

int bd_store_mkdirs(const char *path, char *at, size_t at_size)
{
	char buf[4096];
	int e = 0;
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		e = ENAMETOOLONG;
		goto out;
	}
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0750) != 0 && errno != EEXIST) {
				e = errno;
				goto out;
			}
			*p = '/';
		}
	if (mkdir(buf, 0750) != 0 && errno != EEXIST)
		e = errno;
out:
	if (at)
		snprintf(at, at_size, "%s", buf);
	return e;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return (flag == FTW_DP ? rmdir(path) : unlink(path)) != 0 ? errno : 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_tmp(const char *name)
{
	size_t n = strlen(name);
	return n > 4 && strcmp(name + n - 4, ".tmp") == 0;
}

/* Deletes checkpoint-*.tmp leftovers and all but the newest @p keep
 * checkpoints (the names sort by time).  Returns how many failed. */
static int rotate(const char *dir, int keep, char *errstr, size_t errstr_size)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, done = 0;
	int failed = 0;

	if (!d) {
		snprintf(errstr, errstr_size, "%s: %s", dir, strerror(errno));
		return 1;
	}
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, CP_PREFIX, strlen(CP_PREFIX)) != 0)
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*v));
			if (!v)
				break;
			names = v;
		}
		if (!(names[n] = strdup(e->d_name)))
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	/* complete checkpoints, oldest first: delete while more than keep remain */
	size_t complete = 0;
	for (size_t i = 0; i < n; i++)
		complete += !is_tmp(names[i]);
	for (size_t i = 0; i < n; i++) {
		bool tmp = is_tmp(names[i]);
		if (!tmp && (keep <= 0 || complete - done <= (size_t)keep))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		int rc = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		if (rc != 0) {
			snprintf(errstr, errstr_size, "cannot delete %s: %s", path,
				 strerror(rc > 0 ? rc : errno));
			failed++;
		}
		done += !tmp;
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return failed;
}

int bd_store_checkpoint_rotate(bd_store_t *st, const char *dir, int keep,
			       char *path, size_t path_size, char *errstr,
			       size_t errstr_size)
{
	char target[4096], stamp[32];
	struct timeval tv;
	struct tm tm;
	int e;

	if (!dir[0]) {
		snprintf(errstr, errstr_size, "checkpoint: no directory given");
		return BD_ECONFIG;
	}
	if ((e = bd_store_mkdirs(dir, NULL, 0)) != 0) {
		snprintf(errstr, errstr_size, "checkpoint: cannot create %s: %s", dir,
			 strerror(e));
		return BD_ESTORE;
	}
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	if (snprintf(target, sizeof(target), "%s/" CP_PREFIX "%s.%03dZ", dir, stamp,
		     (int)(tv.tv_usec / 1000)) >= (int)sizeof(target)) {
		snprintf(errstr, errstr_size, "checkpoint: %s: name too long", dir);
		return BD_ECONFIG;
	}
	if ((e = bd_store_checkpoint(st, target, errstr, errstr_size)))
		return e;
	if (path)
		snprintf(path, path_size, "%s", target);
	if (rotate(dir, keep, errstr, errstr_size))
		bd_warn("checkpoint %s written, but old ones not deleted: %s", target,
			errstr);
	return 0;
}

/* Properties of the whole database (or of the cache every family shares):
 * the same value through any column family, so not summed. */
static bool db_wide(const char *name)
{
	return strstr(name, "running-") || strstr(name, "block-cache") ||
	       strstr(name, "background-errors");
}

int bd_store_property(bd_store_t *st, const char *name, double *out)
{
	uint64_t v;
	double sum = 0;
	if (db_wide(name)) {
		if (rocksdb_property_int(st->db, name, &v) != 0)
			return BD_EINVAL;
		*out = (double)v;
		return 0;
	}
	for (int i = 0; i < BD_CF__COUNT; i++) {
		if (rocksdb_property_int_cf(st->db, st->cf[i], name, &v) != 0)
			return BD_EINVAL;
		sum += (double)v;
	}
	*out = sum;
	return 0;
}

int bd_store_memory(bd_store_t *st, bd_store_memory_t *m)
{
	uint64_t v;
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < BD_CF__COUNT; i++) {
		if (rocksdb_property_int_cf(st->db, st->cf[i], "rocksdb.cur-size-all-mem-tables",
					    &v) != 0)
			return BD_EINVAL;
		m->memtable_cf[i] = (double)v;
		m->memtables += (double)v;
		if (rocksdb_property_int_cf(st->db, st->cf[i],
					    "rocksdb.estimate-table-readers-mem", &v) != 0)
			return BD_EINVAL;
		m->table_readers += (double)v;
		if (rocksdb_property_int_cf(st->db, st->cf[i], "rocksdb.total-sst-files-size",
					    &v) != 0)
			return BD_EINVAL;
		m->sst_cf[i] = (double)v;
	}
	m->block_cache = (double)rocksdb_cache_get_usage(st->cache);
	m->block_cache_pinned = (double)rocksdb_cache_get_pinned_usage(st->cache);
	return 0;
}

const char *bd_store_cf_name(bd_cf_t cf)
{
	return (unsigned)cf < BD_CF__COUNT ? cf_names[cf] : "?";
}
