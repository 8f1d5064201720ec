/*
 * Campaign clocks (see clock.h): the rule, the registry, and the marks a
 * worker writes with its batch.
 */
#include "budgetd/policy/clock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/hash.h"

#define KEY_TAG "clok"
#define KEY_TAG_LEN 4

void bd_clock_rule_from_config(bd_clock_rule_t *r, const bd_config_t *cfg)
{
	r->mode = strcmp(cfg->clock_mode, "event") == 0 ? BD_CLOCK_EVENT : BD_CLOCK_WALL;
	r->max_ahead_ms = (int64_t)cfg->clock_max_ahead_s * 1000;
	r->max_jump_ms = (int64_t)cfg->clock_max_jump_s * 1000;
	r->max_behind_ms = (int64_t)cfg->clock_max_behind_s * 1000;
}

/*
 * Relaxed throughout: a clock publishes nothing but its own value.  No
 * reader uses it to reach other data (the statistics it selects a day of
 * are read under their own synchronisation), and every reader takes
 * whatever value it sees as "now": a slightly older one is a clock read a
 * moment earlier.  What matters is that the value never tears (64-bit
 * atomic) and never goes back (the compare-and-swap keeps the maximum: an
 * older event of another worker cannot undo a later one).
 */
int64_t bd_clock_read(const bd_clock_t *c)
{
	return atomic_load_explicit(&((bd_clock_t *)c)->ms, memory_order_relaxed);
}

static void atomic_max(_Atomic int64_t *v, int64_t ts_ms)
{
	int64_t cur = atomic_load_explicit(v, memory_order_relaxed);
	while (ts_ms > cur &&
	       !atomic_compare_exchange_weak_explicit(v, &cur, ts_ms, memory_order_relaxed,
						      memory_order_relaxed))
		;
}

void bd_clock_advance(bd_clock_t *c, int64_t ts_ms)
{
	atomic_max(&c->ms, ts_ms);
}

void bd_clock_advance_outcome(bd_clock_t *c, int64_t ts_ms)
{
	atomic_max(&c->out_ms, ts_ms);
}

int64_t bd_clock_arrived(const bd_clock_t *c, int64_t now_ms)
{
	int64_t out = c ? atomic_load_explicit(&((bd_clock_t *)c)->out_ms, memory_order_relaxed) : 0;
	return out > 0 && out < now_ms ? out : now_ms;
}

/* ts_ms against the host's clock (both modes' outcomes use it too). */
static int64_t beyond_wall(const bd_clock_rule_t *r, int64_t wall_ms, int64_t ts_ms,
			   char *why, size_t why_size)
{
	int64_t ahead = ts_ms - wall_ms;
	if (ahead <= r->max_ahead_ms)
		return 0;
	snprintf(why, why_size,
		 "ts_ms %lld is %lld s ahead of this host's clock (clock.max.ahead.s is %lld, "
		 "clock.mode wall)",
		 (long long)ts_ms, (long long)(ahead / 1000), (long long)(r->max_ahead_ms / 1000));
	return ahead - r->max_ahead_ms;
}

int64_t bd_clock_check_feature(const bd_clock_rule_t *r, int64_t clock_ms,
			       int64_t created_ms, int64_t wall_ms, int64_t ts_ms,
			       char *why, size_t why_size)
{
	if (r->mode == BD_CLOCK_WALL)
		return beyond_wall(r, wall_ms, ts_ms, why, why_size);
	/* event mode: from the campaign's own clock; a campaign without an
	 * event yet starts from the command that created it */
	int64_t ref = clock_ms > 0 ? clock_ms : created_ms;
	if (r->max_jump_ms <= 0 || ref <= 0 || ts_ms - ref <= r->max_jump_ms)
		return 0;
	snprintf(why, why_size,
		 "ts_ms %lld is %lld s ahead of its campaign's %s %lld (clock.max.jump.s is "
		 "%lld, clock.mode event)",
		 (long long)ts_ms, (long long)((ts_ms - ref) / 1000),
		 clock_ms > 0 ? "clock" : "creation time", (long long)ref,
		 (long long)(r->max_jump_ms / 1000));
	return ts_ms - ref - r->max_jump_ms;
}

int64_t bd_clock_check_outcome(const bd_clock_rule_t *r, int64_t wall_ms, int64_t ts_ms,
			       char *why, size_t why_size)
{
	return r->mode == BD_CLOCK_WALL ? beyond_wall(r, wall_ms, ts_ms, why, why_size) : 0;
}

bool bd_clock_check_stale(const bd_clock_rule_t *r, const bd_campaign_t *c, int64_t now_ms,
			  int64_t wall_ms, int64_t ts_ms, char *why, size_t why_size)
{
	if (r->mode != BD_CLOCK_WALL || r->max_behind_ms <= 0 ||
	    wall_ms - ts_ms <= r->max_behind_ms)
		return false;
	int64_t day = bd_campaign_day(c, ts_ms, NULL), today = bd_campaign_day(c, now_ms, NULL);
	if (day >= today)
		return false;
	snprintf(why, why_size,
		 "ts_ms %lld is on day %lld of its campaign, which is at day %lld, and %lld s behind "
		 "this host's clock (clock.max.behind.s is %lld, clock.mode wall): its coupon would "
		 "be spent today and counted on a day that is over",
		 (long long)ts_ms, (long long)day, (long long)today,
		 (long long)((wall_ms - ts_ms) / 1000), (long long)(r->max_behind_ms / 1000));
	return true;
}

