/*
 * budgetd-sim: the simulated world (simworld.c) driven against a running
 * budgetd over Kafka, or written to a sample file.
 *
 *   budgetd-sim run --bootstrap ADDR [options]   one closed-loop day
 *   budgetd-sim offline --out FILE [options]     logged samples (CSV)
 *   budgetd-sim history --bootstrap ADDR --campaign ID [options]
 *                                                yesterday's logged decisions
 *                                                as historical outcome events
 *
 * Closed loop: the day's arrivals become feature events, paced so that the
 * simulated day takes --duration wall seconds; every decision that comes
 * back is answered by an outcome event (orders = 0 when the user did not
 * convert) after the simulated delay.  The outcome of request i depends only
 * on (seed, i, treatment), so two runs over the same input agree whatever
 * the timing.  At the end it prints the day's true totals beside the
 * uniform-random allocation and the oracle for the same arrivals, led by
 * the fair comparison: the value the decisions add over all-control (no
 * coupon for anyone) against what uniform coupons and the oracle add at
 * the same expected spend (the demo: line's increment=, uniform_increment=,
 * oracle_increment=).  --world NAME picks the world family.
 *
 * Event times are the simulated day's (today's UTC midnight + day N on),
 * hours ahead of the host's clock: the daemon must run with
 * clock.mode=event.  Control commands carry the simulated time too.
 *
 * Hostile input (--hostile-*): one producer that misbehaves beside the
 * honest traffic, each bad message a separate request or outcome, so the
 * honest day goes on; what the daemon rightly refuses gets no decision
 * and is not counted in the day's figures (it is reported apart).
 */
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "budgetd/policy/decide.h"
#include "budgetd/wire/messages.h"
#include "budgetd/lab/simworld.h"

typedef struct opts_s {
	const char *bootstrap, *campaign, *out, *prefix, *trace;
	int day, day_set, probes;
	double wait_model; /* history: seconds to wait for a model trained on it */
	int events, explore_set, quiet, zero_outcomes, wait_plan;
	double budget, budget_frac, duration, explore, midday_factor;
	double drain_s; /* run: how long decisions may still come after the day */
	int policy;
	int samples;
	double hostile_future, hostile_value, hostile_utf8; /* shares */
	const char *world_name;        /* --world */
	const char *kv[64];            /* -p KEY=VALUE, in order */
	int n_kv;
	bd_sim_params_t world;
} opts_t;

typedef struct pending_s {
	double due;   /* simulated seconds */
	int idx;      /* request index */
} pending_t;

typedef struct req_s {
	int decided, treatment;
	double propensity;
	int outcome_sent;
} req_t;

