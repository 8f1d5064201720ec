/**
 * @file campaign.h
 * @brief Campaigns, their treatments and budgets; control commands.
 *
 * The registry lives on the main thread, which applies control commands in
 * the order of the control topic and persists every change.  Workers never
 * read it: they get immutable copies inside a snapshot (daemon.h).
 */
#ifndef BUDGETD_CAMPAIGN_H
#define BUDGETD_CAMPAIGN_H

#include <stdbool.h>
#include <stdint.h>

#include "budgetd/base/common.h"
#include "budgetd/policy/experiment.h" /* BD_ARM_UNIFORM */
#include "budgetd/wire/messages.h"

#define BD_ID_MAX 128

typedef struct bd_campaign_s {
	char id[BD_ID_MAX];
	int n_treatments;
	char treatment_name[BD_MAX_TREATMENTS][64];
	double nominal_cost[BD_MAX_TREATMENTS];
	double daily_budget;
	double exploration;
	int32_t tz_offset_s;
	bool paused;
	int64_t created_ms, updated_ms;
	int64_t budget_changes; /**< how many SET_BUDGET / budget upserts */
	/* outcome bounds set by UPSERT_CAMPAIGN (bounds.h); NAN: not set,
	 * the configured default applies */
	double max_value, max_cost, winsor_value;
	/** share of the campaign's users given control on every request
	 *  (experiment.h), 0 .. BD_HOLDOUT_MAX */
	double holdout;
	/** share of the campaign's users in its uniform arm (experiment.h),
	 *  0 .. BD_HOLDOUT_MAX */
	double uniform_arm;
	/** the campaign has had a uniform arm: its arm stays (see below) */
	bool had_uniform_arm;
	/* A campaign's uniform arm is a campaign of its own in the registry,
	 * derived from it and never stored (bd_campaigns_sync_arms): id
	 * "<campaign>#uniform", the campaign's treatments, exploration, time
	 * zone, bounds and pause, and the uniform arm's share of the budget,
	 * so it has its own statistics, spend, plan and pace.  It stays while
	 * the share is 0 (its budget then 0): its decisions' outcomes still
	 * come.  Only these two fields tell it apart: */
	int arm;		/**< BD_ARM_UNIFORM for an arm, 0 for a campaign */
	char arm_of[BD_ID_MAX]; /**< an arm's campaign */
} bd_campaign_t;

/** The suffix of a uniform arm's id; campaign ids may not end with it. */
#define BD_ARM_UNIFORM_SUFFIX "#uniform"
/** Holdout and uniform arm together leave the plan at least this share of
 *  the users (1 - BD_ARMS_MAX). */
#define BD_ARMS_MAX 0.8

typedef struct bd_campaigns_s {
	int n, cap;
	bd_campaign_t *v; /**< sorted by id */
} bd_campaigns_t;

void bd_campaigns_free(bd_campaigns_t *cs);
bd_campaign_t *bd_campaigns_find(const bd_campaigns_t *cs, const char *id);

/** What an applied command asks of the caller beyond the state change. */
typedef enum bd_campaign_effect {
	BD_EFFECT_NONE = 0,
	BD_EFFECT_RESOLVE = 1, /**< re-solve the campaign's plan */
	BD_EFFECT_RETRAIN = 2, /**< retrain the model */
} bd_campaign_effect_t;

/**
 * Applies @p cmd.  @param default_exploration used when a new campaign
 * names none.  @returns 0 and the effects in @p effect, or BD_EUNKNOWN /
 * BD_EINVAL with the reason in errstr (the registry is then unchanged).
 */
int bd_campaigns_apply(bd_campaigns_t *cs, const bd_control_command_t *cmd,
		       double default_exploration, int *effect,
		       bd_campaign_t **changed, char *errstr,
		       size_t errstr_size) BD_WUR;

/** Fixed-layout record for the campaigns column family (version 4; a
 *  version 1 record, from before the outcome bounds, unpacks with them
 *  unset; a version 2 record, from before the holdout, with no holdout; a
 *  version 3 one, from before the uniform arm, with no arm). */
int bd_campaign_pack(const bd_campaign_t *c, void *buf, size_t size);
int bd_campaign_unpack(bd_campaign_t *c, const void *buf, size_t len) BD_WUR;

/**
 * Creates or updates the uniform arm of campaign @p id (if it has had one)
 * from it.  Pointers into @p cs are invalid after it.  @returns 0 or -ENOMEM.
 */
int bd_campaigns_sync_arms(bd_campaigns_t *cs, const char *id) BD_WUR;
/** Whether @p id is a uniform arm's id (a decision record's campaign);
 *  if so, its campaign's id into @p campaign. */
bool bd_campaign_arm_parse(const char *id, char campaign[BD_ID_MAX]);
/** Whether a request of campaign @p campaign_id answered by campaign
 *  @p decided_by (the campaign or its uniform arm) is the campaign's. */
bool bd_campaign_is_or_arm(const char *decided_by, const char *campaign_id);

/** bd_campaigns_sync_arms for every campaign (after loading them). */
int bd_campaigns_sync_all_arms(bd_campaigns_t *cs) BD_WUR;

/**
 * The daily budget campaign @p c paces: a campaign with a uniform arm
 * leaves the arm its users' share of the budget (the treated users, those
 * not held out, share it by head), so both arms spend alike per request.
 */
double bd_campaign_budget(const bd_campaign_t *c);

/** Day number of @p ts_ms in the campaign's time zone, and the second of it. */
int64_t bd_campaign_day(const bd_campaign_t *c, int64_t ts_ms, double *sec_of_day);

#endif
