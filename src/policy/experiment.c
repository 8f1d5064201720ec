#include "budgetd/policy/experiment.h"

#include <math.h>
#include <string.h>

#include "budgetd/base/hash.h"

/* Seeds of the user draws: distinct from the decision hash (seed 0) and from
 * each other, so arm, group and every per-request draw are independent. */
enum { SEED_HOLDOUT = 0x686f6c64, SEED_BUCKET = 0x67727570 };

static uint64_t user_hash(const char *campaign_id, const char *user_id, uint64_t seed)
{
	char buf[2 * 1024 + 1];
	size_t a = strnlen(campaign_id, 1024), b = strnlen(user_id, 1024);
	memcpy(buf, campaign_id, a);
	buf[a] = '\0';
	memcpy(buf + a + 1, user_id, b);
	return bd_hash_bytes(buf, a + 1 + b, seed);
}

bool bd_experiment_holdout(const char *campaign_id, const char *user_id, double holdout)
{
	if (!(holdout > 0))
		return false;
	return bd_hash_unit(user_hash(campaign_id, user_id, SEED_HOLDOUT)) < holdout;
}

bool bd_experiment_uniform_arm(const char *campaign_id, const char *user_id, double share)
{
	if (!(share > 0))
		return false;
	return bd_hash_unit(user_hash(campaign_id, user_id, SEED_HOLDOUT)) >= 1 - share;
}

int bd_experiment_bucket(const char *campaign_id, const char *user_id)
{
	return (int)(user_hash(campaign_id, user_id, SEED_BUCKET) % BD_EXP_BUCKETS);
}

void bd_experiment_add(bd_experiment_t *e, int arm, int bucket, const double *x, int n)
{
	if (arm < 0 || arm >= BD_ARM__COUNT || bucket < 0 || bucket >= BD_EXP_BUCKETS)
		return;
	if (n > BD_EXP__COUNT)
		n = BD_EXP__COUNT;
	for (int i = 0; i < n; i++)
		e->x[arm][bucket][i] += x[i];
}

void bd_experiment_days_add(bd_experiment_days_t *e, int64_t day, int arm, int bucket,
			    const double *x, int n)
{
	bd_experiment_add(&e->total, arm, bucket, x, n);
	int64_t back = e->day0 - day;
	if (back >= 0 && back < BD_EXP_DAYS)
		bd_experiment_add(&e->day[back], arm, bucket, x, n);
}

/* The arm's mean of stat @p s per request and its variance clustered by
 * user group (experiment.h); the groups with requests in @p groups_out. */
static bd_exp_mean_t arm_mean(const bd_experiment_t *e, int arm, int s, int *groups_out)
{
	double n = 0, y = 0, ss = 0;
	int groups = 0;
	for (int b = 0; b < BD_EXP_BUCKETS; b++) {
		n += e->x[arm][b][BD_EXP_DECISIONS];
		y += e->x[arm][b][s];
		groups += e->x[arm][b][BD_EXP_DECISIONS] > 0;
	}
	*groups_out = groups;
	if (!(n > 0))
		return (bd_exp_mean_t){NAN, NAN};
	double m = y / n;
	for (int b = 0; b < BD_EXP_BUCKETS; b++) {
		double r = e->x[arm][b][s] - m * e->x[arm][b][BD_EXP_DECISIONS];
		ss += r * r;
	}
	/* with one group of users there is no spread to measure */
	double var = groups > 1 ? (double)groups / (groups - 1) * ss / (n * n) : NAN;
	return (bd_exp_mean_t){m, sqrt(var)};
}

static bd_exp_mean_t diff(bd_exp_mean_t a, bd_exp_mean_t b)
{
	return (bd_exp_mean_t){a.mean - b.mean, sqrt(a.se * a.se + b.se * b.se)};
}

static void verdict(bd_exp_result_t *r)
{
	const double d = r->uplift_value.mean, se = r->uplift_value.se;
	r->requests_needed = 0;
	if (!(r->requests[r->b] > 0)) {
		r->verdict = r->b == BD_ARM_HOLDOUT ? "no holdout" : "no uniform arm";
		return;
	}
	if (!isfinite(se)) {
		r->verdict = "not yet known";
		return;
	}
	if (r->lo > 0) {
		r->verdict = "better";
		return;
	}
	if (r->hi < 0) {
		r->verdict = "worse";
		return;
	}
	r->verdict = "not yet known";
	/* se falls as 1 / sqrt(requests): z se' = |d| at requests x (z se / d)^2 */
	if (fabs(d) > 0) {
		double k = r->z * se / fabs(d);
		r->requests_needed = ceil(r->requests[r->a] * k * k);
	}
}

/* Student's t quantile with @p df degrees of freedom at the normal
 * quantile @p z (Cornish-Fisher; within 0.1% of the exact one from 10
 * degrees of freedom, and 64 groups give 63). */
static double t_quantile(double z, int df)
{
	if (df < 1)
		return NAN;
	double z3 = z * z * z, z5 = z3 * z * z, n = df;
	return z + (z3 + z) / (4 * n) + (5 * z5 + 16 * z3 + 3 * z) / (96 * n * n);
}

void bd_experiment_compare(const bd_experiment_t *e, int a, int b, double z,
			   bd_exp_result_t *r)
{
	int groups[BD_ARM__COUNT] = {0};
	memset(r, 0, sizeof(*r));
	r->a = a;
	r->b = b;
	for (int k = 0; k < BD_ARM__COUNT; k++) {
		for (int g = 0; g < BD_EXP_BUCKETS; g++) {
			r->requests[k] += e->x[k][g][BD_EXP_DECISIONS];
			r->outcomes[k] += e->x[k][g][BD_EXP_OUTCOMES];
		}
		r->value[k] = arm_mean(e, k, BD_EXP_VALUE, &groups[k]);
		r->cost[k] = arm_mean(e, k, BD_EXP_COST, &groups[k]);
		r->orders[k] = arm_mean(e, k, BD_EXP_ORDERS, &groups[k]);
	}
	/* the arm with fewer groups of users bounds the degrees of freedom */
	r->z = t_quantile(z, (groups[a] < groups[b] ? groups[a] : groups[b]) - 1);
	r->uplift_value = diff(r->value[a], r->value[b]);
	r->uplift_orders = diff(r->orders[a], r->orders[b]);
	r->uplift_cost = diff(r->cost[a], r->cost[b]);
	r->lo = r->uplift_value.mean - r->z * r->uplift_value.se;
	r->hi = r->uplift_value.mean + r->z * r->uplift_value.se;
	const double nt = r->requests[a];
	r->increment = r->uplift_value.mean * nt;
	r->increment_lo = r->lo * nt;
	r->increment_hi = r->hi * nt;
	double spent = r->cost[a].mean * nt;
	r->roi = spent > 0 && b == BD_ARM_HOLDOUT ? r->increment / spent : NAN;
	verdict(r);
}

void bd_experiment_result(const bd_experiment_t *e, double z, bd_exp_result_t *r)
{
	bd_experiment_compare(e, BD_ARM_TREATED, BD_ARM_HOLDOUT, z, r);
}