static volatile sig_atomic_t stop_flag;
static void on_sigint(int s)
{
	(void)s;
	stop_flag = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- min-heap of pending outcomes ------------------------------------------ */

typedef struct heap_s {
	pending_t *v;
	int n, cap;
} heap_t;

static int heap_push(heap_t *h, pending_t x)
{
	if (h->n == h->cap) {
		int cap = h->cap ? 2 * h->cap : 1024;
		pending_t *v = realloc(h->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	int i = h->n++;
	while (i > 0 && h->v[(i - 1) / 2].due > x.due) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = x;
	return 0;
}

static pending_t heap_pop(heap_t *h)
{
	pending_t top = h->v[0], x = h->v[--h->n];
	int i = 0;
	for (;;) {
		int c = 2 * i + 1;
		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1].due < h->v[c].due)
			c++;
		if (h->v[c].due >= x.due)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = x;
	return top;
}

/* ---- Kafka helpers ----------------------------------------------------------- */

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstrap)
{
	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_t *rk;
	if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof(errstr)) ||
	    rd_kafka_conf_set(conf, "client.id", "budgetd-sim", errstr, sizeof(errstr)) ||
	    (type == RD_KAFKA_PRODUCER &&
	     (rd_kafka_conf_set(conf, "partitioner", "murmur2_random", errstr, sizeof(errstr)) ||
	      rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr)) ||
	      rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof(errstr)))) ||
	    (type == RD_KAFKA_CONSUMER &&
	     (rd_kafka_conf_set(conf, "group.id", "budgetd-sim", errstr, sizeof(errstr)) ||
	      rd_kafka_conf_set(conf, "fetch.wait.max.ms", "10", errstr, sizeof(errstr)) ||
	      /* a position reset (broker faults) must not skip decisions */
	      rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof(errstr)) ||
	      rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof(errstr))))) {
		fprintf(stderr, "budgetd-sim: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	if (!(rk = rd_kafka_new(type, conf, errstr, sizeof(errstr)))) {
		fprintf(stderr, "budgetd-sim: %s\n", errstr);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* Assigns every partition of @p topic at its current end, so we read only
 * what is produced from now on. */
static int assign_at_end(rd_kafka_t *c, const char *topic)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *t = rd_kafka_topic_new(c, topic, NULL);
	rd_kafka_topic_partition_list_t *l;
	int n = 0;

	if (rd_kafka_metadata(c, 0, t, &md, 10000) != 0 || md->topic_cnt != 1 ||
	    md->topics[0].err) {
		fprintf(stderr, "budgetd-sim: no metadata for topic %s\n", topic);
		if (md)
			rd_kafka_metadata_destroy(md);
		rd_kafka_topic_destroy(t);
		return -1;
	}
	n = md->topics[0].partition_cnt;
	l = rd_kafka_topic_partition_list_new(n);
	for (int p = 0; p < n; p++) {
		int64_t lo = 0, hi = 0;
		if (rd_kafka_query_watermark_offsets(c, topic, p, &lo, &hi, 10000)) {
			fprintf(stderr, "budgetd-sim: no watermarks for %s/%d\n", topic, p);
			hi = RD_KAFKA_OFFSET_END;
		}
		rd_kafka_topic_partition_list_add(l, topic, p)->offset = hi;
	}
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
	return 0;
}

/* The encoder writes every string as UTF-8 (it replaces bytes that are not
 * with U+FFFD), so a hostile id that is not UTF-8 is made in the encoded
 * bytes: @id, encoded ending in two placeholder bytes, gets them replaced
 * by ff fe in place (an Avro string is its length, then its raw bytes). */
static int not_utf8(bd_buf_t *b, const char *id)
{
	size_t n = strlen(id);
	for (size_t i = 0; n >= 2 && i + n <= b->len; i++)
		if (memcmp(b->data + i, id, n) == 0) {
			b->data[i + n - 2] = 0xff;
			b->data[i + n - 1] = 0xfe;
			return 0;
		}
	fprintf(stderr, "budgetd-sim: %s not found in its encoded request\n", id);
	return -1;
}

static int produce(rd_kafka_t *p, const char *topic, const char *key,
		   const bd_buf_t *b)
{
	for (;;) {
		rd_kafka_resp_err_t err = rd_kafka_producev(
			p, RD_KAFKA_V_TOPIC(topic),
			RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
			RD_KAFKA_V_VALUE(b->data, b->len),
			RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
		if (!err)
			return 0;
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			fprintf(stderr, "budgetd-sim: produce to %s: %s\n", topic,
				rd_kafka_err2str(err));
			return -1;
		}
		rd_kafka_poll(p, 10);
	}
}

/* ---- closed loop ------------------------------------------------------------- */

/* A control command dated @p at_ms (simulated time); @p ts only makes its
 * command id unique. */
static int send_control(rd_kafka_t *prod, bd_codec_t *codec, const opts_t *o,
			const bd_sim_world_t *w, const char *campaign,
			bd_action_t action, double budget, int64_t ts, int64_t at_ms)
{
	bd_control_command_t cmd = {0};
	bd_buf_t b = {0};
	char cid[256], names[BD_MAX_TREATMENTS][32];
	int rc;

	/* unique per run: a command id seen before is ignored, and runs on
	 * the same day and campaign would otherwise repeat their ids */
	snprintf(cid, sizeof(cid), "%s-%d-%lld-%d-%lld", campaign, (int)action, (long long)ts,
		 (int)getpid(), (long long)wall_ms());
	cmd.command_id = cid;
	cmd.campaign_id = campaign;
	cmd.ts_ms = at_ms;
	cmd.action = action;
	cmd.has_budget = true;
	cmd.daily_budget = budget;
	if (action == BD_ACTION_UPSERT_CAMPAIGN) {
		cmd.has_treatments = true;
		cmd.n_treatments = bd_sim_n_treatments(w);
		for (int t = 0; t < cmd.n_treatments; t++) {
			snprintf(names[t], sizeof(names[t]), t ? "coupon %g" : "control",
				 bd_sim_coupon(w, t));
			cmd.treatments[t] = (bd_treatment_t){t, names[t], bd_sim_coupon(w, t)};
		}
		if (o->explore_set) {
			cmd.has_exploration = true;
			cmd.exploration = o->explore;
		}
	}
	rc = bd_encode_control(codec, &cmd, &b);
	if (!rc)
		rc = produce(prod, "budgetd.control", campaign, &b);
	bd_buf_free(&b);
	return rc;
}

/* Waits for a plan of @p campaign whose model version is above @p above;
 * @returns its model version, or -1. */
static int64_t wait_for_model(rd_kafka_t *plans, bd_codec_t *codec, const char *campaign,
			      int64_t above, double timeout_s)
{
	double end = now_s() + timeout_s;
	char errstr[256];
	while (now_s() < end && !stop_flag) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(plans, 200);
		if (!m)
			continue;
		bd_plan_msg_t p;
		int ok = !m->err &&
			 bd_decode_plan(codec, m->payload, m->len, &p, errstr, sizeof(errstr)) == 0 &&
			 strcmp(p.campaign_id, campaign) == 0 && p.model_version > above;
		int64_t v = ok ? p.model_version : -1;
		rd_kafka_message_destroy(m);
		if (ok)
			return v;
	}
	return -1;
}

static int wait_for_plan(rd_kafka_t *plans, bd_codec_t *codec, const char *campaign,
			 double timeout_s)
{
	return wait_for_model(plans, codec, campaign, INT64_MIN, timeout_s) >= 0 ? 0 : -1;
}

/* The spend-everything level of @p users: what maximising value spends on
 * every request outside the exploration slice (which stays uniform), i.e.
 * the most the campaign's policy can spend. */
static int spend_everything(const opts_t *o, const bd_sim_world_t *w, const int *users, int n,
			    double *max_spend)
{
	double uni_v = 0, uni_s = 0;
	if (bd_sim_oracle_assign(w, users, n, 0, NULL, NULL, max_spend) != 0 ||
	    bd_sim_uniform_value(w, users, n, &uni_v, &uni_s) != 0)
		return -1;
	*max_spend = (1 - o->explore) * *max_spend + o->explore * uni_s;
	return 0;
}

