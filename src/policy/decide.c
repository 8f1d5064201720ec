#include "budgetd/policy/decide.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "budgetd/base/hash.h"
#include "budgetd/policy/experiment.h"

/* Purposes of the hash draws: distinct constants so draws are independent. */
enum { DRAW_EXPLORE = 1, DRAW_EXPLORE_ARM = 2, DRAW_POLICY_ARM = 3 };

uint64_t bd_decision_hash(const char *campaign_id, const char *user_id,
			  const char *request_id)
{
	/* docs/messages.md "Decision ids": campaign 0x00 user 0x00 request;
	 * decoded ids are at most 1024 bytes (longer ones are invalid), so
	 * the cut below never applies to an id the daemon decides for */
	const char *part[3] = {campaign_id, user_id, request_id};
	char buf[3 * 1024 + 2];
	size_t n = 0;
	for (int i = 0; i < 3; i++) {
		size_t l = strnlen(part[i], 1024);
		if (i)
			buf[n++] = '\0';
		memcpy(buf + n, part[i], l);
		n += l;
	}
	return bd_hash_bytes(buf, n, 0);
}

/* every decision formats one: a table, not snprintf's format parsing */
void bd_decision_id_format(uint64_t h, char out[17])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, h >>= 4)
		out[i] = hex[h & 15];
	out[16] = '\0';
}

int bd_decision_id_parse(const char *s, uint64_t *h)
{
	uint64_t x = 0;
	int i;
	for (i = 0; i < 16; i++) {
		char ch = s[i];
		int v;
		if (ch >= '0' && ch <= '9')
			v = ch - '0';
		else if (ch >= 'a' && ch <= 'f')
			v = ch - 'a' + 10;
		else
			return BD_EINVAL;
		x = (x << 4) | (uint64_t)v;
	}
	if (s[16] != '\0')
		return BD_EINVAL;
	*h = x;
	return 0;
}

static double draw(uint64_t hash, uint64_t purpose)
{
	return bd_hash_unit(bd_hash_mix(hash ^ (purpose * 0x9e3779b97f4a7c15ULL)));
}

void bd_decide(const bd_campaign_t *c, const bd_plan_t *plan,
	       const bd_cluster_model_t *m, const bd_feature_event_t *ev,
	       uint64_t hash, bd_decision_t *d)
{
	const int J = c->n_treatments;
	/* the plan may scale exploration down: it spends budget too */
	const double eps = plan && plan->explore >= 0 ? plan->explore : c->exploration;
	const double *row = NULL;
	int t;

	d->ts_ms = ev->ts_ms;
	d->cluster = bd_cluster_assign(m, ev->features);
	d->model_version = m->version;
	d->plan_version = 0;
	d->explored = false;
	if (c->paused) {
		d->treatment = 0;
		d->propensity = 1.0;
		d->reason = "paused";
		return;
	}
	if (bd_experiment_holdout(ev->campaign_id, ev->user_id, c->holdout)) {
		d->treatment = 0;
		d->propensity = 1.0;
		d->reason = BD_REASON_HOLDOUT;
		return;
	}
	if (plan && plan->model_version == m->version && plan->j == J &&
	    d->cluster < plan->k) {
		row = plan->prob + (size_t)d->cluster * J;
		d->plan_version = plan->version;
	}
	if (draw(hash, DRAW_EXPLORE) < eps) {
		t = (int)(draw(hash, DRAW_EXPLORE_ARM) * J);
		d->explored = true;
		d->reason = "explore";
	} else if (row) {
		double u = draw(hash, DRAW_POLICY_ARM), acc = 0;
		for (t = 0; t < J - 1; t++) {
			acc += row[t];
			if (u < acc)
				break;
		}
		/* never land on an arm of probability 0 through rounding */
		while (row[t] <= 0 && t > 0)
			t--;
		d->reason = "plan";
	} else {
		t = (int)(draw(hash, DRAW_POLICY_ARM) * J);
		d->reason = "uniform";
	}
	if (t >= J)
		t = J - 1;
	d->treatment = t;
	/* The propensity is the probability of this arm under the whole
	 * policy (exploration mixed with the plan), as IPW needs it. */
	d->propensity = eps / J + (1 - eps) * (row ? row[t] : 1.0 / J);
}

bool bd_decide_is_holdout(const char *reason)
{
	return reason && strcmp(reason, BD_REASON_HOLDOUT) == 0;
}

const char *bd_decide_arm_name(const char *decided_by, const char *reason, bool experiment)
{
	char campaign[BD_ID_MAX];
	if (!experiment)
		return "";
	if (bd_decide_is_holdout(reason))
		return "holdout";
	return bd_campaign_arm_parse(decided_by, campaign) ? "uniform" : "plan";
}

int bd_decide_guard(const bd_plan_t *plan, bd_decision_t *d)
{
	if (!plan || d->treatment == 0 || d->plan_version != plan->version ||
	    d->plan_version == 0)
		return 0;
	int r = bd_plan_guard_commit(plan, d->cluster, d->treatment);
	if (r) {
		d->treatment = 0;
		d->propensity = 1.0;
		d->explored = false;
		d->reason = "budget-guard";
	}
	return r;
}

