/* The main thread's solves: the statistics gathered in one scan, each
 * campaign's plan solved and checked, stored with its outbox record, and
 * the snapshot the workers decide with; the solve and pace timers. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/policy/estimate.h"
#include "budgetd/base/log.h"
#include "budgetd/policy/pacer.h"
#include "budgetd/state/stats.h"

#include "daemon_int.h"

void bd_daemon_solve_publish(bd_daemon_t *d)
{
	bd_snapshot_t *s = bd_snapshot_new(++d->snap_version, &d->campaigns,
					   d->plans, d->model);
	if (s && bd_snapshot_attach_clocks(s, &d->clocks) != 0) {
		bd_snapshot_unref(s);
		s = NULL;
	}
	if (!s) {
		bd_error("out of memory building a snapshot; workers keep the old one");
		return;
	}
	bd_snapshot_set_carry(s, d->next_model ? d->next_model : d->carry);
	bd_snapshot_unref(d->snap);
	d->snap = s;
	for (int i = 0; i < d->n_workers; i++)
		bd_worker_post_snapshot(d->workers[i], s);
}

/* Keeps d->plans parallel to d->campaigns after an insert.  The old array
 * is read only up to its own length (plans_n): the campaigns' array may
 * have grown past it. */
int bd_daemon_solve_plans_sync(bd_daemon_t *d)
{
	bd_plan_t **np = calloc((size_t)(d->campaigns.cap ? d->campaigns.cap : 1),
				sizeof(*np));
	if (!np)
		return -ENOMEM;
	/* plans are matched by campaign id, so order changes are harmless */
	for (int i = 0; i < d->campaigns.n; i++) {
		for (int o = 0; o < d->plans_n; o++)
			if (d->plans[o] &&
			    strcmp(d->plans[o]->campaign_id, d->campaigns.v[i].id) == 0) {
				np[i] = d->plans[o];
				d->plans[o] = NULL;
				break;
			}
	}
	for (int o = 0; o < d->plans_n; o++) /* a campaign no longer there */
		bd_plan_unref(d->plans[o]);
	free(d->plans);
	d->plans = np;
	d->plans_n = d->campaigns.n;
	return 0;
}

/* What one campaign's solve reads from the statistics. */
typedef struct gather_s {
	int active; /* this campaign is being solved */
	int64_t now, day;
	bd_estimate_params_t ep;
	bd_estimate_t est;
	double dayv[BD_DAY__COUNT];
	/* the holdout's sums, made when the first of them is read (most
	 * campaigns have none) */
	bd_experiment_days_t *exp;
	double spent; /* today's, set by gather_finish */
	/* the campaign's guard ledger before its statistics were read: a
	 * new plan's allowance counts from here */
	double ledger0;
} gather_t;

typedef struct scan_s {
	bd_daemon_t *d;
	gather_t *g; /* parallel to d->campaigns.v */
} scan_t;

static int gather_cb(const char *key, size_t klen, const char *val, size_t vlen,
		     void *opaque)
{
	scan_t *sc = opaque;
	bd_daemon_t *d = sc->d;
	bd_stats_key_t k;
	double x[BD_STAT__COUNT] = {0};
	size_t n = vlen / sizeof(double);

	if (bd_stats_key_parse(key, klen, &k) != 0)
		return 0;
	const bd_campaign_t *c = bd_campaigns_find(&d->campaigns, k.campaign);
	if (!c)
		return 0;
	gather_t *g = &sc->g[c - d->campaigns.v];
	if (!g->active)
		return 0;
	if (n > BD_STAT__COUNT)
		n = BD_STAT__COUNT;
	memcpy(x, val, n * sizeof(double));
	if (k.kind == BD_STATS_DAY && k.day == g->day) {
		for (int i = 0; i < BD_DAY__COUNT; i++)
			g->dayv[i] += x[i];
	} else if (k.kind == BD_STATS_EXPERIMENT) {
		if (!g->exp && (g->exp = calloc(1, sizeof(*g->exp))))
			g->exp->day0 = g->day;
		if (g->exp)
			bd_experiment_days_add(g->exp, k.day, k.arm, k.bucket, x, (int)n);
	} else if (k.kind == BD_STATS_DELAY) {
		bd_estimate_add_delay(&g->est, x, (int)n);
	} else if (k.kind == BD_STATS_CELL && k.model_version == d->model->version) {
		bd_estimate_add_cell(&g->est, &g->ep, k.cluster, k.treatment, k.hour, x,
				     (int)n);
	}
	return 0;
}