static int run_loop(const opts_t *o)
{
	bd_sim_world_t *w = NULL;
	rd_kafka_t *prod = NULL, *dec = NULL, *plans = NULL;
	bd_codec_t *codec = NULL;
	uint32_t ids[BD_MSG__COUNT] = {1, 2, 3, 4, 5, 6, 7};
	char errstr[512], campaign[128];
	double *times = NULL, budget;
	int *users = NULL, n = o->events, rc = 1;
	req_t *reqs = NULL;
	int *tmax = NULL;
	double *ref_ec = NULL, *ref_rc = NULL, max_realised = 0, ref_e = 0, ref_r = 0;
	heap_t heap = {0};
	bd_buf_t b = {0};
	FILE *trace = NULL;
	/* hostile input: its own random stream (the honest day stays the
	 * same), what was sent, and which of it the daemon decided anyway */
	uint64_t hrng = bd_sim_rng_seed(o->world.seed, 0x6057113ULL + (uint64_t)o->day);
	int h_future = 0, h_utf8 = 0, h_value = 0, h_decided = 0;
	char *h_seen = NULL; /* per request: 1 future, 2 utf8 decided */

	if (bd_sim_world_new(&o->world, &w) != 0) {
		fprintf(stderr, "budgetd-sim: cannot build the world\n");
		return 1;
	}
	times = malloc(sizeof(double) * (size_t)n);
	users = malloc(sizeof(int) * (size_t)n);
	reqs = calloc((size_t)n, sizeof(*reqs));
	h_seen = calloc((size_t)n, 1);
	/* day N has its own arrivals and outcomes */
	uint64_t rng = bd_sim_rng_seed(o->world.seed, 1 + 7919ULL * (uint64_t)o->day);
	const uint64_t oseed = 1000003ULL + 100000007ULL * (uint64_t)o->day;
	if (!times || !users || !reqs || !h_seen || bd_sim_day_arrivals(w, n, &rng, times, users) != 0)
		goto out;

	/* budget: absolute, or a share of what maximising value would spend */
	/* the spend-everything level: what maximising value spends on every
	 * request outside the exploration slice (which stays uniform), i.e.
	 * the most the campaign's policy can spend */
	double max_spend = 0;
	if (spend_everything(o, w, users, n, &max_spend) != 0)
		goto out;
	/* the same level per request, expected and realised on this day's
	 * outcome draws (the draws of request i are the same whatever the
	 * treatment's source): how far the spend-everything policy itself
	 * lands from its expectation, the noise floor of a 100% day */
	if (!(tmax = malloc(sizeof(int) * (size_t)n)) ||
	    !(ref_ec = malloc(sizeof(double) * (size_t)n)) ||
	    !(ref_rc = malloc(sizeof(double) * (size_t)n)) ||
	    bd_sim_oracle_assign(w, users, n, 0, tmax, NULL, NULL) != 0)
		goto out;
	const int nt = bd_sim_n_treatments(w);
	for (int i = 0; i < n; i++) {
		double me = 0, mr = 0, xr = 0;
		for (int t = 0; t < nt; t++) {
			bd_sim_outcome_t oc;
			uint64_t orng = bd_sim_rng_seed(o->world.seed, oseed + (uint64_t)i);
			bd_sim_outcome(w, users[i], t, &orng, &oc);
			me += bd_sim_user_ec(w, users[i], t) / nt;
			mr += oc.cost / nt;
			if (t == tmax[i])
				xr = oc.cost;
		}
		ref_ec[i] = (1 - o->explore) * bd_sim_user_ec(w, users[i], tmax[i]) + o->explore * me;
		ref_rc[i] = (1 - o->explore) * xr + o->explore * mr;
		max_realised += ref_rc[i];
	}
	budget = o->budget > 0 ? o->budget : o->budget_frac * max_spend;

	if (bd_codec_new(ids, BD_WIRE_CONFLUENT, &codec, errstr, sizeof(errstr)) != 0) {
		fprintf(stderr, "budgetd-sim: %s\n", errstr);
		goto out;
	}
	if (!(prod = client(RD_KAFKA_PRODUCER, o->bootstrap)) ||
	    !(dec = client(RD_KAFKA_CONSUMER, o->bootstrap)) ||
	    !(plans = client(RD_KAFKA_CONSUMER, o->bootstrap)))
		goto out;
	if (assign_at_end(dec, "budgetd.decisions") || assign_at_end(plans, "budgetd.plans"))
		goto out;
	if (o->campaign)
		snprintf(campaign, sizeof(campaign), "%s", o->campaign);
	else
		snprintf(campaign, sizeof(campaign), "sim-%llu-%d",
			 (unsigned long long)o->world.seed, (int)getpid());

	/* the simulated day is today (UTC), so decisions look current */
	int64_t day0 = (wall_ms() / 86400000 + o->day) * 86400000;
	/* request ids are unique per day: PREFIX-dN-rI from day 1 on */
	char pre[192];
	if (o->day)
		snprintf(pre, sizeof(pre), "%s-d%d", o->prefix ? o->prefix : campaign, o->day);
	else
		snprintf(pre, sizeof(pre), "%s", o->prefix ? o->prefix : campaign);
	if (o->trace && !(trace = fopen(o->trace, "w"))) {
		fprintf(stderr, "budgetd-sim: --trace %s: %s\n", o->trace, strerror(errno));
		goto out;
	}
	if (trace)
		fprintf(trace, "day_frac arrivals_frac expected_spend realised_spend budget "
			"daemon_spent daemon_expected_requests requests_left "
			"everything_expected everything_realised\n");
	int trace_next = 0;
	double dec_cost = 0;
	/* budget commands whose plan we time: sent at, budget, latencies */
	double probe_at = 0, probe_budget = 0, lat_ms[256];
	int probes_sent = 0, n_lat = 0;
	double plan_spent = 0, plan_rem = 0;
	double day_s = o->world.day_seconds, scale = 86400.0 / day_s;
	if (send_control(prod, codec, o, w, campaign, BD_ACTION_UPSERT_CAMPAIGN, budget, day0,
			 day0))
		goto out;
	rd_kafka_flush(prod, 10000);
	if (o->wait_plan && wait_for_plan(plans, codec, campaign, 60) != 0) {
		fprintf(stderr, "budgetd-sim: no plan for %s within 60 s: is budgetd running?\n",
			campaign);
		goto out;
	}
	if (!o->quiet)
		fprintf(stderr, "budgetd-sim: campaign %s, %d arrivals, budget %.2f "
			"(%.0f%% of the spend-everything level %.2f), %.0f s\n",
			campaign, n, budget, 100 * budget / (max_spend + 1e-12),
			max_spend, o->duration);

	int next = 0, decided = 0, conflicts = 0, midday_done = o->midday_factor <= 0;
	double t0 = now_s(), last_report = t0, spend = 0, value = 0, orders = 0;
	double exp_value = 0, exp_spend = 0, end_wait = 0;
	float feat[512];
	char rid[256], uid[32], did[17];
	while (!stop_flag) {
		double sim = (now_s() - t0) / o->duration * day_s;
		/* mid-day budget change, for pacing demos */
		if (!midday_done && sim >= day_s / 2) {
			budget *= o->midday_factor;
			send_control(prod, codec, o, w, campaign, BD_ACTION_SET_BUDGET, budget, day0 + 1,
				     day0 + (int64_t)(sim * scale * 1000));
			midday_done = 1;
			probe_at = now_s();
			probe_budget = budget;
		} else if (probe_at == 0 && probes_sent < o->probes &&
			   sim >= day_s * (probes_sent + 0.25) / o->probes) {
			/* a budget change too small to matter, to time the
			 * command -> published plan path */
			budget += 1e-6 * (1 + probes_sent);
			send_control(prod, codec, o, w, campaign, BD_ACTION_SET_BUDGET, budget,
				     day0 + 10 + probes_sent, day0 + (int64_t)(sim * scale * 1000));
			probes_sent++;
			probe_at = now_s();
			probe_budget = budget;
		}
		/* drain plans (they arrive several a second) */
		for (rd_kafka_message_t *pm; (pm = rd_kafka_consumer_poll(plans, 0));) {
			bd_plan_msg_t pl;
			int mine = !pm->err &&
				   bd_decode_plan(codec, pm->payload, pm->len, &pl, errstr,
						  sizeof(errstr)) == 0 &&
				   strcmp(pl.campaign_id, campaign) == 0;
			if (mine) {
				/* what the daemon believes, for the trace */
				plan_spent = pl.spent;
				plan_rem = pl.expected_requests;
			}
			if (probe_at > 0 && mine && fabs(pl.daily_budget - probe_budget) < 1e-9) {
				if (n_lat < 256)
					lat_ms[n_lat++] = (now_s() - probe_at) * 1000;
				probe_at = 0;
			}
			rd_kafka_message_destroy(pm);
		}
		for (; next < n && times[next] <= sim; next++) {
			bd_feature_event_t ev;
			int u = users[next];
			ref_e += ref_ec[next];
			ref_r += ref_rc[next];
			memcpy(feat, bd_sim_user_features(w, u), sizeof(float) * (size_t)o->world.dim);
			snprintf(rid, sizeof(rid), "%s-r%d", pre, next);
			snprintf(uid, sizeof(uid), "u%d", u);
			ev = (bd_feature_event_t){rid, campaign, uid,
						  day0 + (int64_t)(times[next] * scale * 1000),
						  feat, o->world.dim};
			if (bd_encode_feature(codec, &ev, &b) || produce(prod, "budgetd.features", uid, &b))
				goto out;
			/* the hostile producer's requests beside it: a day ahead,
			 * or a request id that is not UTF-8 */
			if (o->hostile_future > 0 && bd_sim_rng_uniform(&hrng) < o->hostile_future) {
				snprintf(rid, sizeof(rid), "%s-f%d", pre, next);
				ev.ts_ms += 86400000;
				if (bd_encode_feature(codec, &ev, &b) ||
				    produce(prod, "budgetd.features", uid, &b))
					goto out;
				ev.ts_ms -= 86400000;
				h_future++;
			}
			if (o->hostile_utf8 > 0 && bd_sim_rng_uniform(&hrng) < o->hostile_utf8) {
				snprintf(rid, sizeof(rid), "%s-u%d~~", pre, next);
				if (bd_encode_feature(codec, &ev, &b) || not_utf8(&b, rid) ||
				    produce(prod, "budgetd.features", uid, &b))
					goto out;
				h_utf8++;
			}
		}
		rd_kafka_poll(prod, 0);
		rd_kafka_message_t *m;
		while ((m = rd_kafka_consumer_poll(dec, next < n ? 5 : 50))) {
			bd_decision_t d;
			int idx = -1;
			int decoded = !m->err && bd_decode_decision(codec, m->payload, m->len,
								    &d, errstr, sizeof(errstr)) == 0;
			int ok = decoded && strcmp(d.campaign_id, campaign) == 0 &&
				 strncmp(d.request_id, pre, strlen(pre)) == 0 &&
				 sscanf(d.request_id + strlen(pre), "-r%d", &idx) == 1 &&
				 idx >= 0 && idx < n;
			char hk = 0;
			if (!ok && decoded && strcmp(d.campaign_id, campaign) == 0 &&
			    strncmp(d.request_id, pre, strlen(pre)) == 0 &&
			    sscanf(d.request_id + strlen(pre), "-%c%d", &hk, &idx) == 2 &&
			    (hk == 'f' || hk == 'u') && idx >= 0 && idx < n &&
			    !(h_seen[idx] & (hk == 'f' ? 1 : 2))) {
				/* a hostile request decided: the daemon took it */
				h_seen[idx] |= hk == 'f' ? 1 : 2;
				h_decided++;
			}
			if (ok && reqs[idx].decided) {
				/* a decision id published again must not change */
				if (reqs[idx].treatment != d.treatment)
					conflicts++;
			} else if (ok) {
				reqs[idx].decided = 1;
				reqs[idx].treatment = d.treatment;
				reqs[idx].propensity = d.propensity;
				decided++;
				bd_sim_outcome_t oc;
				uint64_t orng = bd_sim_rng_seed(o->world.seed, oseed + (uint64_t)idx);
				dec_cost += bd_sim_user_ec(w, users[idx], d.treatment);
				bd_sim_outcome(w, users[idx], d.treatment, &orng, &oc);
				double delay = oc.converted ? oc.delay_s : bd_sim_delay(w, &orng);
				if (heap_push(&heap, (pending_t){times[idx] + delay, idx}))
					goto out;
			}
			rd_kafka_message_destroy(m);
			if (next < n)
				break;
		}
		/* outcomes that are due; at the end of the day, all of them */
		int flush_all = next == n && decided == n;
		while (heap.n && (flush_all || heap.v[0].due <= sim)) {
			pending_t pd = heap_pop(&heap);
			int u = users[pd.idx], t = reqs[pd.idx].treatment;
			bd_sim_outcome_t oc;
			uint64_t orng = bd_sim_rng_seed(o->world.seed, oseed + (uint64_t)pd.idx);
			bd_sim_outcome(w, u, t, &orng, &oc);
			/* the truth of every decision, whether its outcome is sent or not */
			exp_value += bd_sim_user_ev(w, u, t);
			exp_spend += bd_sim_user_ec(w, u, t);
			if (!oc.converted && !o->zero_outcomes)
				continue;
			snprintf(rid, sizeof(rid), "%s-r%d", pre, pd.idx);
			snprintf(uid, sizeof(uid), "u%d", u);
			/* the id as anyone computes it (docs/messages.md) */
			bd_decision_id_format(bd_decision_hash(campaign, uid, rid), did);
			double due = pd.due < day_s ? pd.due : day_s;
			bd_outcome_event_t oe = {.decision_id = did, .campaign_id = campaign,
						 .user_id = uid,
						 .ts_ms = day0 + (int64_t)(due * scale * 1000),
						 .orders = oc.orders, .value = oc.value, .cost = oc.cost};
			if (o->hostile_value > 0 && bd_sim_rng_uniform(&hrng) < o->hostile_value) {
				/* first an impossible value for the same decision: if the
				 * daemon refuses it, the honest outcome joins as usual */
				bd_outcome_event_t bad = oe;
				bad.value = 1e300;
				if (bd_encode_outcome(codec, &bad, &b) ||
				    produce(prod, "budgetd.outcomes", uid, &b))
					goto out;
				h_value++;
			}
			if (bd_encode_outcome(codec, &oe, &b) || produce(prod, "budgetd.outcomes", uid, &b))
				goto out;
			reqs[pd.idx].outcome_sent = 1;
			spend += oc.cost;
			value += oc.value;
			orders += oc.orders;
		}
		/* the pace trace: 200 points through the day */
		while (trace && trace_next <= 200 && (sim >= day_s * trace_next / 200.0 ||
						      (next == n && decided == n))) {
			fprintf(trace, "%.4f %.5f %.4f %.4f %.4f %.4f %.1f %d %.4f %.4f\n",
				trace_next / 200.0, (double)next / n, dec_cost, spend, budget,
				plan_spent, plan_rem, n - next, ref_e, ref_r);
			trace_next++;
		}
		if (!o->quiet && now_s() - last_report >= 5) {
			last_report = now_s();
			fprintf(stderr, "budgetd-sim: %5.1f%% of the day: %d events, %d decisions, "
				"spend %.2f of %.2f\n", 100 * sim / day_s, next, decided, spend, budget);
		}
		if (next == n && decided == n && heap.n == 0)
			break;
		if (next == n && decided < n) {
			if (end_wait == 0)
				end_wait = now_s();
			else if (now_s() - end_wait > o->drain_s) {
				fprintf(stderr, "budgetd-sim: %d of %d decisions never came\n",
					n - decided, n);
				break;
			}
		}
	}
	rd_kafka_flush(prod, 30000);

	if (trace)
		fclose(trace);
	trace = NULL;
	double rnd_value = 0, rnd_spend = 0, orc_value = 0, orc_spend = 0, ctl_value = 0,
	       orc2_value = 0, orc2_spend = 0, uni_value = 0;
	if (bd_sim_uniform_value(w, users, n, &rnd_value, &rnd_spend) ||
	    bd_sim_oracle(w, users, n, budget, &orc_value, &orc_spend, NULL) ||
	    bd_sim_oracle(w, users, n, exp_spend, &orc2_value, &orc2_spend, NULL) ||
	    bd_sim_control_value(w, users, n, &ctl_value) ||
	    bd_sim_uniform_value_at(w, users, n, exp_spend, &uni_value))
		goto out;
	/* the fair comparison: what the incentives bought over all-control,
	 * against uniform and the oracle at the same (expected) spend */
	double inc = exp_value - ctl_value, uni_inc = uni_value - ctl_value,
	       orc_inc = orc2_value - ctl_value;
	printf("\n  budgetd closed-loop day (%s, world %s)\n", campaign,
	       bd_sim_family_name(o->world.family));
	printf("  incremental value over all-control (no coupon for anyone), at budgetd's "
	       "spend %.2f:\n", exp_spend);
	printf("    budgetd        %+.2f\n", inc);
	printf("    uniform        %+.2f  (random coupons at the same spend): budgetd %.2fx "
	       "uniform's increment\n", uni_inc, inc / (uni_inc != 0 ? uni_inc : 1e-12));
	printf("    oracle         %+.2f  (true responses, same spend): budgetd %.1f%% of the "
	       "oracle's increment\n", orc_inc, 100 * inc / (orc_inc != 0 ? orc_inc : 1e-12));
	printf("  events in        %d feature events, %d outcome events\n", n, decided);
	printf("  decisions out    %d\n", decided);
	printf("  spend            %.2f of budget %.2f (%.1f%%), expected %.2f\n", spend,
	       budget, 100 * spend / (budget + 1e-12), exp_spend);
	printf("  spend-everything %.2f expected, %.2f realised on the same draws\n",
	       max_spend, max_realised);
	printf("  value (GMV)      %.2f true expected, %.2f realised, %.0f orders; all-control "
	       "%.2f\n", exp_value, value, orders, ctl_value);
	printf("  total value      budgetd %.4f of the oracle's at the same spend, %.4f of "
	       "uniform's (mostly GMV bought anyway)\n", exp_value / (orc2_value + 1e-12),
	       exp_value / (uni_value + 1e-12));
	printf("  other references uniform over all treatments %.2f value for %.2f spend "
	       "(%.1f%% of budget); oracle at the full budget %.2f\n", rnd_value, rnd_spend,
	       100 * rnd_spend / (budget + 1e-12), orc_value);
	printf("  outputs          decisions on budgetd.decisions, plans on budgetd.plans "
	       "(broker %s)\n", o->bootstrap);
	if (conflicts)
		printf("  CONFLICTS        %d decisions re-published with another treatment\n",
		       conflicts);
	if (h_future + h_utf8 + h_value)
		printf("  hostile          %d requests a day ahead, %d with a non-UTF-8 id (%d of "
		       "them decided), %d outcomes valued 1e300 (not in the figures above)\n",
		       h_future, h_utf8, h_decided, h_value);
	/* budget command -> plan latencies, sorted */
	for (int i = 1; i < n_lat; i++)
		for (int j = i; j > 0 && lat_ms[j] < lat_ms[j - 1]; j--) {
			double t = lat_ms[j];
			lat_ms[j] = lat_ms[j - 1];
			lat_ms[j - 1] = t;
		}
	printf("demo: events=%d decisions=%d spend=%.2f budget=%.2f value=%.2f "
	       "random_value=%.2f oracle_value=%.2f expected_spend=%.2f "
	       "oracle_same_spend=%.2f uniform_same_spend=%.2f control_value=%.2f "
	       "budget_changes=%d budget_change_ms_p50=%.1f budget_change_ms_max=%.1f "
	       "everything_expected=%.2f everything_realised=%.2f "
	       "hostile_future=%d hostile_utf8=%d hostile_decided=%d hostile_value=%d "
	       "increment=%.2f uniform_increment=%.2f oracle_increment=%.2f\n",
	       n, decided, spend, budget, exp_value, rnd_value, orc_value, exp_spend,
	       orc2_value, uni_value, ctl_value, n_lat, n_lat ? lat_ms[n_lat / 2] : 0,
	       n_lat ? lat_ms[n_lat - 1] : 0, max_spend, max_realised, h_future, h_utf8,
	       h_decided, h_value, inc, uni_inc, orc_inc);
	rc = decided == n && conflicts == 0 ? 0 : 1;
out:
	if (dec) {
		rd_kafka_consumer_close(dec);
		rd_kafka_destroy(dec);
	}
	if (plans) {
		rd_kafka_consumer_close(plans);
		rd_kafka_destroy(plans);
	}
	if (prod)
		rd_kafka_destroy(prod);
	if (trace)
		fclose(trace);
	bd_codec_free(codec);
	bd_buf_free(&b);
	free(heap.v);
	free(times);
	free(users);
	free(reqs);
	free(h_seen);
	free(tmax);
	free(ref_ec);
	free(ref_rc);
	bd_sim_world_free(w);
	return rc;
}