int64_t bd_clock_now(const bd_clock_rule_t *r, int64_t clock_ms, int64_t created_ms,
		     int64_t wall_ms)
{
	if (r->mode == BD_CLOCK_EVENT)
		return clock_ms > 0 ? clock_ms : created_ms > 0 ? created_ms : wall_ms;
	if (clock_ms <= 0)
		return wall_ms;
	return clock_ms < wall_ms + r->max_ahead_ms ? clock_ms : wall_ms + r->max_ahead_ms;
}

/* ---- the registry ------------------------------------------------------------ */

static int cmp_id(const void *key, const void *elem)
{
	return strcmp(key, (*(bd_clock_t *const *)elem)->id);
}

bd_clock_t *bd_clocks_get(bd_clocks_t *reg, const char *id)
{
	int found, i = bd_sorted_pos(reg->v, reg->n, sizeof(*reg->v), id, cmp_id, &found);
	bd_clock_t *c;

	if (found)
		return reg->v[i];
	if (strlen(id) >= BD_ID_MAX)
		return NULL;
	if (reg->n == reg->cap) {
		int cap = reg->cap ? 2 * reg->cap : 16;
		bd_clock_t **v = realloc(reg->v, (size_t)cap * sizeof(*v));
		if (!v)
			return NULL;
		reg->v = v;
		reg->cap = cap;
	}
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	snprintf(c->id, sizeof(c->id), "%s", id);
	memmove(&reg->v[i + 1], &reg->v[i], (size_t)(reg->n - i) * sizeof(*reg->v));
	reg->v[i] = c;
	reg->n++;
	return c;
}

void bd_clocks_free(bd_clocks_t *reg)
{
	for (int i = 0; i < reg->n; i++)
		free(reg->v[i]);
	free(reg->v);
	reg->v = NULL;
	reg->n = reg->cap = 0;
}

size_t bd_clock_key(uint8_t *key, uint16_t part, const char *id)
{
	size_t n = strnlen(id, BD_ID_MAX - 1);
	memcpy(key, KEY_TAG, KEY_TAG_LEN);
	bd_be16(key + KEY_TAG_LEN, part);
	memcpy(key + KEY_TAG_LEN + 2, id, n);
	return KEY_TAG_LEN + 2 + n;
}

static int load_cb(const char *key, size_t klen, const char *val, size_t vlen, void *opaque)
{
	char id[BD_ID_MAX];
	size_t n = klen - (KEY_TAG_LEN + 2);
	bd_clock_t *c;

	if (klen <= KEY_TAG_LEN + 2 || n >= BD_ID_MAX || vlen != 8)
		return 0; /* not ours: ignored */
	memcpy(id, key + KEY_TAG_LEN + 2, n);
	id[n] = '\0';
	if (!(c = bd_clocks_get(opaque, id)))
		return -ENOMEM;
	bd_clock_advance(c, (int64_t)bd_rd_be64((const uint8_t *)val));
	/* the outcomes are taken as caught up with the stored clock: what
	 * came in before the stop is in the statistics already */
	bd_clock_advance_outcome(c, bd_clock_read(c));
	return 0;
}

int bd_clocks_load(bd_clocks_t *reg, bd_store_t *st)
{
	return bd_store_scan(st, BD_CF_META, KEY_TAG, KEY_TAG_LEN, load_cb, reg);
}

/* ---- marks ------------------------------------------------------------------- */

struct bd_clock_mark_s {
	bd_clock_t *clock;
	uint16_t part;
};

static struct bd_clock_mark_s *mark_slot(bd_clock_marks_t *m, uint16_t part,
					 const bd_clock_t *c)
{
	size_t i = (size_t)bd_hash_mix((uint64_t)(uintptr_t)c ^ ((uint64_t)part << 48)) &
		   (m->cap - 1);
	for (;; i = (i + 1) & (m->cap - 1))
		if (!m->v[i].clock || (m->v[i].clock == c && m->v[i].part == part))
			return &m->v[i];
}

int bd_clock_mark(bd_clock_marks_t *m, uint16_t part, bd_clock_t *c)
{
	struct bd_clock_mark_s *s;
	if (2 * (m->used + 1) > m->cap) {
		bd_clock_marks_t bigger = {calloc(m->cap ? 2 * m->cap : 64, sizeof(*m->v)),
					   m->cap ? 2 * m->cap : 64, m->used};
		if (!bigger.v)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->v[i].clock)
				*mark_slot(&bigger, m->v[i].part, m->v[i].clock) = m->v[i];
		free(m->v);
		*m = bigger;
	}
	s = mark_slot(m, part, c);
	if (!s->clock) {
		s->clock = c;
		s->part = part;
		m->used++;
	}
	return 0;
}

void bd_clock_marks_stage(bd_clock_marks_t *m, bd_store_batch_t *b)
{
	uint8_t key[KEY_TAG_LEN + 2 + BD_ID_MAX], val[8];
	for (size_t i = 0; i < m->cap && m->used; i++) {
		struct bd_clock_mark_s *s = &m->v[i];
		if (!s->clock)
			continue;
		bd_be64(val, (uint64_t)bd_clock_read(s->clock));
		bd_store_batch_put(b, BD_CF_META, key, bd_clock_key(key, s->part, s->clock->id),
				   val, sizeof(val));
		s->clock = NULL;
		m->used--;
	}
}

void bd_clock_marks_free(bd_clock_marks_t *m)
{
	free(m->v);
	m->v = NULL;
	m->cap = m->used = 0;
}
