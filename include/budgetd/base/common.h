/**
 * @file common.h
 * @brief Attributes, error codes and small helpers shared by every module.
 *
 * Error idiom (as in libuv): functions return 0 or a negative error code;
 * bd_strerror() names it.  Negative errno values are used where one fits,
 * the BD_E* codes below where none does.
 */
#ifndef BUDGETD_COMMON_H
#define BUDGETD_COMMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BD_WUR __attribute__((warn_unused_result))
#define BD_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define BD_UNUSED __attribute__((unused))
#define BD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/** budgetd's own error codes (below the errno range). */
enum bd_error {
	BD_EWIRE = -10001,    /**< bad wire framing (magic, length) */
	BD_ESCHEMA = -10002,  /**< unknown schema id or fingerprint */
	BD_EDECODE = -10003,  /**< Avro body does not decode */
	BD_EINVAL = -10004,   /**< a field value is out of range */
	BD_EUNKNOWN = -10005, /**< refers to something we do not know */
	BD_EDUP = -10006,     /**< duplicate of something already counted */
	BD_ESTORE = -10007,   /**< RocksDB error */
	BD_EKAFKA = -10008,   /**< librdkafka error */
	BD_ECONFIG = -10009,  /**< bad configuration */
	BD_EENCODING = -10010, /**< a string that is not valid UTF-8 */
};

/** @returns a static string naming @p err (negative errno or BD_E*). */
const char *bd_strerror(int err);

/**
 * Binary search in the @p n elements of @p size bytes at @p base, sorted
 * by @p cmp (which compares @p key with an element, like bsearch's).
 * @returns the index of @p key, or where it would be inserted; @p found
 * says which.
 */
int bd_sorted_pos(const void *base, int n, size_t size, const void *key,
		  int (*cmp)(const void *key, const void *elem), int *found);

/**
 * A reference count shared between threads (plans, snapshots, cluster
 * models: the main loop publishes them, the workers hold them).  Taking a
 * reference needs no ordering: the taker already holds one, so the object
 * cannot go.  Dropping one is acquire-release: every thread's writes to the
 * object happen before the last owner frees it.
 * @locality any thread.
 */
typedef _Atomic int bd_refcnt_t;

/** Sets @p r to one reference, the creator's (before any other thread sees it). */
static inline void bd_refcnt_init(bd_refcnt_t *r)
{
	atomic_init(r, 1);
}

/** Takes one more reference; the caller already holds one. */
static inline void bd_refcnt_get(bd_refcnt_t *r)
{
	atomic_fetch_add_explicit(r, 1, memory_order_relaxed);
}

/** Drops one reference.  @returns true when it was the last: free the object. */
static inline bool bd_refcnt_put(bd_refcnt_t *r)
{
	return atomic_fetch_sub_explicit(r, 1, memory_order_acq_rel) == 1;
}

#endif