/* Yesterday's log (day --day, -1 by default) of the same world: the day's
 * arrivals, each decided by the logging policy (--policy: uniform, or the
 * biased one with --explore) and answered by its outcome (zero when the
 * user did not convert), sent as historical outcome events (no decision
 * id; features, treatment, propensity) dated through that day.  The
 * campaign is created (or updated) first, since the daemon dead-letters
 * samples of a campaign it does not know; with --wait-model S, waits up
 * to S seconds for a plan of the campaign made with a model newer than
 * the one before the log (the daemon trains on it by itself,
 * train.on.history). */
static int run_history(const opts_t *o)
{
	bd_sim_world_t *w = NULL;
	rd_kafka_t *prod = NULL, *plans = NULL;
	bd_codec_t *codec = NULL;
	uint32_t ids[BD_MSG__COUNT] = {1, 2, 3, 4, 5, 6, 7};
	char errstr[512], uid[32];
	double *times = NULL, max_spend = 0, probs[BD_SIM_MAX_T];
	int *users = NULL, n = o->samples, rc = 1, sent = 0, conv = 0;
	bd_buf_t b = {0};

	if (bd_sim_world_new(&o->world, &w) != 0) {
		fprintf(stderr, "budgetd-sim: cannot build the world\n");
		return 1;
	}
	const int nt = bd_sim_n_treatments(w);
	/* that day's own arrivals and outcomes, as a live run of it would draw */
	uint64_t rng = bd_sim_rng_seed(o->world.seed, 1 + 7919ULL * (uint64_t)o->day);
	uint64_t prng = bd_sim_rng_seed(o->world.seed, 0x4157ULL + (uint64_t)o->day);
	const uint64_t oseed = 1000003ULL + 100000007ULL * (uint64_t)o->day;
	if (!(times = malloc(sizeof(double) * (size_t)n)) ||
	    !(users = malloc(sizeof(int) * (size_t)n)) ||
	    bd_sim_day_arrivals(w, n, &rng, times, users) != 0 ||
	    spend_everything(o, w, users, n, &max_spend) != 0)
		goto out;
	if (bd_codec_new(ids, BD_WIRE_CONFLUENT, &codec, errstr, sizeof(errstr)) != 0) {
		fprintf(stderr, "budgetd-sim: %s\n", errstr);
		goto out;
	}
	if (!(prod = client(RD_KAFKA_PRODUCER, o->bootstrap)) ||
	    !(plans = client(RD_KAFKA_CONSUMER, o->bootstrap)) ||
	    assign_at_end(plans, "budgetd.plans"))
		goto out;
	int64_t day0 = (wall_ms() / 86400000 + o->day) * 86400000;
	double scale = 86400.0 / o->world.day_seconds;
	double budget = o->budget > 0 ? o->budget : o->budget_frac * max_spend;
	/* the campaign is created today, as the day's run (day 0) does: in
	 * event mode its creation time is its clock until its first request,
	 * and a request a day past it would be refused as future */
	int64_t today0 = wall_ms() / 86400000 * 86400000;
	if (send_control(prod, codec, o, w, o->campaign, BD_ACTION_UPSERT_CAMPAIGN, budget, day0,
			 today0))
		goto out;
	rd_kafka_flush(prod, 10000);
	int64_t before = wait_for_model(plans, codec, o->campaign, INT64_MIN, 60);
	if (before < 0) {
		fprintf(stderr, "budgetd-sim: no plan for %s within 60 s: is budgetd running?\n",
			o->campaign);
		goto out;
	}
	for (int i = 0; i < n && !stop_flag; i++) {
		int u = users[i], t = nt - 1;
		if (o->policy == BD_SIM_POLICY_RCT) {
			for (int q = 0; q < nt; q++)
				probs[q] = 1.0 / nt;
		} else {
			bd_sim_logging_probs(w, u, o->explore, probs);
		}
		double r = bd_sim_rng_uniform(&prng), acc = 0;
		for (int q = 0; q < nt; q++)
			if (r < (acc += probs[q])) {
				t = q;
				break;
			}
		bd_sim_outcome_t oc;
		uint64_t orng = bd_sim_rng_seed(o->world.seed, oseed + (uint64_t)i);
		bd_sim_outcome(w, u, t, &orng, &oc);
		snprintf(uid, sizeof(uid), "u%d", u);
		bd_outcome_event_t oe = {
			.decision_id = "", .campaign_id = o->campaign, .user_id = uid,
			.ts_ms = day0 + (int64_t)(times[i] * scale * 1000),
			.orders = oc.orders, .value = oc.value, .cost = oc.cost,
			.has_features = true, .features = bd_sim_user_features(w, u),
			.dim = o->world.dim, .has_treatment = true, .treatment = t,
			.has_propensity = true, .propensity = probs[t],
		};
		if (bd_encode_outcome(codec, &oe, &b) || produce(prod, "budgetd.outcomes", uid, &b))
			goto out;
		sent++;
		conv += oc.converted;
		rd_kafka_poll(prod, 0);
	}
	if (rd_kafka_flush(prod, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "budgetd-sim: the log was not all delivered\n");
		goto out;
	}
	if (!o->quiet)
		fprintf(stderr, "budgetd-sim: campaign %s: %d logged decisions of day %d sent as "
			"historical samples (%s policy, %d converted)\n", o->campaign, sent, o->day,
			o->policy == BD_SIM_POLICY_RCT ? "uniform" : "biased", conv);
	rc = 0;
	if (o->wait_model > 0) {
		int64_t v = wait_for_model(plans, codec, o->campaign, before, o->wait_model);
		if (v < 0) {
			fprintf(stderr, "budgetd-sim: no plan with a model newer than %lld within "
				"%.0f s\n", (long long)before, o->wait_model);
			rc = 1;
		} else if (!o->quiet) {
			fprintf(stderr, "budgetd-sim: campaign %s plans with model %lld (trained "
				"on the log)\n", o->campaign, (long long)v);
		}
	}
	printf("history: samples=%d converted=%d day=%d model_before=%lld\n", sent, conv,
	       o->day, (long long)before);
out:
	if (plans) {
		rd_kafka_consumer_close(plans);
		rd_kafka_destroy(plans);
	}
	if (prod)
		rd_kafka_destroy(prod);
	bd_codec_free(codec);
	bd_buf_free(&b);
	free(times);
	free(users);
	bd_sim_world_free(w);
	return rc;
}

