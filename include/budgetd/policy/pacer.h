/**
 * @file pacer.h
 * @brief From estimates and today's spend to a campaign's plan for the rest
 *        of the day, and the check that a plan is still on pace.
 *
 * The rules (docs/solving.md):
 *  - paused, or the day's budget spent: control for everyone, exploration
 *    off (nothing more is spent);
 *  - fewer than BD_PACER_WARMUP outcomes: the uniform plan;
 *  - else the remaining budget over the requests expected in the rest of
 *    the day, raised by pace.lead on the share of them that later solves
 *    can still correct (not the day's last maturity window), less the
 *    exploration slice's expected cost (the slice: the campaign's share
 *    while the cells lack exploration.need decisions, less once they will
 *    have them, never below exploration.min), is the policy's
 *    budget per request, solved by solve.mode; with solve.land, a budget
 *    beyond what maximising value would spend is spent too, where it loses
 *    the least estimated value (the campaign wants to land on its budget).
 * The plan keeps the pace it was made at (spend, requests, profile share of
 * the day elapsed, cost per request) for bd_pacer_off_pace.
 *
 * @locality the main loop; pure (no I/O).
 */
#ifndef BUDGETD_PACER_H
#define BUDGETD_PACER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "budgetd/policy/campaign.h"
#include "budgetd/base/common.h"
#include "budgetd/base/config.h"
#include "budgetd/policy/estimate.h"
#include "budgetd/policy/plan.h"

/** Outcomes a campaign needs before its plan leaves the uniform warm-up. */
#define BD_PACER_WARMUP 200
/** Points of the published budget/value curve. */
#define BD_PACER_CURVE_POINTS 21

/**
 * Whether @p e is a day without a traffic profile (no past day) in its
 * last solve.land.cold.h hours: the stretch where solve.land applies on
 * such a day and plans aim pace.lead.cold ahead of the even pace.
 */
bool bd_pacer_cold_landing(const bd_config_t *cfg, const bd_estimate_t *e);

/**
 * Fills @p p (a uniform plan of e->k x c->n_treatments, version, model and
 * time already set) for campaign @p c on day @p day, @p spent spent so far.
 * @returns 0, BD_EINVAL or -ENOMEM.
 */
int bd_pacer_plan(const bd_config_t *cfg, const bd_campaign_t *c, const bd_estimate_t *e,
		  double spent, int64_t day, bd_plan_t *p) BD_WUR;

/**
 * bd_pacer_plan with the day's budget @p budget instead of the campaign's
 * own (bd_campaign_budget): a campaign and its uniform arm each pace their
 * share, capped by what the other has left of the whole (daemon_solve.c).
 */
int bd_pacer_plan_budget(const bd_config_t *cfg, const bd_campaign_t *c, double budget,
			 const bd_estimate_t *e, double spent, int64_t day, bd_plan_t *p) BD_WUR;

/**
 * Whether spend or traffic since @p old was made left its pace by more
 * than cfg->pace_band (of the remaining budget, of the forecast requests).
 * A plan of another day, or one made without a forecast, is off pace.
 * @p why (may be NULL) gets a sentence for the log.
 */
bool bd_pacer_off_pace(const bd_config_t *cfg, const bd_plan_t *old, const bd_estimate_t *e,
		       double spent, int64_t day, char *why, size_t why_size);

#endif
