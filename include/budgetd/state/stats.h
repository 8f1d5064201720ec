/**
 * @file stats.h
 * @brief Sufficient statistics: keys, vectors, and the per-batch delta map.
 *
 * Two kinds of vectors live in the stats column family, summed by its merge
 * operator:
 *  - cell: partition, campaign, model version, cluster, treatment, hour of
 *    the decision (hours since the epoch; a historical sample's hour of day
 *    in UTC as -1 to -24, 0 for those of older state: bd_stats_log_hour) ->
 *    BD_STAT__COUNT doubles (exposures, outcomes, sums and sums of squares
 *    of value, cost and orders, their inverse-propensity-weighted sums, and
 *    the same restricted to exploration traffic, the RCT slice).  An outcome
 *    lands in its decision's hour, so an hour older than the attribution
 *    delay holds complete outcomes for all its decisions ("matured"), and
 *    the hours give each cluster's traffic by time of day;
 *  - day: partition, campaign, day number -> BD_DAY__COUNT doubles
 *    (decisions, outcomes, realised cost, value, orders);
 *  - delay: partition, campaign -> BD_DELAY_BUCKETS doubles: realised cost
 *    by the delay from decision to outcome (BD_DELAY_BUCKET_S wide, the
 *    last bucket open-ended), for the share of a young hour's cost still
 *    to come;
 *  - experiment: partition, campaign, day, arm, user group -> BD_EXP__COUNT
 *    doubles (experiment.h: the holdout's report).
 * Keys start with the partition (big-endian u16) so a partition's state
 * moves as a unit.  Workers add into an in-memory delta map and write one
 * merge per touched key per batch (a merge per event tops out near 0.2 M/s).
 *
 * @locality a delta map belongs to one worker thread.
 */
#ifndef BUDGETD_STATS_H
#define BUDGETD_STATS_H

#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/state/store.h"

enum bd_stat {
	BD_STAT_DECISIONS = 0, /**< exposures: decisions made */
	BD_STAT_OUTCOMES,      /**< outcomes joined */
	BD_STAT_W,             /**< sum 1/propensity over outcomes */
	BD_STAT_W2,            /**< sum 1/propensity^2 */
	BD_STAT_VALUE,
	BD_STAT_VALUE2,
	BD_STAT_COST,
	BD_STAT_COST2,
	BD_STAT_ORDERS,
	BD_STAT_ORDERS2,
	BD_STAT_WVALUE, /**< sum value/propensity */
	BD_STAT_WCOST,
	BD_STAT_WORDERS,
	BD_STAT_XN, /**< outcomes of explored (randomised) decisions */
	BD_STAT_XVALUE,
	BD_STAT_XCOST,
	BD_STAT_XORDERS,
	BD_STAT_DW,   /**< sum 1/propensity over decisions (exposures) */
	BD_STAT_CONV, /**< outcomes with at least one order */
	BD_STAT__COUNT
};

enum bd_day {
	BD_DAY_DECISIONS = 0,
	BD_DAY_OUTCOMES,
	BD_DAY_COST,
	BD_DAY_VALUE,
	BD_DAY_ORDERS,
	BD_DAY__COUNT
};

#define BD_STATS_KEY_MAX 160
#define BD_DELAY_BUCKETS 18
#define BD_DELAY_BUCKET_S 600
_Static_assert(BD_DELAY_BUCKETS <= BD_STAT__COUNT, "a delay vector fits a delta slot");

typedef enum bd_stats_key_kind {
	BD_STATS_CELL = 'S',
	BD_STATS_DAY = 'D',
	BD_STATS_DELAY = 'L',
	BD_STATS_EXPERIMENT = 'E',
} bd_stats_key_kind_t;

typedef struct bd_stats_key_s {
	bd_stats_key_kind_t kind;
	uint16_t partition;
	char campaign[128];
	int64_t model_version; /**< cell */
	int32_t cluster;       /**< cell */
	int32_t treatment;     /**< cell */
	int64_t hour;          /**< cell: decision time / 1 h; <= 0: historical */
	int64_t day;           /**< day, experiment */
	int arm, bucket;       /**< experiment (experiment.h) */
} bd_stats_key_t;

/** The cell delta of one exposure (a decision made with @p propensity). */
void bd_stats_exposure_vector(double x[BD_STAT__COUNT], double propensity);
/** The cell delta of one joined outcome (exposure excluded). */
void bd_stats_outcome_vector(double x[BD_STAT__COUNT], double value, double cost,
			     double orders, double propensity, int explored);

size_t bd_stats_cell_key(uint8_t *buf, uint16_t partition, const char *campaign,
			 int64_t model_version, int32_t cluster,
			 int32_t treatment, int64_t hour);
/** The hour bucket of a decision at @p ts_ms (never 0, which is historical). */
static inline int64_t bd_stats_hour(int64_t ts_ms)
{
	int64_t h = ts_ms >= 0 ? ts_ms / 3600000 : 0;
	return h > 0 ? h : 1;
}

/** The hour bucket of a historical sample decided at @p ts_ms: -1 - its
 *  hour of day in UTC (-1 to -24).  Historical samples are evidence, never
 *  traffic, but the hours a campaign's log was decided at are a first day's
 *  traffic profile (estimate.c). */
static inline int64_t bd_stats_log_hour(int64_t ts_ms)
{
	int64_t h = ts_ms >= 0 ? ts_ms / 3600000 % 24 : 0;
	return -1 - h;
}

size_t bd_stats_delay_key(uint8_t *buf, uint16_t partition, const char *campaign);
size_t bd_stats_day_key(uint8_t *buf, uint16_t partition, const char *campaign,
			int64_t day);
size_t bd_stats_experiment_key(uint8_t *buf, uint16_t partition, const char *campaign,
				int64_t day, int arm, int bucket);
int bd_stats_key_parse(const void *key, size_t klen, bd_stats_key_t *k) BD_WUR;

typedef struct bd_stats_delta_s bd_stats_delta_t;

bd_stats_delta_t *bd_stats_delta_new(void);
void bd_stats_delta_free(bd_stats_delta_t *d);
/** Adds @p x (n <= BD_STAT__COUNT doubles) to the delta of @p key. */
int bd_stats_delta_add(bd_stats_delta_t *d, const void *key, size_t klen,
		       const double *x, int n) BD_WUR;
/** Writes one merge per touched key into @p b and empties the map. */
void bd_stats_delta_flush(bd_stats_delta_t *d, bd_store_batch_t *b);
int bd_stats_delta_count(const bd_stats_delta_t *d);

#endif
