/*
 * The worker's input: one consumed message at a time.  A feature event is
 * decided (or answered again with its stored decision), an outcome joined
 * to its decision, a historical sample counted; whatever is bad becomes a
 * dead letter with its reason.  All of it is staged in the worker's batch
 * (worker_batch.c), which the loop writes at the end of each poll cycle.
 */
#include "worker_int.h"

#include <math.h>
#include <stdio.h>

#include "budgetd/policy/bounds.h"
#include "budgetd/policy/carry.h"
#include "budgetd/policy/experiment.h"
#include "budgetd/base/log.h"
#include "budgetd/state/samples.h"
#include "budgetd/base/utf8.h"

/* ---- outputs ---------------------------------------------------------------- */

static void dead_letter(bd_worker_t *w, const rd_kafka_message_t *m,
			bd_dead_reason_t why, const char *detail)
{
	const char *reason = bd_dead_reason_name(why);
	bd_dead_letter_t dl = {
		.topic = rd_kafka_topic_name(m->rkt),
		.partition = m->partition,
		.offset = m->offset,
		.ts_ms = bd_worker_now_ms(),
		.reason = reason,
		.detail = detail,
		.key = m->key,
		.key_len = bd_dead_keep(why, m->key_len),
		.payload = m->payload,
		.payload_len = bd_dead_keep(why, m->len),
	};
	int err = bd_encode_dead_letter(w->codec, &dl, &w->out);
	if (!err)
		err = bd_outbox_add(w->outbox, w->batch, (uint16_t)m->partition,
				    BD_MSG_DEADLETTER, m->key, dl.key_len,
				    w->out.data, w->out.len);
	if (err)
		bd_error("cannot dead-letter %s/%d@%lld (%s): %s", dl.topic,
			 m->partition, (long long)m->offset, reason,
			 bd_strerror(err));
	bd_debug("dead letter %s/%d@%lld: %s: %s", dl.topic, m->partition,
		 (long long)m->offset, reason, detail);
	COUNT(w, c_dead);
	atomic_fetch_add_explicit(&w->c_dead_by[why], 1, memory_order_relaxed);
	w->dirty = 1;
}

/* Input larger than input.max.bytes is refused before it is decoded: Avro C
 * would allocate whatever the body claims (a million features, megabytes
 * of string) before any of our limits could look at it.  A key longer than
 * that too: it would go into the dead letter twice.
 * @returns true if @p m was dead-lettered. */
static bool oversized(bd_worker_t *w, const rd_kafka_message_t *m)
{
	char errstr[160];
	if (!bd_dead_oversized(m->key_len, m->len, w->cfg->input_max_bytes, errstr,
			       sizeof(errstr)))
		return false;
	dead_letter(w, m, BD_DEAD_OVERSIZED, errstr);
	return true;
}

static int publish_decision(bd_worker_t *w, uint16_t part, const bd_decision_t *d)
{
	int err = bd_encode_decision(w->codec, d, &w->out);
	if (err)
		return err;
	return bd_outbox_add(w->outbox, w->batch, part, BD_MSG_DECISION,
			     d->user_id, strlen(d->user_id), w->out.data,
			     w->out.len);
}

/* ---- feature events ------------------------------------------------------- */

static int grow_ts(bd_worker_t *w)
{
	size_t cap = w->dec_cap ? w->dec_cap * 2 : 256;
	int64_t *v = realloc(w->dec_ts, cap * sizeof(*v));
	if (!v)
		return -1; /* the latency of this one goes unmeasured */
	w->dec_ts = v;
	w->dec_cap = cap;
	return 0;
}

/* A decision the budget guard turned to control (counted by the guard, per
 * campaign): the plan's first is logged. It does not degrade health: the
 * guard is the money safety working, a burst is ordinary traffic, and a
 * /healthz that flapped with it would get a healthy daemon restarted
 * (docs/solving.md). */
static void budget_guarded(bd_worker_t *w, const bd_campaign_t *c, const bd_plan_t *plan,
			   int first)
{
	if (first != 2)
		return;
	bd_warn("campaign %s: budget guard: plan %lld committed its limit %.2f of charged cost "
		"(remaining budget %.2f, less the cost still to come at guard.cost.sigmas, x 1 + "
		"guard.tolerance); control until the next plan",
		c->id, (long long)plan->version, plan->guard_limit, plan->remaining_budget);
}