static int run_offline(const opts_t *o)
{
	bd_sim_world_t *w = NULL;
	FILE *f;
	int rc;
	uint64_t rng = bd_sim_rng_seed(o->world.seed, 2);

	if (!o->out) {
		fprintf(stderr, "budgetd-sim offline: --out FILE is required\n");
		return 2;
	}
	if (bd_sim_world_new(&o->world, &w) != 0) {
		fprintf(stderr, "budgetd-sim: cannot build the world\n");
		return 1;
	}
	if (!(f = strcmp(o->out, "-") ? fopen(o->out, "w") : stdout)) {
		fprintf(stderr, "budgetd-sim: %s: %s\n", o->out, strerror(errno));
		bd_sim_world_free(w);
		return 1;
	}
	rc = bd_sim_write_samples(w, f, o->samples, o->policy, o->explore, &rng);
	if (f != stdout && fclose(f) != 0)
		rc = -EIO;
	bd_sim_world_free(w);
	if (rc) {
		fprintf(stderr, "budgetd-sim: writing %s failed\n", o->out);
		return 1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: budgetd-sim run --bootstrap ADDR [options]\n"
		"       budgetd-sim offline --out FILE [--samples N] [--policy rct|biased]\n"
		"       budgetd-sim history --bootstrap ADDR --campaign ID [--samples N]\n"
		"                   [--policy rct|biased] [--day -N] [--wait-model S]\n"
		"options:\n"
		"  --events N          arrivals in the day (default 20000)\n"
		"  --duration S        wall seconds for the simulated day (default 60)\n"
		"  --drain S           after the day, wait up to S seconds for the decisions\n"
		"                      still missing (default 60)\n"
		"  --budget B          daily budget (absolute)\n"
		"  --budget-frac F     daily budget as a share of the spend-everything level: what\n"
		"                      maximising value spends outside the exploration slice (0.3)\n"
		"  --midday-factor X   multiply the budget by X at noon\n"
		"  --campaign ID       campaign id (default sim-SEED-PID)\n"
		"  --request-prefix P  request ids are P-rN (default: the campaign id)\n"
		"  --explore E         campaign exploration share / biased-policy exploration\n"
		"  --no-zero-outcomes  send outcome events only for conversions\n"
		"  --no-wait-plan      do not wait for the campaign's first plan\n"
		"  --day N             simulate day N after today (own arrivals, request ids);\n"
		"                      history: the log's day, -1 (yesterday) by default\n"
		"  --samples N         offline, history: logged decisions (100000)\n"
		"  --policy P          offline, history: the logging policy, rct (uniform\n"
		"                      treatments, the default) or biased (with --explore)\n"
		"  --wait-model S      history: wait up to S s for a plan of the campaign made\n"
		"                      with a model trained after the log was sent\n"
		"  --trace FILE        write cumulative spend against traffic through the day\n"
		"  --probe-budget N    send N negligible budget changes and time their plans\n"
		"  --hostile-future F  also send, for a share F of the requests, a separate request\n"
		"                      (id P-fN) dated a day ahead: a producer whose clock is off\n"
		"  --hostile-utf8 F    ... a separate request whose id (P-uN) ends in bytes ff fe\n"
		"  --hostile-value F   precede a share F of the outcomes by one for the same\n"
		"                      decision valued 1e300\n"
		"                      (refused requests get no decision and are not counted as\n"
		"                      missing; the run reports how many the daemon decided)\n"
		"  --world NAME        world family: default, smooth, sparse (docs/simulator.md)\n"
		"  -p KEY=VALUE        world knob (seed, users, segments, dim, treatments,\n"
		"                      coupons, label_noise, feature_noise, heavy_tail, ...;\n"
		"                      world=NAME as --world)\n"
		"  -q                  no progress lines\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"bootstrap", required_argument, NULL, 'b'},
		{"events", required_argument, NULL, 'n'},
		{"duration", required_argument, NULL, 'd'},
		{"budget", required_argument, NULL, 'B'},
		{"budget-frac", required_argument, NULL, 'f'},
		{"midday-factor", required_argument, NULL, 'm'},
		{"campaign", required_argument, NULL, 'c'},
		{"request-prefix", required_argument, NULL, 'r'},
		{"explore", required_argument, NULL, 'e'},
		{"no-zero-outcomes", no_argument, NULL, 'Z'},
		{"no-wait-plan", no_argument, NULL, 'W'},
		{"day", required_argument, NULL, 'D'},
		{"trace", required_argument, NULL, 'T'},
		{"drain", required_argument, NULL, 'G'},
		{"probe-budget", required_argument, NULL, 'Q'},
		{"hostile-future", required_argument, NULL, 'F'},
		{"hostile-utf8", required_argument, NULL, 'U'},
		{"hostile-value", required_argument, NULL, 'V'},
		{"out", required_argument, NULL, 'o'},
		{"samples", required_argument, NULL, 's'},
		{"policy", required_argument, NULL, 'P'},
		{"wait-model", required_argument, NULL, 'M'},
		{"world", required_argument, NULL, 'w'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	opts_t o = {.events = 20000, .duration = 60, .drain_s = 60, .budget_frac = 0.3,
		    .zero_outcomes = 1, .wait_plan = 1, .samples = 100000, .explore = 0.1};
	char errstr[256];
	int c;

	if (argc < 2 || (strcmp(argv[1], "run") && strcmp(argv[1], "offline") &&
			 strcmp(argv[1], "history"))) {
		usage(stderr);
		return 2;
	}
	optind = 2;
	int li = 0;
	while ((c = getopt_long(argc, argv, "p:qh", lo, &li)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'b': o.bootstrap = optarg; break;
		case 'n': o.events = (int)strtol(optarg, &end, 10); break;
		case 'd': o.duration = strtod(optarg, &end); break;
		case 'B': o.budget = strtod(optarg, &end); break;
		case 'f': o.budget_frac = strtod(optarg, &end); break;
		case 'm': o.midday_factor = strtod(optarg, &end); break;
		case 'c': o.campaign = optarg; break;
		case 'r': o.prefix = optarg; break;
		case 'e': o.explore = strtod(optarg, &end); o.explore_set = 1; break;
		case 'Z': o.zero_outcomes = 0; break;
		case 'W': o.wait_plan = 0; break;
		case 'D': o.day = (int)strtol(optarg, &end, 10); o.day_set = 1; break;
		case 'M': o.wait_model = strtod(optarg, &end); break;
		case 'T': o.trace = optarg; break;
		case 'G': o.drain_s = strtod(optarg, &end); break;
		case 'Q': o.probes = (int)strtol(optarg, &end, 10); break;
		case 'F': o.hostile_future = strtod(optarg, &end); break;
		case 'U': o.hostile_utf8 = strtod(optarg, &end); break;
		case 'V': o.hostile_value = strtod(optarg, &end); break;
		case 'o': o.out = optarg; break;
		case 's': o.samples = (int)strtol(optarg, &end, 10); break;
		case 'P':
			if (strcmp(optarg, "rct") && strcmp(optarg, "biased")) {
				fprintf(stderr, "budgetd-sim: --policy rct|biased, not '%s'\n", optarg);
				return 2;
			}
			o.policy = strcmp(optarg, "rct") ? BD_SIM_POLICY_BIASED : BD_SIM_POLICY_RCT;
			break;
		case 'p':
			if (o.n_kv == (int)(sizeof(o.kv) / sizeof(o.kv[0]))) {
				fprintf(stderr, "budgetd-sim: too many -p options\n");
				return 2;
			}
			o.kv[o.n_kv++] = optarg;
			break;
		case 'w': o.world_name = optarg; break;
		case 'q': o.quiet = 1; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
		if (end && *end) {
			fprintf(stderr, "budgetd-sim: --%s: '%s' is not a number\n",
				lo[li].name, optarg);
			return 2;
		}
	}
	int history = strcmp(argv[1], "history") == 0;
	if (history && !o.day_set)
		o.day = -1;
	if (o.events <= 0 || o.duration <= 0 || !(o.drain_s >= 0) || (history ? o.day >= 0 : o.day < 0) ||
	    o.day < -3650 || o.day > 3650 || !(o.wait_model >= 0) || o.probes < 0 || o.probes > 200 || o.budget < 0 || o.budget_frac < 0 ||
	    o.explore < 0 || o.explore > 1 || o.samples <= 0 ||
	    !(o.hostile_future >= 0 && o.hostile_future <= 1) ||
	    !(o.hostile_utf8 >= 0 && o.hostile_utf8 <= 1) ||
	    !(o.hostile_value >= 0 && o.hostile_value <= 1)) {
		fprintf(stderr, "budgetd-sim: a numeric option is out of range\n");
		return 2;
	}
	if (bd_sim_params_from_args(&o.world, o.world_name, o.kv, o.n_kv, errstr, sizeof(errstr)) ||
	    bd_sim_params_validate(&o.world, errstr, sizeof(errstr))) {
		fprintf(stderr, "budgetd-sim: %s\n", errstr);
		return 2;
	}
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	if (strcmp(argv[1], "offline") == 0)
		return run_offline(&o);
	if (history && (!o.bootstrap || !o.campaign)) {
		fprintf(stderr, "budgetd-sim history: --bootstrap ADDR and --campaign ID are "
			"required\n");
		return 2;
	}
	if (history)
		return run_history(&o);
	if (!o.bootstrap) {
		fprintf(stderr, "budgetd-sim run: --bootstrap ADDR is required\n");
		return 2;
	}
	return run_loop(&o);
}
