/**
 * @file report.h
 * @brief What the admin endpoint shows: the Prometheus metrics, the JSON
 *        API (budgetctl, the status page) and each campaign's track of the
 *        day (spend against the pace line), rendered from the daemon's
 *        state by the main loop.
 *
 * @locality the main loop: the inputs are the main loop's own state and
 *            relaxed-atomic counters of the workers.
 */
#ifndef BUDGETD_REPORT_H
#define BUDGETD_REPORT_H

#include <stdatomic.h>
#include <stdint.h>

#include "budgetd/policy/campaign.h"
#include "budgetd/wire/cluster.h"
#include "budgetd/base/config.h"
#include "budgetd/serve/counters.h"
#include "budgetd/policy/estimate.h"
#include "budgetd/policy/experiment.h"
#include "budgetd/serve/health.h" /* BD_HEALTH__COUNT */
#include "budgetd/base/histo.h"
#include "budgetd/policy/plan.h"
#include "budgetd/base/sbuf.h"

/** Points of a day's spend track (one per BD_REPORT_STEP_S of the day). */
#define BD_REPORT_STEP_S 300
#define BD_REPORT_POINTS (86400 / BD_REPORT_STEP_S + 1)

/** One campaign's day as of the latest pace check. */
typedef struct bd_report_track_s {
	char campaign_id[BD_ID_MAX];
	int64_t day;	   /**< the campaign's day number (-1: none yet) */
	double sec_of_day; /**< of the latest check */
	double spent;	   /**< realised + expected cost of pending decisions */
	double pending;	   /**< of which the expected cost of pending decisions */
	double profile_cum[25]; /**< share of a day's traffic before hour h */
	int n_points;
	float point_s[BD_REPORT_POINTS], point_spent[BD_REPORT_POINTS];
	/** the daily budget at each point: where it moves, the budget changed */
	double point_budget[BD_REPORT_POINTS];
	/* the estimates behind the latest plan, for "show clusters" */
	int k, j;
	double *r, *c, *n; /**< k x j: value, cost per request; decisions */
	/** today's totals by treatment (bd_estimate_t.today_by_t), j rows */
	double today_by_t[BD_MAX_TREATMENTS][BD_DAY__COUNT];
	/* the campaign's failing solve ("" while its solves succeed) and the
	 * count of failed solves since start */
	char solve_error[256];
	uint64_t solve_failures;
	/** decisions the budget guard turned to control, over all the
	 *  campaign's plans (the workers add through bd_plan_guard_t) */
	_Atomic uint64_t guarded;
	/** the charged cost of the campaign's decisions since start, over
	 *  all its plans (bd_plan_guard_t.campaign_ledger) */
	_Atomic double ledger;
	/** why the campaign was last logged off pace ("" while on pace):
	 *  daemon_solve.c logs a state once when it begins, not at every check */
	char off_pace[48];
	/** the holdout's sums (experiment.h) of the latest pace check, NULL
	 *  when the campaign has none; owned */
	bd_experiment_days_t *exp;
} bd_report_track_t;

/** Records a pace check of campaign @p c (its estimate finished). */
int bd_report_track_update(bd_report_track_t *t, const bd_campaign_t *c,
			   const bd_estimate_t *e, double spent, int64_t day,
			   double sec_of_day) BD_WUR;
void bd_report_track_free(bd_report_track_t *t);
/** The pace line at @p sec_of_day: budget x share of the day's traffic. */
double bd_report_pace_target(const bd_report_track_t *t, double budget, double sec_of_day);

typedef struct bd_report_lag_s {
	const char *topic;
	int partition;
	int64_t lag;
} bd_report_lag_t;

/** What Prometheus' client libraries export as process_* metrics. */
typedef struct bd_report_process_s {
	double cpu_seconds;   /**< user + system CPU time */
	double virtual_bytes; /**< the address space's size */
	double open_fds, max_fds;
} bd_report_process_t;