/* A feature event @p m decoded into @p ev, for a known campaign @p c (its
 * plan @p plan, its clock @p clk), neither ahead of the campaign's clock nor
 * stale, with features.dim features: else a dead letter.  @returns whether
 * @p ev is to be decided. */
static bool feature_accept(bd_worker_t *w, const rd_kafka_message_t *m, bd_feature_event_t *ev,
			   const bd_campaign_t **c, const bd_plan_t **plan, bd_clock_t **clk)
{
	char errstr[512], q[BD_UTF8_QUOTE_ID];
	int err;

	if (oversized(w, m))
		return false;
	err = bd_decode_feature(w->codec, m->payload, m->len, ev, errstr,
				sizeof(errstr));
	if (err) {
		dead_letter(w, m, bd_decode_dead_reason(err), errstr);
		return false;
	}
	if (!(*c = bd_snapshot_find(w->snap, ev->campaign_id, plan))) {
		snprintf(errstr, sizeof(errstr), "campaign '%s' is not known",
			 bd_utf8_quote(q, sizeof(q), ev->campaign_id));
		dead_letter(w, m, BD_DEAD_UNKNOWN_CAMPAIGN, errstr);
		return false;
	}
	if ((*c)->arm) {
		snprintf(errstr, sizeof(errstr),
			 "'%s' is the uniform arm of campaign '%s': requests name the campaign",
			 bd_utf8_quote(q, sizeof(q), ev->campaign_id), (*c)->arm_of);
		dead_letter(w, m, BD_DEAD_UNKNOWN_CAMPAIGN, errstr);
		return false;
	}
	/* The campaign's clock decides its day (clock.h): an event beyond
	 * the rule would end today's budget early.  Refused, it moves
	 * nothing and gets no decision. */
	*clk = bd_snapshot_clock(w->snap, *c);
	int64_t clk_ms = *clk ? bd_clock_read(*clk) : 0, wall = bd_worker_now_ms();
	if (bd_clock_check_feature(&w->clock_rule, clk_ms, (*c)->created_ms, wall, ev->ts_ms,
				   errstr, sizeof(errstr)) > 0) {
		dead_letter(w, m, BD_DEAD_FUTURE, errstr);
		return false;
	}
	if (bd_clock_check_stale(&w->clock_rule, *c,
				 bd_clock_now(&w->clock_rule, clk_ms, (*c)->created_ms, wall), wall,
				 ev->ts_ms, errstr, sizeof(errstr))) {
		dead_letter(w, m, BD_DEAD_STALE, errstr);
		return false;
	}
	if (ev->dim != w->cfg->features_dim) {
		snprintf(errstr, sizeof(errstr),
			 "features has %d values, features.dim is %d", ev->dim,
			 w->cfg->features_dim);
		dead_letter(w, m, BD_DEAD_INVALID, errstr);
		return false;
	}
	return true;
}

/* A feature event seen before (its stored decision @p rec, id @p id):
 * answered with the stored decision, counting nothing; another request
 * under the same decision id is a conflict.  @returns 0 or a store error. */
static int feature_again(bd_worker_t *w, const rd_kafka_message_t *m,
			 const bd_feature_event_t *ev, const bd_decision_rec_t *rec, const char *id)
{
	char errstr[512], q[BD_UTF8_QUOTE_ID];
	int err;

	if (strcmp(rec->request_id, ev->request_id) != 0 ||
	    strcmp(rec->user_id, ev->user_id) != 0 ||
	    !bd_campaign_is_or_arm(rec->campaign_id, ev->campaign_id)) {
		char q2[BD_UTF8_QUOTE_ID];
		snprintf(errstr, sizeof(errstr),
			 "decision id %s collides with request '%s' of user '%s'", id,
			 bd_utf8_quote(q, sizeof(q), rec->request_id),
			 bd_utf8_quote(q2, sizeof(q2), rec->user_id));
		dead_letter(w, m, BD_DEAD_CONFLICT, errstr);
		return 0;
	}
	bd_decision_t d = {
		.decision_id = id, .request_id = rec->request_id,
		.campaign_id = ev->campaign_id, .user_id = rec->user_id,
		.ts_ms = rec->ts_ms, .treatment = rec->treatment,
		.cluster = rec->cluster, .propensity = rec->propensity,
		.explored = rec->explored, .plan_version = rec->plan_version,
		.model_version = rec->model_version, .reason = rec->reason,
		.arm = bd_decide_arm_name(rec->campaign_id, rec->reason, rec->experiment),
	};
	COUNT(w, c_dups);
	COUNT(w, c_republished);
	if ((err = publish_decision(w, (uint16_t)m->partition, &d)))
		return err;
	w->dirty = 1;
	return 0;
}

