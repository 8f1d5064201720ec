/* Expired decisions: a stored decision older than decision.retention.s plus
 * an hour's grace, by its campaign's clock, can no longer be joined (its
 * outcome would be dead-lettered as expired) and is dropped by RocksDB's
 * compactions (store.h, bd_store_set_expiry); so is a pending mark (carry.h)
 * older than the oldest campaign's limit.  The main loop publishes each
 * campaign's limit every decision.expiry.interval.s and compacts both
 * families on libuv's thread pool (every file, so no expired record is
 * left behind); the compaction threads read the limits under a lock.
 *
 * The grace is for outcomes that come out of order: one dated before its
 * campaign's clock (another partition, a slow producer) may still join a
 * decision up to decision.retention.s before it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/log.h"
#include "budgetd/policy/carry.h"
#include "budgetd/policy/decide.h"

#include "daemon_int.h"

#define EXPIRY_GRACE_MS (3600 * 1000LL)

typedef struct limit_s {
	char id[BD_ID_MAX];
	int64_t before_ms; /* decisions before it expire */
} limit_t;

struct bd_expiry_s {
	pthread_mutex_t lock;
	limit_t *v; /* sorted by id */
	int n;
	int64_t min_before_ms; /* over the campaigns: the pending marks' limit */
	/* the compactions, on libuv's thread pool (main loop only) */
	uv_work_t req;
	bool running;
	bd_store_t *store;
	char errstr[512]; /* the pass's first error, for the main loop */
};

static int cmp_limit(const void *a, const void *b)
{
	return strcmp(((const limit_t *)a)->id, ((const limit_t *)b)->id);
}

/* The limit of campaign @p id (@p len bytes, not terminated), or INT64_MIN
 * (nothing expires) for a campaign not known.  Under the lock. */
static int64_t limit_of(const bd_expiry_t *x, const char *id, size_t len)
{
	int lo = 0, hi = x->n - 1;
	while (lo <= hi) {
		int mid = (lo + hi) / 2;
		int c = strncmp(x->v[mid].id, id, len);
		if (c == 0 && x->v[mid].id[len] != '\0')
			c = 1;
		if (c == 0)
			return x->v[mid].before_ms;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return INT64_MIN;
}

/* bd_store_expire_fn: on RocksDB's compaction threads. */
static bool expired(void *opaque, bd_cf_t cf, const char *key, size_t klen, const char *val,
		    size_t vlen)
{
	bd_expiry_t *x = opaque;
	bool drop = false;
	pthread_mutex_lock(&x->lock);
	if (cf == BD_CF_DECISIONS) {
		int64_t ts;
		const char *camp;
		size_t clen;
		if (bd_decision_rec_peek((const uint8_t *)val, vlen, &ts, &camp, &clen) == 0)
			drop = ts < limit_of(x, camp, clen);
	} else if (cf == BD_CF_PENDING && klen == BD_CARRY_PENDING_KEY) {
		drop = (int64_t)bd_rd_be64((const uint8_t *)key + 2) < x->min_before_ms;
	}
	pthread_mutex_unlock(&x->lock);
	return drop;
}

int bd_expiry_new(bd_expiry_t **out)
{
	bd_expiry_t *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	pthread_mutex_init(&x->lock, NULL);
	x->min_before_ms = INT64_MIN;
	*out = x;
	return 0;
}

void bd_expiry_free(bd_expiry_t *x)
{
	if (!x)
		return;
	pthread_mutex_destroy(&x->lock);
	free(x->v);
	free(x);
}

/* Each campaign's limit from its clock, published for the compactions.
 * @returns 0 or -ENOMEM (the old limits stay). */
static int publish_limits(bd_daemon_t *d)
{
	bd_expiry_t *x = d->expiry;
	const int n = d->campaigns.n;
	const int64_t keep = (int64_t)d->cfg->decision_retention_s * 1000 + EXPIRY_GRACE_MS;
	limit_t *v = calloc((size_t)(n ? n : 1), sizeof(*v));
	int64_t min_before = INT64_MAX;
	if (!v)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		const bd_campaign_t *c = &d->campaigns.v[i];
		memcpy(v[i].id, c->id, sizeof(v[i].id));
		v[i].before_ms = bd_daemon_campaign_now(d, c) - keep;
		if (v[i].before_ms < min_before)
			min_before = v[i].before_ms;
	}
	qsort(v, (size_t)n, sizeof(*v), cmp_limit);
	pthread_mutex_lock(&x->lock);
	free(x->v);
	x->v = v;
	x->n = n;
	x->min_before_ms = n ? min_before : INT64_MIN;
	pthread_mutex_unlock(&x->lock);
	return 0;
}

/* On libuv's thread pool: both families compacted through the rule. */
static void expiry_work(uv_work_t *req)
{
	bd_expiry_t *x = req->data;
	static const bd_cf_t cfs[] = {BD_CF_DECISIONS, BD_CF_PENDING};
	x->errstr[0] = '\0';
	for (size_t i = 0; i < BD_ARRAY_SIZE(cfs); i++)
		if (bd_store_expire_now(x->store, cfs[i], x->errstr, sizeof(x->errstr)) != 0)
			return;
}

static void expiry_done(uv_work_t *req, int status)
{
	bd_expiry_t *x = req->data;
	x->running = false;
	if (status == 0 && x->errstr[0])
		bd_warn("expiry: compaction failed: %s", x->errstr);
	bd_debug("expiry: %llu expired records dropped since the start",
		 (unsigned long long)bd_store_expired(x->store));
}

/* Publishes the limits and compacts with them, one pass at a time: a pass
 * still running when the timer fires again is not doubled (the next tick
 * takes the newer limits). */
static void on_expiry_timer(uv_timer_t *t)
{
	bd_daemon_t *d = t->data;
	bd_expiry_t *x = d->expiry;
	if (publish_limits(d) != 0) {
		bd_warn("expiry: out of memory for the campaigns' limits; the old ones stay");
		return;
	}
	if (x->running)
		return;
	x->store = d->store;
	x->req.data = x;
	if (uv_queue_work(&d->loop, &x->req, expiry_work, expiry_done) == 0)
		x->running = true;
	else
		bd_warn("expiry: cannot queue the compaction");
}

void bd_daemon_expiry_start(bd_daemon_t *d)
{
	if (publish_limits(d) != 0)
		bd_warn("expiry: out of memory for the campaigns' limits");
	bd_store_set_expiry(d->store, expired, d->expiry);
	bd_daemon_timer_every(&d->expiry_timer, on_expiry_timer,
			      (uint64_t)d->cfg->decision_expiry_interval_s * 1000);
}