/* The status track of campaign @p id, created on first use. */
static bd_report_track_t *track_for(bd_daemon_t *d, const char *id)
{
	for (int i = 0; i < d->n_tracks; i++)
		if (strcmp(d->tracks[i]->campaign_id, id) == 0)
			return d->tracks[i];
	bd_report_track_t **v = realloc(d->tracks, sizeof(*v) * (size_t)(d->n_tracks + 1));
	if (!v)
		return NULL;
	d->tracks = v;
	if (!(v[d->n_tracks] = calloc(1, sizeof(**v))))
		return NULL;
	v[d->n_tracks]->day = -1;
	snprintf(v[d->n_tracks]->campaign_id, sizeof(v[0]->campaign_id), "%s", id);
	return v[d->n_tracks++];
}

static int gather_init(bd_daemon_t *d, int ci, gather_t *g)
{
	const bd_campaign_t *c = &d->campaigns.v[ci];
	const bd_config_t *cfg = d->cfg;
	/* the campaign's own clock: no other campaign's events move its day */
	int64_t now = bd_daemon_campaign_now(d, c);
	double sec_of_day;

	memset(g, 0, sizeof(*g));
	const bd_report_track_t *tr = track_for(d, c->id);
	g->ledger0 = tr ? atomic_load_explicit(&tr->ledger, memory_order_relaxed) : 0;
	g->now = now;
	g->day = bd_campaign_day(c, now, &sec_of_day);
	g->ep = (bd_estimate_params_t){
		.now_ms = now,
		.arrived_ms = bd_clock_arrived(bd_clocks_get(&d->clocks, c->id), now),
		.mature_before_hour = (now - (int64_t)cfg->solve_maturity_s * 1000) / 3600000,
		.today_first_hour = (now - (int64_t)(sec_of_day * 1000)) / 3600000,
		.sec_of_day = sec_of_day,
		.tz_offset_s = c->tz_offset_s,
		.shrinkage = cfg->solve_shrinkage,
		.min_matured = BD_PACER_WARMUP,
		.tail_s = cfg->solve_maturity_s,
		.halflife_h = cfg->solve_halflife_h,
		.shrink_uplift = cfg->solve_shrink_uplift,
		.concave = cfg->solve_concave,
		.cost_calibrate = cfg->solve_cost_calibrate,
		.order_value_prior = cfg->solve_order_value_prior,
	};
	int err = bd_estimate_init(&g->est, d->model->k, c->n_treatments);
	g->active = err == 0;
	return err;
}

/* Records how a solve of campaign @p c ended (solve_gathered's @p err,
 * @p fail the reason): a failure is counted, logged when its reason
 * changes (not at every pass) and keeps the campaign failing (solve_health)
 * until a plan is published again. */
static void solve_result(const bd_campaign_t *c, bd_report_track_t *tr, int err,
			 const char *fail)
{
	char why[256];
	if (err == 1)
		return; /* on pace: nothing new either way */
	if (err == 0) {
		if (tr && tr->solve_error[0]) {
			bd_info("campaign %s: solved again (it failed: %s)", c->id, tr->solve_error);
			tr->solve_error[0] = '\0';
		}
		return;
	}
	snprintf(why, sizeof(why), "%s", fail[0] ? fail : bd_strerror(err));
	if (tr && strcmp(tr->solve_error, why) == 0) {
		tr->solve_failures++;
		return;
	}
	bd_error("campaign %s: solve failed: %s (its last good plan stays)", c->id, why);
	if (tr) {
		tr->solve_failures++;
		snprintf(tr->solve_error, sizeof(tr->solve_error), "%s", why);
	}
}

/* Degraded while some campaign's solves fail (the first one names it). */
static void solve_health(bd_daemon_t *d)
{
	char why[BD_ID_MAX + 300];
	for (int i = 0; i < d->n_tracks; i++)
		if (d->tracks[i]->solve_error[0]) {
			snprintf(why, sizeof(why), "campaign %s: solve failed: %s",
				 d->tracks[i]->campaign_id, d->tracks[i]->solve_error);
			bd_health_set(d->health, BD_HEALTH_SOLVE, why);
			return;
		}
	bd_health_set(d->health, BD_HEALTH_SOLVE, NULL);
}

/* Logs that campaign @p id is off pace for @p why, at info once when a state
 * begins (a drift, no plan for the day, a plan without a forecast) and at
 * debug while it lasts: with no traffic the plan has no forecast at every
 * pace check, and that is one state, not a line every pace.check.ms. */
static void log_off_pace(bd_report_track_t *tr, const char *id, const char *why)
{
	/* a drift's sentence carries its figures: the state is its kind */
	const char *state = strncmp(why, "spent ", 6) == 0 ? "drift" : why;
	if (tr && strncmp(tr->off_pace, state, sizeof(tr->off_pace) - 1) == 0) {
		bd_debug("campaign %s: off pace (%s): re-solving", id, why);
		return;
	}
	if (tr)
		snprintf(tr->off_pace, sizeof(tr->off_pace), "%s", state);
	bd_info("campaign %s: off pace (%s): re-solving", id, why);
}

