#include "budgetd/serve/health.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "budgetd/base/log.h"

#define MAX_BROKERS 64

typedef struct broker_seen_s {
	char client[64];
	int broker;
	int64_t last_up_ms; /* or first seen, when never up */
} broker_seen_t;

struct bd_health_s {
	broker_seen_t seen[MAX_BROKERS];
	int n_seen;
	uv_mutex_t lock; /* notes come from worker and librdkafka threads */
	int64_t window_ms;
	int64_t src_window_ms[BD_HEALTH__COUNT]; /* 0: window_ms */
	int64_t last_ms[BD_HEALTH__COUNT]; /* 0: never */
	char reason[BD_HEALTH__COUNT][256];
	int64_t cond_ms[BD_HEALTH__COUNT]; /* 0: the condition is clear */
	char cond[BD_HEALTH__COUNT][256];
	_Atomic uint64_t count[BD_HEALTH__COUNT];
};

static const char *const names[BD_HEALTH__COUNT] = {"kafka", "output", "store", "solve",
						     "spend", "input", "instance"};

const char *bd_health_src_name(bd_health_src_t src)
{
	return (unsigned)src < BD_HEALTH__COUNT ? names[src] : "?";
}

bd_health_t *bd_health_new(int64_t window_ms)
{
	bd_health_t *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	if (uv_mutex_init(&h->lock) != 0) {
		free(h);
		return NULL;
	}
	h->window_ms = window_ms;
	return h;
}

void bd_health_set_window(bd_health_t *h, int64_t window_ms)
{
	/* under the lock like every other field, though only the main loop
	 * reads the window (bd_health_eval) */
	uv_mutex_lock(&h->lock);
	h->window_ms = window_ms;
	uv_mutex_unlock(&h->lock);
}

void bd_health_set_src_window(bd_health_t *h, bd_health_src_t src, int64_t window_ms)
{
	if (!h || (unsigned)src >= BD_HEALTH__COUNT)
		return;
	uv_mutex_lock(&h->lock);
	h->src_window_ms[src] = window_ms;
	uv_mutex_unlock(&h->lock);
}

void bd_health_free(bd_health_t *h)
{
	if (!h)
		return;
	uv_mutex_destroy(&h->lock);
	free(h);
}

void bd_health_note_at(bd_health_t *h, bd_health_src_t src, int64_t now_ms,
		       const char *reason)
{
	if (!h || (unsigned)src >= BD_HEALTH__COUNT)
		return;
	atomic_fetch_add_explicit(&h->count[src], 1, memory_order_relaxed);
	uv_mutex_lock(&h->lock);
	h->last_ms[src] = now_ms > 0 ? now_ms : 1;
	snprintf(h->reason[src], sizeof(h->reason[src]), "%s", reason);
	uv_mutex_unlock(&h->lock);
}

void bd_health_note(bd_health_t *h, bd_health_src_t src, const char *fmt, ...)
{
	char reason[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	bd_health_note_at(h, src, (int64_t)(uv_hrtime() / 1000000), reason);
}

void bd_health_set_at(bd_health_t *h, bd_health_src_t src, int64_t now_ms,
		      const char *reason)
{
	if (!h || (unsigned)src >= BD_HEALTH__COUNT)
		return;
	uv_mutex_lock(&h->lock);
	if (!reason) {
		h->cond_ms[src] = 0;
	} else {
		if (!h->cond_ms[src])
			atomic_fetch_add_explicit(&h->count[src], 1, memory_order_relaxed);
		if (!h->cond_ms[src] || strcmp(h->cond[src], reason) != 0)
			h->cond_ms[src] = now_ms > 0 ? now_ms : 1; /* its latest news */
		snprintf(h->cond[src], sizeof(h->cond[src]), "%s", reason);
	}
	uv_mutex_unlock(&h->lock);
}

void bd_health_set(bd_health_t *h, bd_health_src_t src, const char *reason)
{
	bd_health_set_at(h, src, (int64_t)(uv_hrtime() / 1000000), reason);
}

int bd_health_eval(bd_health_t *h, int64_t now_ms, char *why, size_t why_size)
{
	int64_t worst_ms = 0;
	const char *worst = NULL;
	int src = 0;
	uv_mutex_lock(&h->lock);
	/* the most recent problem names the state: a note inside the window
	 * or a condition set */
	for (int s = 0; s < BD_HEALTH__COUNT; s++) {
		int64_t win = h->src_window_ms[s] > 0 ? h->src_window_ms[s] : h->window_ms;
		if (h->last_ms[s] && now_ms - h->last_ms[s] < win &&
		    (!worst || h->last_ms[s] > worst_ms)) {
			worst = h->reason[s];
			worst_ms = h->last_ms[s];
			src = s;
		}
		if (h->cond_ms[s] && (!worst || h->cond_ms[s] > worst_ms)) {
			worst = h->cond[s];
			worst_ms = h->cond_ms[s];
			src = s;
		}
	}
	if (worst && why)
		snprintf(why, why_size, "%s: %s", names[src], worst);
	uv_mutex_unlock(&h->lock);
	return worst != NULL;
}

uint64_t bd_health_count(const bd_health_t *h, bd_health_src_t src)
{
	return (unsigned)src < BD_HEALTH__COUNT
		       ? atomic_load_explicit(&h->count[src], memory_order_relaxed)
		       : 0;
}

int bd_health_broker_seen(bd_health_t *h, const char *client, int broker, int up,
			  int64_t now_ms)
{
	broker_seen_t *b = NULL;
	int lost = 0;
	uv_mutex_lock(&h->lock);
	for (int i = 0; i < h->n_seen && !b; i++)
		if (h->seen[i].broker == broker && strcmp(h->seen[i].client, client) == 0)
			b = &h->seen[i];
	if (!b && h->n_seen < MAX_BROKERS) {
		b = &h->seen[h->n_seen++];
		snprintf(b->client, sizeof(b->client), "%s", client);
		b->broker = broker;
		b->last_up_ms = now_ms;
	}
	if (b) {
		if (up)
			b->last_up_ms = now_ms;
		else
			lost = now_ms - b->last_up_ms >= BD_HEALTH_BROKER_GRACE_MS;
	}
	uv_mutex_unlock(&h->lock);
	return lost;
}