/* Adds @p x (BD_EXP__COUNT doubles) to the experiment sums of a decision
 * made by campaign @p decided_by (the campaign or its uniform arm) for
 * @p reason: its campaign's sums, of its arm, its user's group and day
 * (experiment.h).  @returns 0 or -ENOMEM. */
static int experiment_add(bd_worker_t *w, uint16_t part, const char *decided_by,
			  const char *user, const char *reason, int64_t day, const double *x)
{
	uint8_t key[BD_STATS_KEY_MAX];
	char campaign[BD_ID_MAX];
	int arm = bd_decide_is_holdout(reason) ? BD_ARM_HOLDOUT : BD_ARM_TREATED;
	if (bd_campaign_arm_parse(decided_by, campaign))
		arm = BD_ARM_UNIFORM;
	else
		snprintf(campaign, sizeof(campaign), "%s", decided_by);
	size_t klen = bd_stats_experiment_key(key, part, campaign, day, arm,
					      bd_experiment_bucket(campaign, user));
	return bd_worker_stats_add(w, key, klen, x, BD_EXP__COUNT);
}

/* A new decision @p d (hash @p h) into the batch: the decision record, its
 * exposure in the cell statistics (and the version being carried to), the
 * pending mark its outcome clears, the day's decision count, its arm's
 * count.  A holdout decision is in no cell: the estimates and the traffic
 * forecast are of the users the plan decides for.  @returns 0 or a store
 * error. */
static int feature_record(bd_worker_t *w, uint16_t part, const bd_campaign_t *c,
			  const bd_feature_event_t *ev, const bd_decision_t *d, uint64_t h)
{
	uint8_t key[BD_STATS_KEY_MAX];
	int err;
	const int64_t day = bd_campaign_day(c, ev->ts_ms, NULL);
	const double xe[BD_EXP__COUNT] = {[BD_EXP_DECISIONS] = 1};
	bd_decision_rec_t rec = {
		.explored = d->explored, .treatment = d->treatment,
		.cluster = d->cluster, .propensity = d->propensity,
		.ts_ms = d->ts_ms, .plan_version = d->plan_version,
		.model_version = d->model_version, .campaign_id = c->id,
		.request_id = ev->request_id, .user_id = ev->user_id,
		.reason = d->reason, .dim = ev->dim, .features = ev->features,
		/* the sums are kept while the campaign has a holdout or a
		 * uniform arm: they cost a hash and a delta per request, and
		 * compare nothing without */
		.experiment = c->arm || c->holdout > 0 || c->uniform_arm > 0,
	};
	if ((err = bd_worker_batch_decision_store(w, part, h, &rec)) ||
	    (rec.experiment &&
	     (err = experiment_add(w, part, c->id, ev->user_id, d->reason, day, xe))))
		return err;
	double one[1] = {1}, x[BD_STAT__COUNT];
	size_t klen = bd_stats_day_key(key, part, c->id, day);
	if ((err = bd_worker_stats_add(w, key, klen, one, 1)))
		return err;
	if (bd_decide_is_holdout(d->reason))
		return 0;
	bd_stats_exposure_vector(x, d->propensity);
	klen = bd_stats_cell_key(key, part, c->id, d->model_version,
					d->cluster, d->treatment, bd_stats_hour(d->ts_ms));
	if ((err = bd_worker_stats_add(w, key, klen, x, BD_STAT__COUNT)) ||
	    (err = bd_worker_batch_carry_add(w, part, c->id, d->model_version,
					      d->treatment, bd_stats_hour(d->ts_ms), ev->features,
					      x)))
		return err;
	/* waiting for its outcome: a new version's carry-over counts it */
	uint8_t pk[BD_CARRY_PENDING_KEY];
	bd_store_batch_put(w->batch, BD_CF_PENDING, pk,
			   bd_carry_pending_key(pk, part, d->ts_ms, h), "", 0);
	return 0;
}

/* The campaign that decides for the user of @p ev: campaign @p c, or its
 * uniform arm (then its plan into @p plan and its clock into @p arm_clk)
 * for the arm's users. */
