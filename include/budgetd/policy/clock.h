/**
 * @file clock.h
 * @brief Campaign clocks: each campaign's own "now", moved only by its own
 *        feature events, and the rule that refuses event times too far ahead.
 *
 * A campaign's clock (its watermark) is the latest time of its feature
 * events that passed the rule.  It is that campaign's "now" for the solver
 * and the pacer, and so decides its day: the day's spend is read from the
 * statistics of the clock's day.  Nothing else moves it: not another
 * campaign's events, not outcomes, not control commands.
 *
 * The rule (clock.mode, docs/architecture.md "Time"):
 *  - wall (default): an event dated more than clock.max.ahead.s ahead of
 *    this host's clock is refused (dead letter `future`), feature events
 *    and outcomes alike; a campaign's "now" never runs ahead of the host's
 *    clock + clock.max.ahead.s either (the host's clock when the campaign
 *    has no event yet).
 *  - event (replays, simulated compressed days): no bound from the host's
 *    clock; a feature event dated more than clock.max.jump.s ahead of its
 *    campaign's clock is refused (before the campaign's first event: ahead
 *    of the time of the command that created it), so one event moves a
 *    campaign's clock by clock.max.jump.s at most.  0: no bound.
 *
 * A refused event moves nothing and gets no decision.
 *
 * Persistence: a worker writes, in the batch that holds the events, the
 * clock of every campaign it advanced under a key of the event's partition
 * (bd_clock_marks_*); at start-up each clock is the largest value stored
 * for its campaign (bd_clocks_load).  The value written is the shared clock
 * when the batch was staged, a time of an input event read by then: it may
 * run ahead of a crashed worker's written state, by events that are read
 * again after the restart anyway.
 *
 * @locality a bd_clock_t is shared: workers advance it, the main loop reads
 * it (atomics).  The registry (bd_clocks_t) belongs to the main loop; the
 * marks to one worker.
 */
#ifndef BUDGETD_CLOCK_H
#define BUDGETD_CLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "budgetd/policy/campaign.h"
#include "budgetd/base/common.h"
#include "budgetd/base/config.h"
#include "budgetd/state/store.h"

typedef enum bd_clock_mode_e { BD_CLOCK_WALL = 0, BD_CLOCK_EVENT = 1 } bd_clock_mode_t;

/** The rule, from clock.mode, clock.max.ahead.s and clock.max.jump.s. */
typedef struct bd_clock_rule_s {
	bd_clock_mode_t mode;
	int64_t max_ahead_ms; /**< wall mode */
	int64_t max_jump_ms;  /**< event mode; 0: no bound */
	int64_t max_behind_ms; /**< wall mode, stale requests; 0: none */
} bd_clock_rule_t;

void bd_clock_rule_from_config(bd_clock_rule_t *r, const bd_config_t *cfg);

/** One campaign's clock: allocated once by the registry, never moved. */
typedef struct bd_clock_s {
	_Atomic int64_t ms; /**< the latest accepted event time; 0: none yet */
	_Atomic int64_t out_ms; /**< the latest joined outcome's time (not
				     stored: the clock's value at load) */
	char id[BD_ID_MAX]; /**< the campaign */
} bd_clock_t;

/** The clock's value (0: no event yet).  @locality any thread. */
int64_t bd_clock_read(const bd_clock_t *c);
/** Moves the clock to @p ts_ms if that is later (atomic maximum).
 *  @locality any thread. */
void bd_clock_advance(bd_clock_t *c, int64_t ts_ms);
/**
 * The outcome clock: moved by the time of every outcome joined to one of
 * the campaign's decisions (atomic maximum), and to the clock itself when
 * the clocks are loaded at start-up.  It moves no day and refuses nothing:
 * it says how far the outcomes have come, so that the pending cost counts
 * the decisions whose outcomes cannot have come yet, whatever their event
 * time says (a backlog of requests decided in one burst after an outage,
 * an outcome stream behind the requests; docs/solving.md, Pending cost).
 * @locality any thread.
 */
void bd_clock_advance_outcome(bd_clock_t *c, int64_t ts_ms);
/**
 * The time up to which outcomes are taken as arrived for a campaign whose
 * "now" is @p now_ms: the outcome clock, never later than @p now_ms; @p now_ms
 * while no outcome clock is known.  @locality any thread.
 */