/* Solves campaign @p ci from its gathered statistics for the rest of its
 * day and publishes the plan.  Nothing non-finite is published: a solve
 * whose estimates, spend or plan hold one fails, and the last good plan
 * stays.  @returns 0 (new plan), 1 (on pace: the old plan stays) or an
 * error. */
/* The estimates of a gathered campaign finished, and its spend today:
 * realised cost + the expected cost of today's decisions still waiting for
 * their outcomes. */
static void gather_finish(bd_daemon_t *d, gather_t *g)
{
	bd_estimate_finish(&g->est, &g->ep);
	/* requests already waiting in the features topic: the rest of the
	 * day has at least these (a backlog after a stall must not be
	 * decided at a budget per request meant for the day's last few) */
	for (int i = 0; i < d->n_workers; i++)
		for (int q = 0; q < d->cfg->topic_partitions; q++) {
			int64_t l = bd_worker_lag(d->workers[i], 0, q);
			if (l > 0)
				g->est.waiting += (double)l;
		}
	g->spent = g->dayv[BD_DAY_COST] + g->est.pending_cost;
}

/* The budget campaign @p ci paces today.  A campaign and its uniform arm
 * each pace their share (bd_campaign_budget), and each at most what the
 * other leaves of the campaign's whole budget: a share changed mid-day
 * moves budget between them, and neither may then spend what the other
 * already has (the sum stays within the budget).  The other's spend comes
 * from this pass's scan, or its latest plan of the day when it was not
 * scanned; with neither, nothing is known to be spent. */
static double budget_of(const bd_daemon_t *d, const scan_t *sc, int ci)
{
	const bd_campaign_t *c = &d->campaigns.v[ci], *whole = c, *o = NULL;
	char arm_id[BD_ID_MAX + sizeof(BD_ARM_UNIFORM_SUFFIX)];
	const double own = bd_campaign_budget(c);
	if (c->arm) { /* an arm: the other is its campaign */
		o = whole = bd_campaigns_find(&d->campaigns, c->arm_of);
	} else if (c->had_uniform_arm) { /* a campaign: the other is its arm */
		snprintf(arm_id, sizeof(arm_id), "%s%s", c->id, BD_ARM_UNIFORM_SUFFIX);
		o = bd_campaigns_find(&d->campaigns, arm_id);
	}
	if (!o)
		return own;
	const int oi = (int)(o - d->campaigns.v);
	const gather_t *og = &sc->g[oi];
	double other = 0;
	if (og->active && isfinite(og->spent))
		other = og->spent;
	else if (d->plans[oi] && d->plans[oi]->pace_day == sc->g[ci].day)
		other = d->plans[oi]->pace_spent;
	return fmin(own, fmax(whole->daily_budget - other, 0));
}

static int solve_gathered(bd_daemon_t *d, const scan_t *sc, int ci, const char *why,
			  bool drift_only)
{
	const bd_campaign_t *c = &d->campaigns.v[ci];
	const bd_config_t *cfg = d->cfg;
	const int K = d->model->k, J = c->n_treatments;
	gather_t *g = &sc->g[ci];
	bd_plan_t *p = NULL, *old = d->plans[ci];
	char fail[256] = "";
	int err;
	const double spent = g->spent;
	bd_report_track_t *tr = track_for(d, c->id);
	if ((err = bd_estimate_check(&g->est, fail, sizeof(fail))))
		goto out;
	if (!isfinite(spent)) {
		snprintf(fail, sizeof(fail), "spend today is %g (realised cost %g)", spent,
			 g->dayv[BD_DAY_COST]);
		err = BD_EINVAL;
		goto out;
	}
	if (!tr || bd_report_track_update(tr, c, &g->est, spent, g->day, g->ep.sec_of_day))
		bd_warn("campaign %s: out of memory for the status track", c->id);
	if (tr) {
		/* the holdout's report: the track takes the pass's sums */
		free(tr->exp);
		tr->exp = g->exp;
		g->exp = NULL;
	}
	char why_off[160] = "";
	if (drift_only && !bd_pacer_off_pace(cfg, old, &g->est, spent, g->day, why_off,
					     sizeof(why_off))) {
		if (tr)
			tr->off_pace[0] = '\0';
		err = 1; /* on pace: keep the plan */
		goto out;
	}
	if (drift_only)
		log_off_pace(tr, c->id, why_off);
	err = -ENOMEM;
	if (!(p = bd_plan_new_uniform(c->id, K, J)))
		goto out;
	p->model_version = d->model->version;
	p->ts_ms = g->now;
	p->version = (old ? old->version : 0) + 1;
	if (tr) {
		p->guard->campaign_guarded = &tr->guarded;
		p->guard->campaign_ledger = &tr->ledger;
		p->guard->ledger_base = g->ledger0;
	}
	if ((err = bd_pacer_plan_budget(cfg, c, budget_of(d, sc, ci), &g->est, spent, g->day,
					p)) ||
	    (err = bd_plan_check(p, fail, sizeof(fail))))
		goto out;

	/* persist (plans CF + outbox) in one batch, then hand it over */
	bd_plan_msg_t msg;
	bd_plan_to_msg(p, &msg);
	if ((err = bd_encode_plan(d->codec, &msg, &d->out)))
		goto out;
	bd_store_batch_put(d->batch, BD_CF_PLANS, c->id, strlen(c->id), d->out.data,
			   d->out.len);
	if ((err = bd_outbox_add(d->outbox, d->batch, BD_OUTBOX_GLOBAL, BD_MSG_PLAN,
				 c->id, strlen(c->id), d->out.data, d->out.len)) ||
	    (err = bd_daemon_write(d)))
		goto out;
	bd_debug("campaign %s: plan %lld (%s, %s): spent %.2f, remaining %.2f over ~%.0f "
		 "requests, lambda %.4f, explore %.3f",
		 c->id, (long long)p->version, p->solver, why, spent, p->remaining_budget,
		 p->pace_nrem, p->lambda, p->explore);
	d->plans[ci] = p;
	p = NULL;
	bd_plan_unref(old);
	d->n_plans_out++;
	err = 0;
out:
	solve_result(c, tr, err, fail);
	bd_plan_unref(p);
	return err;
}

