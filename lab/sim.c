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
	double holdout; /* --holdout: the campaign's holdout share (-1: not sent) */
	double uniform_arm; /* --uniform-arm: its uniform arm's share (-1: not sent) */
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
	int decided, treatment, arm; /* arm: 0 plan, 1 holdout, 2 uniform */
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
		if (o->holdout >= 0) {
			cmd.has_holdout = true;
			cmd.holdout = o->holdout;
		}
		if (o->uniform_arm >= 0) {
			cmd.has_uniform_arm = true;
			cmd.uniform_arm = o->uniform_arm;
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

/* One simulated day against the daemon: what setup fixes (the world, the
 * arrivals, the budget and the spend-everything references), the clients,
 * and what the closed loop counts.  The day_* steps below work on it alone;
 * history uses its arrivals, codec and clients (and day_free). */
typedef struct day_s {
	const opts_t *o;
	bd_sim_world_t *w;
	int n;                  /* arrivals */
	double *times;          /* simulated seconds, sorted */
	int *users;
	req_t *reqs;
	uint64_t oseed;         /* outcome draws of request i: seed, oseed + i */
	double budget, max_spend;
	/* the spend-everything level per request, expected and realised, and
	 * its running sums over the requests sent so far (for the trace) */
	int *tmax;
	double *ref_ec, *ref_rc, max_realised, ref_e, ref_r;

	bd_codec_t *codec;
	rd_kafka_t *prod, *dec, *plans;
	char campaign[128], pre[192]; /* request ids are PRE-rI */
	int64_t day0;                 /* the simulated day's midnight, ms */
	double day_s, scale;          /* simulated day length, real day / it */
	FILE *trace;
	int trace_next;

	/* budget commands whose plan we time: sent at, budget, latencies */
	int midday_done, probes_sent, n_lat;
	double probe_at, probe_budget, lat_ms[256];
	double plan_spent, plan_rem;  /* what the daemon's last plan believes */

	int next, decided, conflicts;
	double dec_cost, spend, value, orders, exp_value, exp_spend;
	/* by arm (0 treated by the plan, 1 holdout, 2 uniform arm): decisions,
	 * their true expected value and cost, the realised cost of their
	 * outcomes; the plan-treated's true value over control */
	double arm_n[3], arm_ev[3], arm_ec[3], arm_spend[3], effect_treated;
	heap_t heap;                  /* outcomes not yet due */
	bd_buf_t b;

	/* hostile input: its own random stream (the honest day stays the
	 * same), what was sent, and which of it the daemon decided anyway */
	uint64_t hrng;
	int h_future, h_utf8, h_value, h_decided;
	char *h_seen;                 /* per request: 1 future, 2 utf8 decided */
} day_t;

/* The day's references on its arrivals, computed after the loop. */
typedef struct day_refs_s {
	double rnd_value, rnd_spend;   /* uniform over all treatments */
	double orc_value, orc_spend;   /* the oracle at the full budget */
	double orc2_value, orc2_spend; /* the oracle at budgetd's expected spend */
	double uni_value;              /* uniform at budgetd's expected spend */
	double ctl_value;              /* all-control */
	/* over all-control: budgetd's, uniform's and the oracle's at the
	 * same expected spend */
	double inc, uni_inc, orc_inc;
} day_refs_t;

/* The world, day --day's @p n arrivals (each day has its own arrivals
 * and outcome draws) and their spend-everything level. */
static int day_arrivals(day_t *d, const opts_t *o, int n)
{
	d->o = o;
	d->n = n;
	if (bd_sim_world_new(&o->world, &d->w) != 0) {
		fprintf(stderr, "budgetd-sim: cannot build the world\n");
		return -1;
	}
	uint64_t rng = bd_sim_rng_seed(o->world.seed, 1 + 7919ULL * (uint64_t)o->day);
	d->oseed = 1000003ULL + 100000007ULL * (uint64_t)o->day;
	if (!(d->times = malloc(sizeof(double) * (size_t)n)) ||
	    !(d->users = malloc(sizeof(int) * (size_t)n)) ||
	    bd_sim_day_arrivals(d->w, n, &rng, d->times, d->users) != 0 ||
	    spend_everything(o, d->w, d->users, n, &d->max_spend) != 0)
		return -1;
	d->day_s = o->world.day_seconds;
	d->scale = 86400.0 / d->day_s;
	return 0;
}

/* The closed loop's day: its arrivals, and room for what comes back. */
static int day_setup(day_t *d, const opts_t *o)
{
	d->hrng = bd_sim_rng_seed(o->world.seed, 0x6057113ULL + (uint64_t)o->day);
	d->midday_done = o->midday_factor <= 0;
	if (day_arrivals(d, o, o->events) ||
	    !(d->reqs = calloc((size_t)o->events, sizeof(*d->reqs))) ||
	    !(d->h_seen = calloc((size_t)o->events, 1)))
		return -1;
	return 0;
}

/* The spend-everything level per request, expected and realised on this
 * day's outcome draws (the draws of request i are the same whatever the
 * treatment's source): how far the spend-everything policy itself lands
 * from its expectation, the noise floor of a 100% day.  Then the budget. */
static int day_reference(day_t *d)
{
	const opts_t *o = d->o;
	const int n = d->n;
	if (!(d->tmax = malloc(sizeof(int) * (size_t)n)) ||
	    !(d->ref_ec = malloc(sizeof(double) * (size_t)n)) ||
	    !(d->ref_rc = malloc(sizeof(double) * (size_t)n)) ||
	    bd_sim_oracle_assign(d->w, d->users, n, 0, d->tmax, NULL, NULL) != 0)
		return -1;
	const int nt = bd_sim_n_treatments(d->w);
	for (int i = 0; i < n; i++) {
		double me = 0, mr = 0, xr = 0;
		int u = d->users[i];
		for (int t = 0; t < nt; t++) {
			bd_sim_outcome_t oc;
			uint64_t orng = bd_sim_rng_seed(o->world.seed, d->oseed + (uint64_t)i);
			bd_sim_outcome(d->w, u, t, &orng, &oc);
			me += bd_sim_user_ec(d->w, u, t) / nt;
			mr += oc.cost / nt;
			if (t == d->tmax[i])
				xr = oc.cost;
		}
		d->ref_ec[i] = (1 - o->explore) * bd_sim_user_ec(d->w, u, d->tmax[i]) +
			       o->explore * me;
		d->ref_rc[i] = (1 - o->explore) * xr + o->explore * mr;
		d->max_realised += d->ref_rc[i];
	}
	d->budget = o->budget > 0 ? o->budget : o->budget_frac * d->max_spend;
	return 0;
}

/* The campaign's name, its day's midnight and its request-id prefix; the
 * trace file with its header. */
static int day_names(day_t *d)
{
	const opts_t *o = d->o;
	if (o->campaign)
		snprintf(d->campaign, sizeof(d->campaign), "%s", o->campaign);
	else
		snprintf(d->campaign, sizeof(d->campaign), "sim-%llu-%d",
			 (unsigned long long)o->world.seed, (int)getpid());
	/* the simulated day is today (UTC), so decisions look current */
	d->day0 = (wall_ms() / 86400000 + o->day) * 86400000;
	/* request ids are unique per day: PREFIX-dN-rI from day 1 on */
	const char *p = o->prefix ? o->prefix : d->campaign;
	if (o->day)
		snprintf(d->pre, sizeof(d->pre), "%s-d%d", p, o->day);
	else
		snprintf(d->pre, sizeof(d->pre), "%s", p);
	if (o->trace && !(d->trace = fopen(o->trace, "w"))) {
		fprintf(stderr, "budgetd-sim: --trace %s: %s\n", o->trace, strerror(errno));
		return -1;
	}
	if (d->trace)
		fprintf(d->trace, "day_frac arrivals_frac expected_spend realised_spend budget "
			"daemon_spent daemon_expected_requests requests_left "
			"everything_expected everything_realised\n");
	return 0;
}

/* The codec, with the schema ids the daemon registers. */
static int day_codec(day_t *d)
{
	uint32_t ids[BD_MSG__COUNT] = {1, 2, 3, 4, 5, 6, 7};
	char errstr[512];
	if (bd_codec_new(ids, BD_WIRE_CONFLUENT, &d->codec, errstr, sizeof(errstr)) != 0) {
		fprintf(stderr, "budgetd-sim: %s\n", errstr);
		return -1;
	}
	return 0;
}

/* The codec and the clients (decisions and plans read from their ends
 * on), the campaign upserted, and (unless --no-wait-plan) its first plan. */
static int day_connect(day_t *d)
{
	const opts_t *o = d->o;
	if (day_codec(d) ||
	    !(d->prod = client(RD_KAFKA_PRODUCER, o->bootstrap)) ||
	    !(d->dec = client(RD_KAFKA_CONSUMER, o->bootstrap)) ||
	    !(d->plans = client(RD_KAFKA_CONSUMER, o->bootstrap)))
		return -1;
	if (assign_at_end(d->dec, "budgetd.decisions") ||
	    assign_at_end(d->plans, "budgetd.plans") || day_names(d))
		return -1;
	if (send_control(d->prod, d->codec, o, d->w, d->campaign, BD_ACTION_UPSERT_CAMPAIGN,
			 d->budget, d->day0, d->day0))
		return -1;
	rd_kafka_flush(d->prod, 10000);
	if (o->wait_plan && wait_for_plan(d->plans, d->codec, d->campaign, 60) != 0) {
		fprintf(stderr, "budgetd-sim: no plan for %s within 60 s: is budgetd running?\n",
			d->campaign);
		return -1;
	}
	if (!o->quiet)
		fprintf(stderr, "budgetd-sim: campaign %s, %d arrivals, budget %.2f "
			"(%.0f%% of the spend-everything level %.2f), %.0f s\n",
			d->campaign, d->n, d->budget, 100 * d->budget / (d->max_spend + 1e-12),
			d->max_spend, o->duration);
	return 0;
}

/* At simulated second @p sim: the mid-day budget change (for pacing
 * demos), else the next budget probe; either is timed to its plan. */
static void day_control(day_t *d, double sim)
{
	const opts_t *o = d->o;
	int64_t at_ms = d->day0 + (int64_t)(sim * d->scale * 1000);
	if (!d->midday_done && sim >= d->day_s / 2) {
		d->budget *= o->midday_factor;
		send_control(d->prod, d->codec, o, d->w, d->campaign, BD_ACTION_SET_BUDGET,
			     d->budget, d->day0 + 1, at_ms);
		d->midday_done = 1;
	} else if (d->probe_at == 0 && d->probes_sent < o->probes &&
		   sim >= d->day_s * (d->probes_sent + 0.25) / o->probes) {
		/* a budget change too small to matter, to time the
		 * command -> published plan path */
		d->budget += 1e-6 * (1 + d->probes_sent);
		send_control(d->prod, d->codec, o, d->w, d->campaign, BD_ACTION_SET_BUDGET,
			     d->budget, d->day0 + 10 + d->probes_sent, at_ms);
		d->probes_sent++;
	} else {
		return;
	}
	d->probe_at = now_s();
	d->probe_budget = d->budget;
}

/* Reads every plan there is (they arrive several a second): the
 * campaign's last belief for the trace, and the latency of a timed
 * budget command once a plan carries its budget. */
static void day_drain_plans(day_t *d)
{
	char errstr[512];
	for (rd_kafka_message_t *pm; (pm = rd_kafka_consumer_poll(d->plans, 0));) {
		bd_plan_msg_t pl;
		int mine = !pm->err &&
			   bd_decode_plan(d->codec, pm->payload, pm->len, &pl, errstr,
					  sizeof(errstr)) == 0 &&
			   strcmp(pl.campaign_id, d->campaign) == 0;
		if (mine) {
			d->plan_spent = pl.spent;
			d->plan_rem = pl.expected_requests;
		}
		if (d->probe_at > 0 && mine && fabs(pl.daily_budget - d->probe_budget) < 1e-9) {
			if (d->n_lat < 256)
				d->lat_ms[d->n_lat++] = (now_s() - d->probe_at) * 1000;
			d->probe_at = 0;
		}
		rd_kafka_message_destroy(pm);
	}
}

/* Request @p i's feature event, and beside it the hostile producer's: the
 * same request a day ahead (id PRE-fI), or with an id that is not UTF-8
 * (PRE-uI, ending in ff fe). */
static int day_send_request(day_t *d, int i)
{
	const opts_t *o = d->o;
	float feat[512];
	char rid[256], uid[32];
	int u = d->users[i];
	memcpy(feat, bd_sim_user_features(d->w, u), sizeof(float) * (size_t)o->world.dim);
	snprintf(rid, sizeof(rid), "%s-r%d", d->pre, i);
	snprintf(uid, sizeof(uid), "u%d", u);
	bd_feature_event_t ev = {rid, d->campaign, uid,
				 d->day0 + (int64_t)(d->times[i] * d->scale * 1000),
				 feat, o->world.dim};
	if (bd_encode_feature(d->codec, &ev, &d->b) ||
	    produce(d->prod, "budgetd.features", uid, &d->b))
		return -1;
	if (o->hostile_future > 0 && bd_sim_rng_uniform(&d->hrng) < o->hostile_future) {
		snprintf(rid, sizeof(rid), "%s-f%d", d->pre, i);
		ev.ts_ms += 86400000;
		if (bd_encode_feature(d->codec, &ev, &d->b) ||
		    produce(d->prod, "budgetd.features", uid, &d->b))
			return -1;
		ev.ts_ms -= 86400000;
		d->h_future++;
	}
	if (o->hostile_utf8 > 0 && bd_sim_rng_uniform(&d->hrng) < o->hostile_utf8) {
		snprintf(rid, sizeof(rid), "%s-u%d~~", d->pre, i);
		if (bd_encode_feature(d->codec, &ev, &d->b) || not_utf8(&d->b, rid) ||
		    produce(d->prod, "budgetd.features", uid, &d->b))
			return -1;
		d->h_utf8++;
	}
	return 0;
}

/* Every request that has arrived by simulated second @p sim. */
static int day_send_requests(day_t *d, double sim)
{
	for (; d->next < d->n && d->times[d->next] <= sim; d->next++) {
		d->ref_e += d->ref_ec[d->next];
		d->ref_r += d->ref_rc[d->next];
		if (day_send_request(d, d->next))
			return -1;
	}
	return 0;
}

/* The first decision of request @p idx sets its treatment and schedules
 * its outcome after the simulated delay; one published again must not
 * change. */
static int day_take_decision(day_t *d, int idx, const bd_decision_t *dc)
{
	req_t *r = &d->reqs[idx];
	if (r->decided) {
		if (r->treatment != dc->treatment)
			d->conflicts++;
		return 0;
	}
	r->decided = 1;
	r->treatment = dc->treatment;
	r->propensity = dc->propensity;
	r->arm = dc->reason && strcmp(dc->reason, "holdout") == 0 ? 1
		 : dc->arm && strcmp(dc->arm, "uniform") == 0	    ? 2
								    : 0;
	d->decided++;
	/* the experiment report's truth (docs/experiment.md): each arm's true
	 * expected value and cost per request, and the treated's true effect */
	int u = d->users[idx], a = r->arm;
	d->arm_n[a]++;
	d->arm_ev[a] += bd_sim_user_ev(d->w, u, dc->treatment);
	d->arm_ec[a] += bd_sim_user_ec(d->w, u, dc->treatment);
	if (!a)
		d->effect_treated += bd_sim_user_ev(d->w, u, dc->treatment) -
				     bd_sim_user_ev(d->w, u, 0);
	bd_sim_outcome_t oc;
	uint64_t orng = bd_sim_rng_seed(d->o->world.seed, d->oseed + (uint64_t)idx);
	d->dec_cost += bd_sim_user_ec(d->w, d->users[idx], dc->treatment);
	bd_sim_outcome(d->w, d->users[idx], dc->treatment, &orng, &oc);
	double delay = oc.converted ? oc.delay_s : bd_sim_delay(d->w, &orng);
	return heap_push(&d->heap, (pending_t){d->times[idx] + delay, idx});
}

/* A decision of this day's campaign: an honest request's (PRE-rI), or a
 * hostile one's (PRE-fI, PRE-uI) that the daemon took, counted once. */
static int day_decision(day_t *d, const bd_decision_t *dc)
{
	size_t lp = strlen(d->pre);
	const char *tail = dc->request_id + lp;
	int idx = -1;
	char hk = 0;
	if (strcmp(dc->campaign_id, d->campaign) != 0 || strncmp(dc->request_id, d->pre, lp) != 0)
		return 0;
	if (sscanf(tail, "-r%d", &idx) == 1 && idx >= 0 && idx < d->n)
		return day_take_decision(d, idx, dc);
	if (sscanf(tail, "-%c%d", &hk, &idx) == 2 && (hk == 'f' || hk == 'u') && idx >= 0 &&
	    idx < d->n && !(d->h_seen[idx] & (hk == 'f' ? 1 : 2))) {
		d->h_seen[idx] |= hk == 'f' ? 1 : 2;
		d->h_decided++;
	}
	return 0;
}

/* The decisions that have come: while requests remain to be sent, at most
 * one per turn (briefly waited for), so sending keeps its pace. */
static int day_read_decisions(day_t *d)
{
	char errstr[512];
	rd_kafka_message_t *m;
	while ((m = rd_kafka_consumer_poll(d->dec, d->next < d->n ? 5 : 50))) {
		bd_decision_t dc;
		int rc = 0;
		if (!m->err && bd_decode_decision(d->codec, m->payload, m->len, &dc, errstr,
						  sizeof(errstr)) == 0)
			rc = day_decision(d, &dc);
		rd_kafka_message_destroy(m);
		if (rc)
			return rc;
		if (d->next < d->n)
			break;
	}
	return 0;
}

/* The outcome of the decision @p pd, now due: its truth counted, then
 * (when it converted, or with zero outcomes on) its outcome event, led by
 * the hostile producer's impossible value for the same decision. */
static int day_send_outcome(day_t *d, pending_t pd)
{
	const opts_t *o = d->o;
	char rid[256], uid[32], did[17];
	int u = d->users[pd.idx], t = d->reqs[pd.idx].treatment;
	bd_sim_outcome_t oc;
	uint64_t orng = bd_sim_rng_seed(o->world.seed, d->oseed + (uint64_t)pd.idx);
	bd_sim_outcome(d->w, u, t, &orng, &oc);
	/* the truth of every decision, whether its outcome is sent or not */
	d->exp_value += bd_sim_user_ev(d->w, u, t);
	d->exp_spend += bd_sim_user_ec(d->w, u, t);
	if (!oc.converted && !o->zero_outcomes)
		return 0;
	snprintf(rid, sizeof(rid), "%s-r%d", d->pre, pd.idx);
	snprintf(uid, sizeof(uid), "u%d", u);
	/* the id as anyone computes it (docs/messages.md) */
	bd_decision_id_format(bd_decision_hash(d->campaign, uid, rid), did);
	double due = pd.due < d->day_s ? pd.due : d->day_s;
	bd_outcome_event_t oe = {.decision_id = did, .campaign_id = d->campaign,
				 .user_id = uid,
				 .ts_ms = d->day0 + (int64_t)(due * d->scale * 1000),
				 .orders = oc.orders, .value = oc.value, .cost = oc.cost};
	if (o->hostile_value > 0 && bd_sim_rng_uniform(&d->hrng) < o->hostile_value) {
		/* first an impossible value for the same decision: if the
		 * daemon refuses it, the honest outcome joins as usual */
		bd_outcome_event_t bad = oe;
		bad.value = 1e300;
		if (bd_encode_outcome(d->codec, &bad, &d->b) ||
		    produce(d->prod, "budgetd.outcomes", uid, &d->b))
			return -1;
		d->h_value++;
	}
	if (bd_encode_outcome(d->codec, &oe, &d->b) ||
	    produce(d->prod, "budgetd.outcomes", uid, &d->b))
		return -1;
	d->reqs[pd.idx].outcome_sent = 1;
	d->spend += oc.cost;
	d->arm_spend[d->reqs[pd.idx].arm] += oc.cost;
	d->value += oc.value;
	d->orders += oc.orders;
	return 0;
}

/* The outcomes due by simulated second @p sim; at the end of the day (all
 * sent and decided), all of them. */
static int day_send_outcomes(day_t *d, double sim)
{
	int flush_all = d->next == d->n && d->decided == d->n;
	while (d->heap.n && (flush_all || d->heap.v[0].due <= sim))
		if (day_send_outcome(d, heap_pop(&d->heap)))
			return -1;
	return 0;
}

/* The pace trace: 200 points through the day, the last ones at its end. */
static void day_trace(day_t *d, double sim)
{
	while (d->trace && d->trace_next <= 200 &&
	       (sim >= d->day_s * d->trace_next / 200.0 || (d->next == d->n && d->decided == d->n))) {
		fprintf(d->trace, "%.4f %.5f %.4f %.4f %.4f %.4f %.1f %d %.4f %.4f\n",
			d->trace_next / 200.0, (double)d->next / d->n, d->dec_cost, d->spend,
			d->budget, d->plan_spent, d->plan_rem, d->n - d->next, d->ref_e, d->ref_r);
		d->trace_next++;
	}
}

/* The loop: requests paced through --duration wall seconds, decisions
 * answered by outcomes when due, until every decision is in and every
 * outcome out, --drain seconds pass without the missing ones, or ^C. */
static int day_run(day_t *d)
{
	const opts_t *o = d->o;
	const int n = d->n;
	double t0 = now_s(), last_report = t0, end_wait = 0;
	while (!stop_flag) {
		double sim = (now_s() - t0) / o->duration * d->day_s;
		day_control(d, sim);
		day_drain_plans(d);
		if (day_send_requests(d, sim))
			return -1;
		rd_kafka_poll(d->prod, 0);
		if (day_read_decisions(d) || day_send_outcomes(d, sim))
			return -1;
		day_trace(d, sim);
		if (!o->quiet && now_s() - last_report >= 5) {
			last_report = now_s();
			fprintf(stderr, "budgetd-sim: %5.1f%% of the day: %d events, %d decisions, "
				"spend %.2f of %.2f\n", 100 * sim / d->day_s, d->next, d->decided,
				d->spend, d->budget);
		}
		if (d->next == n && d->decided == n && d->heap.n == 0)
			break;
		if (d->next == n && d->decided < n) {
			if (end_wait == 0)
				end_wait = now_s();
			else if (now_s() - end_wait > o->drain_s) {
				fprintf(stderr, "budgetd-sim: %d of %d decisions never came\n",
					n - d->decided, n);
				break;
			}
		}
	}
	return 0;
}

/* The references on the day's arrivals: uniform and the oracle at the
 * full budget, and, for the fair comparison, uniform and the oracle at
 * budgetd's expected spend and all-control. */
static int day_references(const day_t *d, day_refs_t *r)
{
	const bd_sim_world_t *w = d->w;
	if (bd_sim_uniform_value(w, d->users, d->n, &r->rnd_value, &r->rnd_spend) ||
	    bd_sim_oracle(w, d->users, d->n, d->budget, &r->orc_value, &r->orc_spend, NULL) ||
	    bd_sim_oracle(w, d->users, d->n, d->exp_spend, &r->orc2_value, &r->orc2_spend,
			  NULL) ||
	    bd_sim_control_value(w, d->users, d->n, &r->ctl_value) ||
	    bd_sim_uniform_value_at(w, d->users, d->n, d->exp_spend, &r->uni_value))
		return -1;
	r->inc = d->exp_value - r->ctl_value;
	r->uni_inc = r->uni_value - r->ctl_value;
	r->orc_inc = r->orc2_value - r->ctl_value;
	return 0;
}

/* Arm @p a's true expected value per request less arm @p b's (what the
 * experiment report estimates, given the users that came); NAN when either
 * arm had no request. */
static double arm_diff(const day_t *d, int a, int b)
{
	if (!(d->arm_n[a] > 0 && d->arm_n[b] > 0))
		return NAN;
	return d->arm_ev[a] / d->arm_n[a] - d->arm_ev[b] / d->arm_n[b];
}

static double arm_uplift(const day_t *d)
{
	return arm_diff(d, 0, 1);
}

/* The human summary, led by the fair comparison: what the incentives
 * bought over all-control, against uniform and the oracle at the same
 * (expected) spend. */
static void day_report(const day_t *d, const day_refs_t *r)
{
	const opts_t *o = d->o;
	double inc = r->inc, uni_inc = r->uni_inc, orc_inc = r->orc_inc;
	printf("\n  budgetd closed-loop day (%s, world %s)\n", d->campaign,
	       bd_sim_family_name(o->world.family));
	printf("  incremental value over all-control (no coupon for anyone), at budgetd's "
	       "spend %.2f:\n", d->exp_spend);
	printf("    budgetd        %+.2f\n", inc);
	printf("    uniform        %+.2f  (random coupons at the same spend): budgetd %.2fx "
	       "uniform's increment\n", uni_inc, inc / (uni_inc != 0 ? uni_inc : 1e-12));
	printf("    oracle         %+.2f  (true responses, same spend): budgetd %.1f%% of the "
	       "oracle's increment\n", orc_inc, 100 * inc / (orc_inc != 0 ? orc_inc : 1e-12));
	printf("  events in        %d feature events, %d outcome events\n", d->n, d->decided);
	printf("  decisions out    %d\n", d->decided);
	printf("  spend            %.2f of budget %.2f (%.1f%%), expected %.2f\n", d->spend,
	       d->budget, 100 * d->spend / (d->budget + 1e-12), d->exp_spend);
	printf("  spend-everything %.2f expected, %.2f realised on the same draws\n",
	       d->max_spend, d->max_realised);
	printf("  value (GMV)      %.2f true expected, %.2f realised, %.0f orders; all-control "
	       "%.2f\n", d->exp_value, d->value, d->orders, r->ctl_value);
	printf("  total value      budgetd %.4f of the oracle's at the same spend, %.4f of "
	       "uniform's (mostly GMV bought anyway)\n", d->exp_value / (r->orc2_value + 1e-12),
	       d->exp_value / (r->uni_value + 1e-12));
	printf("  other references uniform over all treatments %.2f value for %.2f spend "
	       "(%.1f%% of budget); oracle at the full budget %.2f\n", r->rnd_value,
	       r->rnd_spend, 100 * r->rnd_spend / (d->budget + 1e-12), r->orc_value);
	printf("  outputs          decisions on budgetd.decisions, plans on budgetd.plans "
	       "(broker %s)\n", o->bootstrap);
	if (d->arm_n[1] > 0)
		printf("  holdout          %.0f requests held out, %.0f treated: true value per "
		       "request %.4f against %.4f, uplift %+.4f (the treated's own effect %+.4f)\n",
		       d->arm_n[1], d->arm_n[0], d->arm_ev[0] / d->arm_n[0],
		       d->arm_ev[1] / d->arm_n[1], arm_uplift(d),
		       d->effect_treated / (d->arm_n[0] + 1e-12));
	if (d->arm_n[2] > 0)
		printf("  uniform arm      %.0f requests: true value per request %.4f (the plan's "
		       "%.4f: %+.4f); spend %.2f (plan %.2f), true expected cost per request "
		       "%.4f (plan %.4f)\n", d->arm_n[2], d->arm_ev[2] / d->arm_n[2],
		       d->arm_ev[0] / (d->arm_n[0] + 1e-12), arm_diff(d, 0, 2), d->arm_spend[2],
		       d->arm_spend[0], d->arm_ec[2] / d->arm_n[2],
		       d->arm_ec[0] / (d->arm_n[0] + 1e-12));
	if (d->conflicts)
		printf("  CONFLICTS        %d decisions re-published with another treatment\n",
		       d->conflicts);
	if (d->h_future + d->h_utf8 + d->h_value)
		printf("  hostile          %d requests a day ahead, %d with a non-UTF-8 id (%d of "
		       "them decided), %d outcomes valued 1e300 (not in the figures above)\n",
		       d->h_future, d->h_utf8, d->h_decided, d->h_value);
}

/* The demo: line, one key=value per figure (tests and bench/ parse it);
 * sorts the budget command -> plan latencies for their median. */
static void day_demo_line(day_t *d, const day_refs_t *r)
{
	double *lat = d->lat_ms;
	int nl = d->n_lat;
	for (int i = 1; i < nl; i++)
		for (int j = i; j > 0 && lat[j] < lat[j - 1]; j--) {
			double t = lat[j];
			lat[j] = lat[j - 1];
			lat[j - 1] = t;
		}
	printf("demo: events=%d decisions=%d spend=%.2f budget=%.2f value=%.2f "
	       "random_value=%.2f oracle_value=%.2f expected_spend=%.2f "
	       "oracle_same_spend=%.2f uniform_same_spend=%.2f control_value=%.2f "
	       "budget_changes=%d budget_change_ms_p50=%.1f budget_change_ms_max=%.1f "
	       "everything_expected=%.2f everything_realised=%.2f "
	       "hostile_future=%d hostile_utf8=%d hostile_decided=%d hostile_value=%d "
	       "increment=%.2f uniform_increment=%.2f oracle_increment=%.2f "
	       "holdout_requests=%.0f treated_requests=%.0f true_arm_uplift=%.6f "
	       "true_effect_treated=%.6f uniform_requests=%.0f true_uniform_uplift=%.6f "
	       "true_plan_over_uniform=%.6f plan_spend=%.2f uniform_spend=%.2f "
	       "plan_expected_spend=%.2f uniform_expected_spend=%.2f\n",
	       d->n, d->decided, d->spend, d->budget, d->exp_value, r->rnd_value, r->orc_value,
	       d->exp_spend, r->orc2_value, r->uni_value, r->ctl_value, nl,
	       nl ? lat[nl / 2] : 0, nl ? lat[nl - 1] : 0, d->max_spend, d->max_realised,
	       d->h_future, d->h_utf8, d->h_decided, d->h_value, r->inc, r->uni_inc, r->orc_inc,
	       d->arm_n[1], d->arm_n[0], arm_uplift(d), d->effect_treated / (d->arm_n[0] + 1e-12),
	       d->arm_n[2], arm_diff(d, 2, 1), arm_diff(d, 0, 2), d->arm_spend[0], d->arm_spend[2],
	       d->arm_ec[0], d->arm_ec[2]);
}

static void day_free(day_t *d)
{
	if (d->dec) {
		rd_kafka_consumer_close(d->dec);
		rd_kafka_destroy(d->dec);
	}
	if (d->plans) {
		rd_kafka_consumer_close(d->plans);
		rd_kafka_destroy(d->plans);
	}
	if (d->prod)
		rd_kafka_destroy(d->prod);
	if (d->trace)
		fclose(d->trace);
	bd_codec_free(d->codec);
	bd_buf_free(&d->b);
	free(d->heap.v);
	free(d->times);
	free(d->users);
	free(d->reqs);
	free(d->h_seen);
	free(d->tmax);
	free(d->ref_ec);
	free(d->ref_rc);
	bd_sim_world_free(d->w);
}

/* One closed-loop day against the running daemon; 0 when every request
 * was decided and no decision changed. */
static int run_loop(const opts_t *o)
{
	day_t d = {0};
	day_refs_t r = {0};
	int rc = 1;
	if (day_setup(&d, o) || day_reference(&d) || day_connect(&d) || day_run(&d))
		goto out;
	rd_kafka_flush(d.prod, 30000);
	if (d.trace)
		fclose(d.trace);
	d.trace = NULL;
	if (day_references(&d, &r))
		goto out;
	day_report(&d, &r);
	day_demo_line(&d, &r);
	rc = d.decided == d.n && d.conflicts == 0 ? 0 : 1;
out:
	day_free(&d);
	return rc;
}

/* The codec and the clients of the log's replay, then the campaign
 * created (or updated) today, as the day's run (day 0) does: in event mode
 * its creation time is its clock until its first request, and a request a
 * day past it would be refused as future. */
static int history_connect(day_t *d)
{
	const opts_t *o = d->o;
	if (day_codec(d) || !(d->prod = client(RD_KAFKA_PRODUCER, o->bootstrap)) ||
	    !(d->plans = client(RD_KAFKA_CONSUMER, o->bootstrap)) ||
	    assign_at_end(d->plans, "budgetd.plans"))
		return -1;
	d->day0 = (wall_ms() / 86400000 + o->day) * 86400000;
	d->budget = o->budget > 0 ? o->budget : o->budget_frac * d->max_spend;
	int64_t today0 = wall_ms() / 86400000 * 86400000;
	if (send_control(d->prod, d->codec, o, d->w, o->campaign, BD_ACTION_UPSERT_CAMPAIGN,
			 d->budget, d->day0, today0))
		return -1;
	rd_kafka_flush(d->prod, 10000);
	return 0;
}

/* The logging policy's treatment for user @p u, drawn from @p prng:
 * uniform (rct), or the biased policy with --explore; @p probs gets the
 * probabilities it was drawn with. */
static int history_treatment(const day_t *d, int u, uint64_t *prng, double *probs)
{
	const int nt = bd_sim_n_treatments(d->w);
	int t = nt - 1;
	if (d->o->policy == BD_SIM_POLICY_RCT) {
		for (int q = 0; q < nt; q++)
			probs[q] = 1.0 / nt;
	} else {
		bd_sim_logging_probs(d->w, u, d->o->explore, probs);
	}
	double r = bd_sim_rng_uniform(prng), acc = 0;
	for (int q = 0; q < nt; q++)
		if (r < (acc += probs[q])) {
			t = q;
			break;
		}
	return t;
}

/* The day's log: each arrival decided by the logging policy and answered
 * by its outcome, sent as a historical outcome event (no decision id;
 * features, treatment, propensity).  @p sent and @p conv count them. */
static int history_send(day_t *d, int *sent, int *conv)
{
	const opts_t *o = d->o;
	uint64_t prng = bd_sim_rng_seed(o->world.seed, 0x4157ULL + (uint64_t)o->day);
	double probs[BD_SIM_MAX_T];
	char uid[32];
	for (int i = 0; i < d->n && !stop_flag; i++) {
		int u = d->users[i], t = history_treatment(d, u, &prng, probs);
		bd_sim_outcome_t oc;
		uint64_t orng = bd_sim_rng_seed(o->world.seed, d->oseed + (uint64_t)i);
		bd_sim_outcome(d->w, u, t, &orng, &oc);
		snprintf(uid, sizeof(uid), "u%d", u);
		bd_outcome_event_t oe = {
			.decision_id = "", .campaign_id = o->campaign, .user_id = uid,
			.ts_ms = d->day0 + (int64_t)(d->times[i] * d->scale * 1000),
			.orders = oc.orders, .value = oc.value, .cost = oc.cost,
			.has_features = true, .features = bd_sim_user_features(d->w, u),
			.dim = o->world.dim, .has_treatment = true, .treatment = t,
			.has_propensity = true, .propensity = probs[t],
		};
		if (bd_encode_outcome(d->codec, &oe, &d->b) ||
		    produce(d->prod, "budgetd.outcomes", uid, &d->b))
			return -1;
		(*sent)++;
		*conv += oc.converted;
		rd_kafka_poll(d->prod, 0);
	}
	if (rd_kafka_flush(d->prod, 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
		fprintf(stderr, "budgetd-sim: the log was not all delivered\n");
		return -1;
	}
	return 0;
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
	day_t d = {0};
	int rc = 1, sent = 0, conv = 0;
	int64_t before = -1;

	if (day_arrivals(&d, o, o->samples) || history_connect(&d))
		goto out;
	before = wait_for_model(d.plans, d.codec, o->campaign, INT64_MIN, 60);
	if (before < 0) {
		fprintf(stderr, "budgetd-sim: no plan for %s within 60 s: is budgetd running?\n",
			o->campaign);
		goto out;
	}
	if (history_send(&d, &sent, &conv))
		goto out;
	if (!o->quiet)
		fprintf(stderr, "budgetd-sim: campaign %s: %d logged decisions of day %d sent as "
			"historical samples (%s policy, %d converted)\n", o->campaign, sent, o->day,
			o->policy == BD_SIM_POLICY_RCT ? "uniform" : "biased", conv);
	rc = 0;
	if (o->wait_model > 0) {
		int64_t v = wait_for_model(d.plans, d.codec, o->campaign, before, o->wait_model);
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
	day_free(&d);
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
		"  --holdout H         the campaign's holdout: a share H of its users gets no\n"
		"                      incentive (budgetctl show experiment)\n"
		"  --uniform-arm S     the campaign's uniform arm: a share S of its users gets\n"
		"                      uniform random coupons at its share of the budget\n"
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

static const struct option sim_options[] = {
	{"bootstrap", required_argument, NULL, 'b'},
	{"events", required_argument, NULL, 'n'},
	{"duration", required_argument, NULL, 'd'},
	{"budget", required_argument, NULL, 'B'},
	{"budget-frac", required_argument, NULL, 'f'},
	{"midday-factor", required_argument, NULL, 'm'},
	{"campaign", required_argument, NULL, 'c'},
	{"request-prefix", required_argument, NULL, 'r'},
	{"explore", required_argument, NULL, 'e'},
	{"holdout", required_argument, NULL, 'H'},
	{"uniform-arm", required_argument, NULL, 'A'},
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

/* The options after the command into @p o: 0, 1 after --help, or -1 (said
 * why, or printed the usage). */
static int opts_parse(int argc, char **argv, opts_t *o)
{
	int c, li = 0;
	optind = 2;
	while ((c = getopt_long(argc, argv, "p:qh", sim_options, &li)) != -1) {
		char *end = NULL;
		switch (c) {
		case 'b': o->bootstrap = optarg; break;
		case 'n': o->events = (int)strtol(optarg, &end, 10); break;
		case 'd': o->duration = strtod(optarg, &end); break;
		case 'B': o->budget = strtod(optarg, &end); break;
		case 'f': o->budget_frac = strtod(optarg, &end); break;
		case 'm': o->midday_factor = strtod(optarg, &end); break;
		case 'c': o->campaign = optarg; break;
		case 'r': o->prefix = optarg; break;
		case 'e': o->explore = strtod(optarg, &end); o->explore_set = 1; break;
		case 'H': o->holdout = strtod(optarg, &end); break;
		case 'A': o->uniform_arm = strtod(optarg, &end); break;
		case 'Z': o->zero_outcomes = 0; break;
		case 'W': o->wait_plan = 0; break;
		case 'D': o->day = (int)strtol(optarg, &end, 10); o->day_set = 1; break;
		case 'M': o->wait_model = strtod(optarg, &end); break;
		case 'T': o->trace = optarg; break;
		case 'G': o->drain_s = strtod(optarg, &end); break;
		case 'Q': o->probes = (int)strtol(optarg, &end, 10); break;
		case 'F': o->hostile_future = strtod(optarg, &end); break;
		case 'U': o->hostile_utf8 = strtod(optarg, &end); break;
		case 'V': o->hostile_value = strtod(optarg, &end); break;
		case 'o': o->out = optarg; break;
		case 's': o->samples = (int)strtol(optarg, &end, 10); break;
		case 'P':
			if (strcmp(optarg, "rct") && strcmp(optarg, "biased")) {
				fprintf(stderr, "budgetd-sim: --policy rct|biased, not '%s'\n", optarg);
				return -1;
			}
			o->policy = strcmp(optarg, "rct") ? BD_SIM_POLICY_BIASED : BD_SIM_POLICY_RCT;
			break;
		case 'p':
			if (o->n_kv == (int)(sizeof(o->kv) / sizeof(o->kv[0]))) {
				fprintf(stderr, "budgetd-sim: too many -p options\n");
				return -1;
			}
			o->kv[o->n_kv++] = optarg;
			break;
		case 'w': o->world_name = optarg; break;
		case 'q': o->quiet = 1; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
		if (end && *end) {
			fprintf(stderr, "budgetd-sim: --%s: '%s' is not a number\n",
				sim_options[li].name, optarg);
			return -1;
		}
	}
	return 0;
}

/* The options' ranges and the world's knobs; @p history: the history
 * command, whose day is in the past (yesterday unless --day).  0 or -1. */
static int opts_check(opts_t *o, int history)
{
	char errstr[256];
	if (history && !o->day_set)
		o->day = -1;
	if (o->events <= 0 || o->duration <= 0 || !(o->drain_s >= 0) ||
	    (history ? o->day >= 0 : o->day < 0) || o->day < -3650 || o->day > 3650 ||
	    !(o->wait_model >= 0) || o->probes < 0 || o->probes > 200 || o->budget < 0 ||
	    o->budget_frac < 0 || o->explore < 0 || o->explore > 1 ||
	    (o->holdout >= 0 && o->holdout > 0.5) || o->uniform_arm > 0.5 ||
	    o->samples <= 0 ||
	    !(o->hostile_future >= 0 && o->hostile_future <= 1) ||
	    !(o->hostile_utf8 >= 0 && o->hostile_utf8 <= 1) ||
	    !(o->hostile_value >= 0 && o->hostile_value <= 1)) {
		fprintf(stderr, "budgetd-sim: a numeric option is out of range\n");
		return -1;
	}
	if (bd_sim_params_from_args(&o->world, o->world_name, o->kv, o->n_kv, errstr,
				    sizeof(errstr)) ||
	    bd_sim_params_validate(&o->world, errstr, sizeof(errstr))) {
		fprintf(stderr, "budgetd-sim: %s\n", errstr);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	opts_t o = {.events = 20000, .duration = 60, .drain_s = 60, .budget_frac = 0.3,
		    .zero_outcomes = 1, .wait_plan = 1, .samples = 100000, .explore = 0.1,
		    .holdout = -1, .uniform_arm = -1};

	if (argc < 2 || (strcmp(argv[1], "run") && strcmp(argv[1], "offline") &&
			 strcmp(argv[1], "history"))) {
		usage(stderr);
		return 2;
	}
	int parsed = opts_parse(argc, argv, &o);
	if (parsed)
		return parsed > 0 ? 0 : 2;
	int history = strcmp(argv[1], "history") == 0;
	if (opts_check(&o, history))
		return 2;
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