int64_t bd_clock_arrived(const bd_clock_t *c, int64_t now_ms);

/**
 * Checks the time @p ts_ms of a feature event of a campaign whose clock
 * reads @p clock_ms (0: no event yet) and which was created at
 * @p created_ms, the host's clock reading @p wall_ms.
 * @returns 0 when it passes; else how many ms it is ahead of what the
 * rule accepts, with the reason in @p why (which bound, by how much, the
 * setting).
 */
int64_t bd_clock_check_feature(const bd_clock_rule_t *r, int64_t clock_ms,
			       int64_t created_ms, int64_t wall_ms, int64_t ts_ms,
			       char *why, size_t why_size);
/**
 * The same for an outcome: in wall mode bounded like a feature event; in
 * event mode not by the clock (an outcome moves no clock and its cost
 * counts on its decision's day; decision.retention.s bounds it from its
 * decision's time, see docs/architecture.md "Time").
 */
int64_t bd_clock_check_outcome(const bd_clock_rule_t *r, int64_t wall_ms, int64_t ts_ms,
			       char *why, size_t why_size);

/**
 * Wall mode: is a feature event of campaign @p c at @p ts_ms stale?  It is
 * when it falls on an earlier day of the campaign than @p now_ms (the
 * campaign's now, bd_clock_now()) and lies more than clock.max.behind.s
 * behind the host's clock @p wall_ms: its decision would spend money today
 * while its spend counted on a day that is over, outside today's budget.
 * Event mode never calls a request stale (a replay reads partitions at
 * different paces, so days overlap).
 * @returns true with the reason in @p why.
 */
bool bd_clock_check_stale(const bd_clock_rule_t *r, const bd_campaign_t *c, int64_t now_ms,
			  int64_t wall_ms, int64_t ts_ms, char *why, size_t why_size);

/**
 * A campaign's "now" for solving and pacing: its clock; without an event
 * yet the host's clock (wall mode) or its creation time (event mode, the
 * host's clock if that is unknown too); in wall mode never later than the
 * host's clock + clock.max.ahead.s (a host clock set back, a clock stored
 * by an event-mode run).
 */
int64_t bd_clock_now(const bd_clock_rule_t *r, int64_t clock_ms, int64_t created_ms,
		     int64_t wall_ms);

/* ---- the registry (main loop) -------------------------------------------- */

/** Every campaign's clock, sorted by campaign id. */
typedef struct bd_clocks_s {
	bd_clock_t **v;
	int n, cap;
} bd_clocks_t;

/** The clock of campaign @p id, created (at 0) on first use.
 *  @returns NULL when out of memory. */
bd_clock_t *bd_clocks_get(bd_clocks_t *reg, const char *id);
/** Frees every clock: only once no snapshot that points to them is left. */
void bd_clocks_free(bd_clocks_t *reg);
/** Advances the clocks of @p reg to the values stored in @p st (the
 *  largest per campaign).  @returns 0 or an error. */
int bd_clocks_load(bd_clocks_t *reg, bd_store_t *st) BD_WUR;

/* ---- a worker's marks: clocks to write with its batch ----------------------- */

/** The (partition, clock) pairs a batch advanced, each once. */
typedef struct bd_clock_marks_s {
	struct bd_clock_mark_s *v; /**< open addressing; NULL clock = free */
	size_t cap, used;
} bd_clock_marks_t;

/** Notes that @p c moved on partition @p part in this batch.
 *  @returns 0 or -ENOMEM. */
int bd_clock_mark(bd_clock_marks_t *m, uint16_t part, bd_clock_t *c) BD_WUR;
/** Puts every marked clock's current value into @p b (column family
 *  meta, key "clok" + partition + campaign id) and forgets the marks. */
void bd_clock_marks_stage(bd_clock_marks_t *m, bd_store_batch_t *b);
void bd_clock_marks_free(bd_clock_marks_t *m);

/** The stored-clock key of campaign @p id on partition @p part into @p key
 *  (at least 6 + BD_ID_MAX bytes).  @returns its length. */
size_t bd_clock_key(uint8_t *key, uint16_t part, const char *id);

#endif