typedef struct bd_report_s {
	const bd_config_t *cfg;
	int64_t now_ms; /**< the latest campaign clock (clock.h), else the host's */
	int64_t started_ms;
	const int64_t *campaign_now; /**< parallel to campaigns->v: each one's now */
	int ready;
	int degraded;
	const char *why; /**< when degraded */
	const char *bootstrap; /**< the brokers the daemon uses (for budgetctl) */
	uint64_t health_problems[BD_HEALTH__COUNT]; /**< by bd_health_src_t */
	bd_worker_counters_t counters;
	uint64_t control_in, control_dead, plans_out, models_out;
	uint64_t control_dups; /**< commands ignored: command_id applied before */
	bd_histo_snap_t latency; /**< request -> decision */
	bd_histo_snap_t solve;	 /**< seconds per solve pass */
	const bd_campaigns_t *campaigns;
	bd_plan_t *const *plans;	       /**< parallel to campaigns->v */
	const bd_report_track_t *const *tracks; /**< parallel, may hold NULLs */
	const bd_cluster_model_t *model;
	int n_lag;
	const bd_report_lag_t *lag;
	int n_store;
	const char *const *store_name;
	const double *store_value;
	double rss_bytes;	/**< the process' resident set (NAN: unknown) */
	bd_report_process_t proc; /**< process_* metrics (bd_report_process) */
	int have_mem;		/**< mem holds RocksDB's memory */
	bd_store_memory_t mem;
	/* instance: deciding or standing by (lock.h), inputs paused */
	int active, inputs_paused;
	/* "host:pid" (NULL: "?"), what tells the instances of a group apart */
	const char *instance_id;
	uint64_t lock_changes;
	/* restores from the changelog on taking the lock: runs, records read,
	 * batches applied, records skipped as the store's own, records of a
	 * fenced (zombie's) epoch; the last one's
	 * seconds; the owner epoch written (-1: none) */
	uint64_t restore_runs, restore_records, restore_batches, restore_skipped, restore_fenced;
	double restore_seconds;
	int64_t clog_epoch;
	/* inputs skipped: offset resets and the offsets they skipped, by
	 * input topic (features, outcomes, control) */
	uint64_t input_resets[3], input_skipped[3];
	/** decision records and pending marks the expiry dropped (store.h) */
	uint64_t decisions_expired;
} bd_report_t;

/** The resident set of this process in bytes (/proc/self/statm), NAN when
 *  it cannot be read. */
double bd_report_rss_bytes(void);

/** The process' CPU time, virtual memory, open and maximum file
 *  descriptors into @p p (NAN where unknown).  @locality any thread. */
void bd_report_process(bd_report_process_t *p);

/** /metrics: Prometheus text format 0.0.4. */
void bd_report_metrics(const bd_report_t *r, bd_sbuf_t *out);
/** /api/campaigns, /api/plans, /api/clusters, /api/models, /api/health,
 *  /api/status (what the status page draws), /api/config. */
void bd_report_api_campaigns(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_api_plans(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_api_clusters(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_api_models(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_api_health(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_api_status(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_api_config(const bd_report_t *r, bd_sbuf_t *out);
/** The same as aligned text tables (budgetctl without --json). */
void bd_report_text_campaigns(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_text_plans(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_text_clusters(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_text_models(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_text_health(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_text_config(const bd_report_t *r, bd_sbuf_t *out);
/** /api/instance and /text/instance (`budgetctl show instance`): this
 *  instance in its group: its id (host:pid), deciding or standing by, its
 *  changelog epoch and restores, the input partitions its workers hold
 *  with their lag (report_instance.c). */
void bd_report_api_instance(const bd_report_t *r, bd_sbuf_t *out);
/** The restores' JSON members (`,"restores":..,...,"restore_seconds":..`),
 *  shared by /api/instance and /api/status's instance object. */
void bd_report_json_restores(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_text_instance(const bd_report_t *r, bd_sbuf_t *out);
/** /api/experiment and /text/experiment: each campaign's holdout report
 *  (today and to date), and its /metrics families (report_experiment.c). */
void bd_report_api_experiment(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_text_experiment(const bd_report_t *r, bd_sbuf_t *out);
void bd_report_metrics_experiment(const bd_report_t *r, bd_sbuf_t *out);
/** One campaign's (index @p i) object of /api/experiment, which /api/status
 *  also carries as its "experiment". */
void bd_report_experiment_json(const bd_report_t *r, int i, bd_sbuf_t *out);

#endif