/* ---- record packing ------------------------------------------------------ */

#define REC_VERSION 1

typedef struct packer_s {
	uint8_t *p, *end;
	bool ok;
} packer_t;

static void put(packer_t *w, const void *x, size_t n)
{
	if (!w->ok || (size_t)(w->end - w->p) < n) {
		w->ok = false;
		return;
	}
	memcpy(w->p, x, n);
	w->p += n;
}

static void put_str(packer_t *w, const char *s)
{
	uint16_t n = (uint16_t)strnlen(s ? s : "", 1024);
	put(w, &n, sizeof(n));
	put(w, s ? s : "", n);
}

int bd_decision_rec_pack(const bd_decision_rec_t *r, uint8_t *buf, size_t size)
{
	packer_t w = {buf, buf + size, true};
	uint8_t hdr[4] = {REC_VERSION,
			  (uint8_t)((r->explored ? 1 : 0) | (r->joined ? 2 : 0) |
				    (r->experiment ? 4 : 0)),
			  (uint8_t)r->treatment, 0};
	uint16_t dim = (uint16_t)r->dim;
	put(&w, hdr, sizeof(hdr));
	put(&w, &r->cluster, sizeof(r->cluster));
	put(&w, &r->propensity, sizeof(r->propensity));
	put(&w, &r->ts_ms, sizeof(r->ts_ms));
	put(&w, &r->plan_version, sizeof(r->plan_version));
	put(&w, &r->model_version, sizeof(r->model_version));
	put_str(&w, r->campaign_id);
	put_str(&w, r->request_id);
	put_str(&w, r->user_id);
	put_str(&w, r->reason);
	put(&w, &dim, sizeof(dim));
	put(&w, r->features, (size_t)r->dim * sizeof(float));
	return w.ok ? (int)(w.p - buf) : -ENOSPC;
}

typedef struct unpacker_s {
	const uint8_t *p, *end;
	bool ok;
} unpacker_t;

static void get(unpacker_t *r, void *x, size_t n)
{
	if (!r->ok || (size_t)(r->end - r->p) < n) {
		r->ok = false;
		return;
	}
	memcpy(x, r->p, n);
	r->p += n;
}

/* Strings are stored without a terminator, so the view copies them into
 * thread-local scratch (see the header). */
static const char *get_str(unpacker_t *r, char *scratch, size_t cap)
{
	uint16_t n = 0;
	get(r, &n, sizeof(n));
	if (!r->ok || (size_t)(r->end - r->p) < n || n >= cap) {
		r->ok = false;
		return "";
	}
	memcpy(scratch, r->p, n);
	scratch[n] = '\0';
	r->p += n;
	return scratch;
}

int bd_decision_rec_peek(const uint8_t *buf, size_t len, int64_t *ts_ms, const char **campaign,
			 size_t *campaign_len)
{
	/* the fixed fields' layout of bd_decision_rec_pack */
	enum { TS_AT = 4 + 4 + 8, CAMPAIGN_AT = TS_AT + 3 * 8 };
	uint16_t n;
	if (len < CAMPAIGN_AT + sizeof(n) || buf[0] != REC_VERSION)
		return BD_EDECODE;
	memcpy(ts_ms, buf + TS_AT, sizeof(*ts_ms));
	memcpy(&n, buf + CAMPAIGN_AT, sizeof(n));
	if (len < CAMPAIGN_AT + sizeof(n) + n)
		return BD_EDECODE;
	*campaign = (const char *)buf + CAMPAIGN_AT + sizeof(n);
	*campaign_len = n;
	return 0;
}

int bd_decision_rec_unpack(bd_decision_rec_t *rec, const uint8_t *buf,
			   size_t len)
{
	static _Thread_local char s[4][1025];
	static _Thread_local float f[512];
	unpacker_t r = {buf, buf + len, true};
	uint8_t hdr[4];
	uint16_t dim = 0;

	get(&r, hdr, sizeof(hdr));
	if (!r.ok || hdr[0] != REC_VERSION)
		return BD_EDECODE;
	rec->explored = hdr[1] & 1;
	rec->joined = (hdr[1] & 2) != 0;
	rec->experiment = (hdr[1] & 4) != 0;
	rec->treatment = hdr[2];
	get(&r, &rec->cluster, sizeof(rec->cluster));
	get(&r, &rec->propensity, sizeof(rec->propensity));
	get(&r, &rec->ts_ms, sizeof(rec->ts_ms));
	get(&r, &rec->plan_version, sizeof(rec->plan_version));
	get(&r, &rec->model_version, sizeof(rec->model_version));
	rec->campaign_id = get_str(&r, s[0], sizeof(s[0]));
	rec->request_id = get_str(&r, s[1], sizeof(s[1]));
	rec->user_id = get_str(&r, s[2], sizeof(s[2]));
	rec->reason = get_str(&r, s[3], sizeof(s[3]));
	get(&r, &dim, sizeof(dim));
	if (dim > 512)
		return BD_EDECODE;
	get(&r, f, (size_t)dim * sizeof(float));
	rec->dim = dim;
	rec->features = f;
	return r.ok && r.p == r.end ? 0 : BD_EDECODE;
}
