/**
 * @file decide.h
 * @brief Request -> cluster -> treatment, and the stored decision record.
 *
 * Determinism: every draw is a hash of (decision id, purpose), never an RNG,
 * so the same request gets the same decision on any instance and after any
 * restart, given the same campaign, plan and model.  (A request seen again
 * later is answered from the stored decision, not decided anew.)  The one
 * draw per user, not per request, is the holdout's (experiment.h): a user
 * in the campaign's holdout gets control on every request, reason
 * "holdout", propensity 1, unless the campaign is paused.
 *
 * decision_id = 16 lowercase hex digits of bd_hash of
 * campaign_id + '\0' + user_id + '\0' + request_id with seed 0 (the exact
 * formula and a test vector: docs/messages.md, "Decision ids").  The user
 * is in it because the same request_id of another user lands on another
 * partition, where no lookup could find the first decision.
 *
 * @locality any thread; pure functions.
 */
#ifndef BUDGETD_DECIDE_H
#define BUDGETD_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "budgetd/policy/campaign.h"
#include "budgetd/wire/cluster.h"
#include "budgetd/wire/messages.h"
#include "budgetd/policy/plan.h"

uint64_t bd_decision_hash(const char *campaign_id, const char *user_id,
			  const char *request_id);
/** Writes the 16-digit id of @p h into @p out (17 bytes). */
void bd_decision_id_format(uint64_t h, char out[17]);
/** Parses a 16-digit id; @returns 0 or BD_EINVAL. */
int bd_decision_id_parse(const char *s, uint64_t *h) BD_WUR;

/**
 * Decides for @p ev.  @p plan may be NULL (uniform).  A plan made for
 * another model version than @p m is ignored (uniform), since its cluster
 * ids would mean other users.  Fills every field of @p d except the
 * strings, which the caller points at @p ev's and @p id.
 */
void bd_decide(const bd_campaign_t *c, const bd_plan_t *plan,
	       const bd_cluster_model_t *m, const bd_feature_event_t *ev,
	       uint64_t hash, bd_decision_t *d);

/** The reason of a holdout decision. */
#define BD_REASON_HOLDOUT "holdout"
/** Whether a decision of reason @p reason was a holdout's. */
bool bd_decide_is_holdout(const char *reason);
/** The experiment arm a decision publishes: "holdout", "uniform" (decided
 *  by a uniform arm, campaign id @p decided_by), "plan", or "" when its
 *  campaign runs no experiment (@p experiment false). */
const char *bd_decide_arm_name(const char *decided_by, const char *reason, bool experiment);

/**
 * The budget guard (docs/solving.md): commits the estimated cost of @p d,
 * decided under @p plan by bd_decide, to the plan's guard; when it would
 * pass the guard's limit, @p d becomes control with propensity 1, not
 * explored, reason "budget-guard" (it was control with certainty: the IPW
 * and RCT estimates stay unbiased).  Control decisions, and decisions the
 * plan did not make (no plan, another model), commit nothing.  Unlike
 * bd_decide it depends on the order of decisions (a retry is answered from
 * the stored decision).  @returns bd_plan_guard_commit's result.
 * @locality any thread (the plan's guard is atomic).
 */
int bd_decide_guard(const bd_plan_t *plan, bd_decision_t *d);

/** The stored record of a decision (what the outcome join needs). */
typedef struct bd_decision_rec_s {
	bool explored, joined;
	/** counted in its campaign's experiment sums (experiment.h): its
	 *  campaign had a holdout when it was decided, so its outcome counts too */
	bool experiment;
	int32_t treatment, cluster;
	double propensity;
	int64_t ts_ms, plan_version, model_version;
	const char *campaign_id, *request_id, *user_id, *reason;
	int dim;
	const float *features;
} bd_decision_rec_t;

/** Packs @p r; @returns the size, or -ENOSPC if @p size is too small. */
int bd_decision_rec_pack(const bd_decision_rec_t *r, uint8_t *buf, size_t size);
/** The decision time and campaign of a packed record, without unpacking
 *  it (@p campaign points into @p buf, not terminated): for the expiry
 *  rule on RocksDB's compaction threads.  @returns 0 or BD_EDECODE. */
int bd_decision_rec_peek(const uint8_t *buf, size_t len, int64_t *ts_ms, const char **campaign,
			 size_t *campaign_len) BD_WUR;
/** Unpacks.  Strings and features point into thread-local scratch, valid
 * until the next unpack on the same thread. */
int bd_decision_rec_unpack(bd_decision_rec_t *r, const uint8_t *buf,
			   size_t len) BD_WUR;

#endif