static const bd_campaign_t *feature_arm(bd_worker_t *w, const bd_campaign_t *c,
					const bd_feature_event_t *ev, const bd_plan_t **plan,
					bd_clock_t **arm_clk)
{
	char id[BD_ID_MAX + sizeof(BD_ARM_UNIFORM_SUFFIX)];
	const bd_plan_t *arm_plan = NULL;
	if (!c->had_uniform_arm || !bd_experiment_uniform_arm(c->id, ev->user_id, c->uniform_arm))
		return c;
	snprintf(id, sizeof(id), "%s%s", c->id, BD_ARM_UNIFORM_SUFFIX);
	const bd_campaign_t *a = bd_snapshot_find(w->snap, id, &arm_plan);
	if (!a)
		return c; /* not in this snapshot yet: the campaign decides */
	*plan = arm_plan;
	*arm_clk = bd_snapshot_clock(w->snap, a);
	return a;
}

static void on_feature(bd_worker_t *w, const rd_kafka_message_t *m)
{
	bd_feature_event_t ev;
	bd_decision_t d;
	bd_decision_rec_t rec;
	const bd_campaign_t *c;
	const bd_plan_t *plan;
	bd_clock_t *clk;
	char id[17];
	uint16_t part = (uint16_t)m->partition;
	uint64_t h;
	int err;

	COUNT(w, c_features);
	if (!feature_accept(w, m, &ev, &c, &plan, &clk))
		return;
	h = bd_decision_hash(ev.campaign_id, ev.user_id, ev.request_id);
	bd_decision_id_format(h, id);
	err = bd_worker_batch_decision_lookup(w, part, h, &rec);
	if (err < 0)
		goto store_error;
	if (err == 0) { /* seen before */
		if ((err = feature_again(w, m, &ev, &rec, id)))
			goto store_error;
		return;
	}
	/* a user of the campaign's uniform arm: the arm decides */
	bd_clock_t *arm_clk = NULL;
	c = feature_arm(w, c, &ev, &plan, &arm_clk);
	bd_decide(c, plan, w->snap->model, &ev, h, &d);
	if ((err = bd_decide_guard(plan, &d)))
		budget_guarded(w, c, plan, err);
	d.decision_id = id;
	d.request_id = ev.request_id;
	d.campaign_id = ev.campaign_id;
	d.user_id = ev.user_id;
	d.arm = bd_decide_arm_name(c->id, d.reason,
				   c->arm || c->holdout > 0 || c->uniform_arm > 0);
	if ((err = feature_record(w, part, c, &ev, &d, h)) ||
	    (err = publish_decision(w, part, &d)))
		goto store_error;
	/* this campaign's clock (and its arm's), written with the batch */
	bd_clock_t *clks[2] = {clk, arm_clk};
	for (int i = 0; i < 2; i++)
		if (clks[i]) {
			bd_clock_advance(clks[i], ev.ts_ms);
			if ((err = bd_clock_mark(&w->clock_marks, part, clks[i])))
				goto store_error;
		}
	COUNT(w, c_decisions);
	int64_t mts = rd_kafka_message_timestamp(m, NULL);
	if (mts > 0 && (w->dec_n < w->dec_cap || grow_ts(w) == 0))
		w->dec_ts[w->dec_n++] = mts;
	w->dirty = 1;
	return;
store_error:
	bd_error("feature %d@%lld: %s", m->partition, (long long)m->offset,
		 bd_strerror(err));
	w->failed = 1;
}

/* ---- outcome events ------------------------------------------------------- */

static int append_sample(bd_worker_t *w, uint16_t part, const bd_sample_t *s)
{
	part_t *p = bd_worker_part_get(w, part);
	uint8_t key[10], buf[REC_MAX];
	int len;

	if (!p)
		return -ENOMEM;
	if (w->cfg->samples_max == 0)
		return 0;
	if (!p->sample_loaded) {
		char *v = NULL;
		size_t vlen = 0;
		uint8_t mk[6] = {'s', 's', 'e', 'q'};
		bd_be16(mk + 4, part);
		p->sample_seq = p->sample_trimmed = 0;
		if (bd_store_get(w->env.store, BD_CF_META, mk, sizeof(mk), &v,
				 &vlen) == 0) {
			if (vlen == 8)
				p->sample_seq = bd_rd_be64((uint8_t *)v);
			free(v);
		}
		p->sample_loaded = 1;
	}
	len = bd_sample_pack(s, buf, sizeof(buf));
	if (len < 0)
		return len;
	bd_store_batch_put(w->batch, BD_CF_SAMPLES, key,
			   bd_sample_key(key, part, p->sample_seq++), buf,
			   (size_t)len);
	p->sample_dirty = 1;
	return 0;
}