/* Whether campaign @p i is to be solved when campaign @p ci is: itself, or
 * its uniform arm (a budget change moves both); every one when @p ci < 0. */
static bool solve_with(const bd_daemon_t *d, int i, int ci)
{
	return ci < 0 || i == ci ||
	       (d->campaigns.v[i].arm && strcmp(d->campaigns.v[i].arm_of, d->campaigns.v[ci].id) == 0);
}

/* Solves campaign @p ci (and its uniform arm), or every campaign when
 * @p ci < 0, from ONE scan of
 * the statistics; publishes a snapshot when a plan changed.
 * @returns whether it did.  @locality the main loop. */
int bd_daemon_solve_run(bd_daemon_t *d, int ci, const char *why, bool drift_only)
{
	const int n = d->campaigns.n;
	if (!d->active)
		return 0; /* a standby publishes no plans: its statistics are not the truth */
	scan_t sc = {d, calloc((size_t)(n ? n : 1), sizeof(gather_t))};
	int changed = 0, err = -ENOMEM;
	uint64_t t0 = uv_hrtime();

	if (!sc.g)
		goto out;
	for (int i = 0; i < n; i++)
		if (solve_with(d, i, ci) && (err = gather_init(d, i, &sc.g[i])))
			goto out;
	const uint8_t none[1] = {0};
	if ((err = bd_store_scan(d->store, BD_CF_STATS, none, 0, gather_cb, &sc)))
		goto out;
	for (int i = 0; i < n; i++)
		if (sc.g[i].active)
			gather_finish(d, &sc.g[i]);
	for (int i = 0; i < n; i++)
		if (sc.g[i].active && solve_gathered(d, &sc, i, why, drift_only) == 0)
			changed = 1;
	solve_health(d);
	err = 0;
out:
	if (err)
		bd_error("solve (%s): %s", why, bd_strerror(err));
	for (int i = 0; sc.g && i < n; i++) {
		if (sc.g[i].active)
			bd_estimate_free(&sc.g[i].est);
		free(sc.g[i].exp);
	}
	free(sc.g);
	if (changed)
		bd_daemon_solve_publish(d);
	bd_histo_observe(&d->solve_histo, (double)(uv_hrtime() - t0) / 1e9);
	return changed;
}

void bd_daemon_solve_all(bd_daemon_t *d, const char *why, bool drift_only)
{
	(void)bd_daemon_solve_run(d, -1, why, drift_only);
}

static void on_solve_timer(uv_timer_t *t)
{
	bd_daemon_t *d = t->data;
	/* a carry-over waiting for partitions nobody holds */
	bd_daemon_train_check_carried(d);
	bd_daemon_solve_all(d, "timer", false);
	bd_outbox_retry(d->outbox);
}

/* Between solves: re-solve only the campaigns whose spend or traffic left
 * the pace by more than pace.band. */
static void on_pace_timer(uv_timer_t *t)
{
	bd_daemon_solve_all(t->data, "pace", true);
}

void bd_daemon_solve_start_timers(bd_daemon_t *d)
{
	bd_daemon_timer_every(&d->solve_timer, on_solve_timer,
			      (uint64_t)d->cfg->solve_interval_ms);
	bd_daemon_timer_every(&d->pace_timer, on_pace_timer, (uint64_t)d->cfg->pace_check_ms);
}
