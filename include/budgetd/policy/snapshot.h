/**
 * @file snapshot.h
 * @brief What workers decide with: campaigns, plans and the cluster model,
 *        as one immutable, reference-counted object.
 *
 * The main thread builds a new snapshot on every change and hands one
 * reference to each worker through the worker's mailbox (uv_async_send);
 * a worker swaps it in between two batches.  So the decision path reads
 * plain memory and takes no lock.
 */
#ifndef BUDGETD_SNAPSHOT_H
#define BUDGETD_SNAPSHOT_H

#include "budgetd/policy/campaign.h"
#include "budgetd/policy/clock.h"
#include "budgetd/wire/cluster.h"
#include "budgetd/policy/plan.h"

typedef struct bd_snapshot_s {
	bd_refcnt_t refcnt;
	int64_t version;
	bd_campaigns_t campaigns; /**< a copy */
	bd_plan_t **plans;        /**< per campaign (same index), may be NULL */
	/** per campaign (same index): its clock, shared with the daemon's
	 *  registry, which outlives every snapshot; NULL entries (or no array)
	 *  until bd_snapshot_attach_clocks */
	bd_clock_t **clocks;
	bd_cluster_model_t *model;
	/** The version whose statistics the workers keep complete (carry.h):
	 *  a promoted model waiting for the carry-over (then it differs from
	 *  model, which still decides), or model itself; NULL: none (version 0
	 *  never promoted, or a store older than the carry-over). */
	bd_cluster_model_t *carry;
} bd_snapshot_t;

/**
 * A snapshot of copies of @p cs, references to @p plans (parallel to cs,
 * entries may be NULL) and to @p model.  @returns NULL when out of memory.
 */
bd_snapshot_t *bd_snapshot_new(int64_t version, const bd_campaigns_t *cs,
			       bd_plan_t *const *plans, bd_cluster_model_t *model);
/**
 * Points each campaign of @p s, not yet handed to anyone, to its clock in
 * @p reg (created there on first use).  @returns 0 or -ENOMEM.
 * @locality the main loop (the registry's).
 */
int bd_snapshot_attach_clocks(bd_snapshot_t *s, bd_clocks_t *reg) BD_WUR;
/** Sets the snapshot's carry model (a reference is taken; NULL: none). */
void bd_snapshot_set_carry(bd_snapshot_t *s, bd_cluster_model_t *carry);
bd_snapshot_t *bd_snapshot_ref(bd_snapshot_t *s);
void bd_snapshot_unref(bd_snapshot_t *s);

/** The campaign @p id and its plan (either may come back NULL). */
const bd_campaign_t *bd_snapshot_find(const bd_snapshot_t *s, const char *id,
				      const bd_plan_t **plan);
/** The clock of @p c, a campaign of @p s (NULL before attach). */
bd_clock_t *bd_snapshot_clock(const bd_snapshot_t *s, const bd_campaign_t *c);

#endif