/* The outcome in its decision's day totals (what was reported: spend,
 * value, orders); historical samples (@p day INT64_MIN) do not spend
 * today's budget.  @returns 0 or -ENOMEM. */
static int outcome_day(bd_worker_t *w, uint16_t part, const char *campaign,
		       const bd_outcome_event_t *ev, int64_t day)
{
	uint8_t key[BD_STATS_KEY_MAX];
	double y[BD_DAY__COUNT] = {
		[BD_DAY_OUTCOMES] = 1, [BD_DAY_COST] = ev->cost, [BD_DAY_VALUE] = ev->value,
		[BD_DAY_ORDERS] = (double)ev->orders,
	};
	if (day == INT64_MIN)
		return 0;
	size_t klen = bd_stats_day_key(key, part, campaign, day);
	return bd_worker_stats_add(w, key, klen, y, BD_DAY__COUNT);
}

/* @p cell_value: the outcome's value as the cell statistics count it
 * (winsorised); the day vector counts what was reported.  @p features: the
 * decision's, for the version being carried to. */
static int outcome_stats(bd_worker_t *w, uint16_t part, const char *campaign,
			 int64_t model_version, int32_t cluster, int32_t treatment,
			 bool explored, double propensity,
			 const bd_outcome_event_t *ev, double cell_value, int64_t day,
			 int64_t hour, const float *features)
{
	uint8_t key[BD_STATS_KEY_MAX];
	double c = ev->cost, o = (double)ev->orders;
	double x[BD_STAT__COUNT];
	bd_stats_outcome_vector(x, cell_value, c, o, propensity, explored);
	if (hour <= 0) {
		/* a historical sample is its own exposure */
		x[BD_STAT_DECISIONS] = 1;
		x[BD_STAT_DW] = 1.0 / propensity;
	}
	int err;
	size_t klen = bd_stats_cell_key(key, part, campaign, model_version,
					cluster, treatment, hour);
	if ((err = bd_worker_stats_add(w, key, klen, x, BD_STAT__COUNT)) ||
	    (err = bd_worker_batch_carry_add(w, part, campaign, model_version, treatment,
					      hour, features, x)))
		return err;
	return outcome_day(w, part, campaign, ev, day);
}

/* Refuses an outcome outside its campaign's bounds (bounds.h) as
 * implausible.  A refused cost is money left out of spend, so it also
 * degrades health for a while.  @p propensity: a historical sample's, NAN
 * for a live outcome.  @returns true if dead-lettered. */
static bool implausible(bd_worker_t *w, const rd_kafka_message_t *m, const bd_bounds_t *b,
			const bd_outcome_event_t *ev, double propensity)
{
	char errstr[512];
	bd_bounds_fail_t f = bd_bounds_check(b, ev->campaign_id, ev->orders, ev->value,
					     ev->cost, propensity, errstr, sizeof(errstr));
	if (f == BD_BOUNDS_OK)
		return false;
	if (f == BD_BOUNDS_COST)
		bd_health_note(w->env.health, BD_HEALTH_SPEND,
			       "campaign %s: an outcome's cost %g above its bound %g was "
			       "refused as implausible: not counted in spend",
			       ev->campaign_id, ev->cost, b->max_cost);
	dead_letter(w, m, BD_DEAD_IMPLAUSIBLE, errstr);
	return true;
}

/* The value an outcome counts as in the cell statistics and the sample log
 * (bounds.h: winsorised at the campaign's soft cap). */
static double winsorised(bd_worker_t *w, const bd_bounds_t *b, double value)
{
	double v = bd_bounds_winsor(b, value);
	if (v < value)
		COUNT(w, c_winsorized);
	return v;
}

static void on_historical(bd_worker_t *w, const rd_kafka_message_t *m,
			  const bd_outcome_event_t *ev)
{
	const bd_campaign_t *c = bd_snapshot_find(w->snap, ev->campaign_id, NULL);
	uint16_t part = (uint16_t)m->partition;
	char errstr[256];
	int err;

	if (!c) {
		char q[BD_UTF8_QUOTE_ID];
		snprintf(errstr, sizeof(errstr), "campaign '%s' is not known",
			 bd_utf8_quote(q, sizeof(q), ev->campaign_id));
		dead_letter(w, m, BD_DEAD_UNKNOWN_CAMPAIGN, errstr);
		return;
	}
	if (ev->dim != w->cfg->features_dim || ev->treatment >= c->n_treatments) {
		snprintf(errstr, sizeof(errstr),
			 "historical sample: %d features (want %d), treatment %d "
			 "(campaign has %d)",
			 ev->dim, w->cfg->features_dim, ev->treatment,
			 c->n_treatments);
		dead_letter(w, m, BD_DEAD_INVALID, errstr);
		return;
	}
	bd_bounds_t bounds;
	bd_bounds_of(c, w->cfg, &bounds);
	if (implausible(w, m, &bounds, ev, ev->propensity))
		return;
	/* A logged propensity of exactly 1/J is taken as randomised (RCT). */
	bool rct = fabs(ev->propensity - 1.0 / c->n_treatments) < 1e-9;
	int32_t cluster = bd_cluster_assign(w->snap->model, ev->features);
	bd_sample_t s = {
		.ts_ms = ev->ts_ms, .model_version = w->snap->model->version,
		.treatment = ev->treatment, .cluster = cluster,
		.orders = ev->orders, .explored = rct, .historical = true,
		.propensity = ev->propensity, .value = winsorised(w, &bounds, ev->value),
		.cost = ev->cost, .campaign_id = ev->campaign_id,
		.dim = ev->dim, .features = ev->features,
	};
	if ((err = outcome_stats(w, part, ev->campaign_id, s.model_version, cluster,
				 ev->treatment, rct, ev->propensity, ev, s.value,
				 INT64_MIN, bd_stats_log_hour(ev->ts_ms), ev->features)) ||
	    (err = append_sample(w, part, &s))) {
		bd_error("historical %d@%lld: %s", m->partition,
			 (long long)m->offset, bd_strerror(err));
		w->failed = 1;
		return;
	}
	COUNT(w, c_historical);
	w->dirty = 1;
}

/* An outcome @p m decoded into @p ev, not ahead of the host's clock: else a
 * dead letter.  @returns whether @p ev is to be joined or counted. */
static bool outcome_accept(bd_worker_t *w, const rd_kafka_message_t *m, bd_outcome_event_t *ev)
{
	char errstr[512];
	int err;

	if (oversized(w, m))
		return false;
	err = bd_decode_outcome(w->codec, m->payload, m->len, ev, errstr,
				sizeof(errstr));
	if (err) {
		dead_letter(w, m, bd_decode_dead_reason(err), errstr);
		return false;
	}
	if (bd_clock_check_outcome(&w->clock_rule, bd_worker_now_ms(), ev->ts_ms, errstr,
				   sizeof(errstr)) > 0) {
		dead_letter(w, m, BD_DEAD_FUTURE, errstr);
		return false;
	}
	return true;
}

/* An outcome's decision id parsed into @p h: else a dead letter.  @returns
 * whether it parsed. */
static bool outcome_decision_id(bd_worker_t *w, const rd_kafka_message_t *m,
				const bd_outcome_event_t *ev, uint64_t *h)
{
	char errstr[512], q[BD_UTF8_QUOTE_ID];

	if (bd_decision_id_parse(ev->decision_id, h) == 0)
		return true;
	snprintf(errstr, sizeof(errstr),
		 "decision_id '%s' is not 16 lowercase hex digits",
		 bd_utf8_quote(q, sizeof(q), ev->decision_id));
	dead_letter(w, m, BD_DEAD_INVALID, errstr);
	return false;
}

/* Whether outcome @p ev joins its decision @p rec (@p found: whether there
 * is one): not joined before, the same campaign and user, within the skew
 * before it and the retention after it; else a dead letter. */
static bool outcome_joins(bd_worker_t *w, const rd_kafka_message_t *m,
			  const bd_outcome_event_t *ev, const bd_decision_rec_t *rec, bool found)
{
	char errstr[512], q[BD_UTF8_QUOTE_ID], q2[BD_UTF8_QUOTE_ID];

	if (!found) {
		snprintf(errstr, sizeof(errstr),
			 "no decision %s on partition %d (expired, never made, or "
			 "the outcome was not keyed by user_id)",
			 ev->decision_id, m->partition);
		dead_letter(w, m, BD_DEAD_UNKNOWN_DECISION, errstr);
		return false;
	}
	if (rec->joined) {
		snprintf(errstr, sizeof(errstr),
			 "decision %s already has its outcome", ev->decision_id);
		dead_letter(w, m, BD_DEAD_DUPLICATE, errstr);
		return false;
	}
	if (!bd_campaign_is_or_arm(rec->campaign_id, ev->campaign_id) ||
	    strcmp(rec->user_id, ev->user_id) != 0) {
		snprintf(errstr, sizeof(errstr),
			 "decision %s belongs to campaign '%s' user '%s'",
			 ev->decision_id, bd_utf8_quote(q, sizeof(q), rec->campaign_id),
			 bd_utf8_quote(q2, sizeof(q2), rec->user_id));
		dead_letter(w, m, BD_DEAD_INVALID, errstr);
		return false;
	}
	/* Event times, not the host's clock: a replay after a restart must
	 * decide exactly as the first run did. */
	if (ev->ts_ms < rec->ts_ms - w->cfg->input_max_skew_ms) {
		snprintf(errstr, sizeof(errstr),
			 "outcome ts_ms %lld is %lld ms before its decision's ts_ms "
			 "%lld (input.max.skew.ms is %d)",
			 (long long)ev->ts_ms, (long long)(rec->ts_ms - ev->ts_ms),
			 (long long)rec->ts_ms, w->cfg->input_max_skew_ms);
		dead_letter(w, m, BD_DEAD_INVALID, errstr);
		return false;
	}
	if (ev->ts_ms - rec->ts_ms > (int64_t)w->cfg->decision_retention_s * 1000) {
		snprintf(errstr, sizeof(errstr),
			 "outcome comes %lld s after decision %s, "
			 "decision.retention.s is %d",
			 (long long)((ev->ts_ms - rec->ts_ms) / 1000), ev->decision_id,
			 w->cfg->decision_retention_s);
		dead_letter(w, m, BD_DEAD_EXPIRED, errstr);
		return false;
	}
	return true;
}

/* How long cost takes to come in, for the pending estimate: the outcome's
 * cost in its delay bucket.  @returns 0 or a store error. */
static int outcome_delay(bd_worker_t *w, uint16_t part, const bd_outcome_event_t *ev,
			 const bd_decision_rec_t *rec)
{
	if (!(ev->cost > 0))
		return 0;
	double dl[BD_DELAY_BUCKETS] = {0};
	int64_t b = (ev->ts_ms - rec->ts_ms) / (BD_DELAY_BUCKET_S * 1000);
	dl[b < 0 ? 0 : b >= BD_DELAY_BUCKETS ? BD_DELAY_BUCKETS - 1 : b] = ev->cost;
	uint8_t dkey[BD_STATS_KEY_MAX];
	return bd_worker_stats_add(w, dkey, bd_stats_delay_key(dkey, part, rec->campaign_id), dl,
				   BD_DELAY_BUCKETS);
}

/* The outcome of holdout decision @p rec (hash @p h): its day's totals (a
 * cost, which a holdout should never have, still counts in spend), its
 * delay and the joined mark; no cell and no sample (experiment.h).
 * @returns 0 or a store error. */
static int outcome_holdout(bd_worker_t *w, uint16_t part, const bd_outcome_event_t *ev,
			   const bd_decision_rec_t *rec, uint64_t h, int64_t day)
{
	int err;
	if ((err = outcome_day(w, part, rec->campaign_id, ev, day)) ||
	    (err = outcome_delay(w, part, ev, rec)))
		return err;
	return bd_worker_batch_decision_store(w, part, h, rec);
}

static void on_outcome(bd_worker_t *w, const rd_kafka_message_t *m, int *held)
{
	bd_outcome_event_t ev;
	bd_decision_rec_t rec;
	uint16_t part = (uint16_t)m->partition;
	uint64_t h;
	int err;

	COUNT(w, c_outcomes);
	if (!outcome_accept(w, m, &ev))
		return;
	if (ev.decision_id[0] == '\0') {
		on_historical(w, m, &ev);
		return;
	}
	if (!outcome_decision_id(w, m, &ev, &h))
		return;
	err = bd_worker_batch_decision_lookup(w, part, h, &rec);
	if (err < 0)
		goto store_error;
	if (err == 1 && bd_worker_assign_hold(w, m)) {
		atomic_fetch_sub_explicit(&w->c_outcomes, 1, memory_order_relaxed);
		*held = 1;
		return;
	}
	if (!outcome_joins(w, m, &ev, &rec, err == 0))
		return;
	const bd_campaign_t *c = bd_snapshot_find(w->snap, rec.campaign_id, NULL);
	int64_t day = c ? bd_campaign_day(c, rec.ts_ms, NULL) : INT64_MIN;
	bd_bounds_t bounds;
	bd_bounds_of(c, w->cfg, &bounds);
	if (implausible(w, m, &bounds, &ev, NAN))
		return; /* the decision stays open for a corrected outcome */
	bd_sample_t s = {
		.ts_ms = rec.ts_ms, .model_version = rec.model_version,
		.treatment = rec.treatment, .cluster = rec.cluster,
		.orders = ev.orders, .explored = rec.explored,
		.propensity = rec.propensity, .value = winsorised(w, &bounds, ev.value),
		.cost = ev.cost,
		.campaign_id = rec.campaign_id, .dim = rec.dim,
		.features = rec.features,
	};
	rec.joined = true;
	const double xe[BD_EXP__COUNT] = {
		[BD_EXP_OUTCOMES] = 1, [BD_EXP_VALUE] = ev.value, [BD_EXP_COST] = ev.cost,
		[BD_EXP_ORDERS] = (double)ev.orders,
	};
	if (rec.experiment && day != INT64_MIN &&
	    (err = experiment_add(w, part, rec.campaign_id, rec.user_id, rec.reason, day, xe)))
		goto store_error;
	/* how far the campaign's outcomes have come (clock.h: the pending
	 * cost of decisions made since is not taken as arrived) */
	bd_clock_t *oclk = c ? bd_snapshot_clock(w->snap, c) : NULL;
	if (oclk)
		bd_clock_advance_outcome(oclk, ev.ts_ms);
	if (bd_decide_is_holdout(rec.reason)) {
		if ((err = outcome_holdout(w, part, &ev, &rec, h, day)))
			goto store_error;
		w->dirty = 1;
		return;
	}
	uint8_t pk[BD_CARRY_PENDING_KEY];
	bd_store_batch_delete(w->batch, BD_CF_PENDING, pk,
			      bd_carry_pending_key(pk, part, rec.ts_ms, h));
	if ((err = outcome_delay(w, part, &ev, &rec)) ||
	    (err = outcome_stats(w, part, rec.campaign_id, rec.model_version,
				 rec.cluster, rec.treatment, rec.explored,
				 rec.propensity, &ev, s.value, day, bd_stats_hour(rec.ts_ms),
				 rec.features)) ||
	    (err = append_sample(w, part, &s)) ||
	    (err = bd_worker_batch_decision_store(w, part, h, &rec)))
		goto store_error;
	w->dirty = 1;
	return;
store_error:
	bd_error("outcome %d@%lld: %s", m->partition, (long long)m->offset,
		 bd_strerror(err));
	w->failed = 1;
}

/* ---- one message ------------------------------------------------------------ */

void bd_worker_input_handle(bd_worker_t *w, rd_kafka_message_t *m)
{
	int in;
	part_t *p;

	if (m->err) {
		if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET)
			bd_worker_assign_offset_lost(w, m);
		else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			bd_warn("consumer: %s", rd_kafka_message_errstr(m));
		return;
	}
	in = bd_worker_input_of(w, rd_kafka_topic_name(m->rkt));
	if (in < 0 || !(p = bd_worker_part_get(w, m->partition)))
		return;
	/* paused (bd_worker_assign_guard): nothing is decided; the resume reads it
	 * again from the stored offset */
	if (w->paused)
		return;
	if (p->reset_from[in] >= 0)
		bd_worker_assign_reset_done(w, p, in, m);
	if (p->next_off[in] >= 0 && m->offset < p->next_off[in])
		return; /* already applied (a fetch from before a seek) */
	if (bd_worker_batch_carry_part(w, m->partition) != 0) {
		w->failed = 1;
		return;
	}
	if (in == IN_OUTCOMES && p->hold_off >= 0) {
		/* held (bd_worker_assign_hold): only the held one, fetched again after
		 * the release, goes on; later ones fetched before are stale */
		if (!p->hold_released || m->offset != p->hold_off)
			return;
		p->hold_off = -1;
	}
	if (in == IN_FEATURES) {
		on_feature(w, m);
	} else {
		int held = 0;
		on_outcome(w, m, &held);
		if (held)
			return;
	}
	p->next_off[in] = m->offset + 1;
	p->off_dirty[in] = 1;
	w->dirty = 1;
}
