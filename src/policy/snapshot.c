#include "budgetd/policy/snapshot.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

bd_snapshot_t *bd_snapshot_new(int64_t version, const bd_campaigns_t *cs,
			       bd_plan_t *const *plans, bd_cluster_model_t *model)
{
	bd_snapshot_t *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	bd_refcnt_init(&s->refcnt);
	s->version = version;
	if (cs->n) {
		s->campaigns.v = malloc((size_t)cs->n * sizeof(*cs->v));
		s->plans = calloc((size_t)cs->n, sizeof(*s->plans));
		if (!s->campaigns.v || !s->plans) {
			free(s->campaigns.v);
			free(s->plans);
			free(s);
			return NULL;
		}
		memcpy(s->campaigns.v, cs->v, (size_t)cs->n * sizeof(*cs->v));
		s->campaigns.n = s->campaigns.cap = cs->n;
		for (int i = 0; i < cs->n; i++)
			if (plans && plans[i])
				s->plans[i] = bd_plan_ref(plans[i]);
	}
	s->model = bd_cluster_model_ref(model);
	return s;
}

int bd_snapshot_attach_clocks(bd_snapshot_t *s, bd_clocks_t *reg)
{
	if (!s->campaigns.n)
		return 0;
	if (!s->clocks && !(s->clocks = calloc((size_t)s->campaigns.n, sizeof(*s->clocks))))
		return -ENOMEM;
	for (int i = 0; i < s->campaigns.n; i++)
		if (!(s->clocks[i] = bd_clocks_get(reg, s->campaigns.v[i].id)))
			return -ENOMEM;
	return 0;
}

void bd_snapshot_set_carry(bd_snapshot_t *s, bd_cluster_model_t *carry)
{
	bd_cluster_model_unref(s->carry);
	s->carry = carry ? bd_cluster_model_ref(carry) : NULL;
}

bd_snapshot_t *bd_snapshot_ref(bd_snapshot_t *s)
{
	bd_refcnt_get(&s->refcnt);
	return s;
}

void bd_snapshot_unref(bd_snapshot_t *s)
{
	if (!s || !bd_refcnt_put(&s->refcnt))
		return;
	for (int i = 0; i < s->campaigns.n; i++)
		bd_plan_unref(s->plans[i]);
	free(s->plans);
	free(s->clocks); /* the clocks are the registry's */
	bd_campaigns_free(&s->campaigns);
	bd_cluster_model_unref(s->model);
	bd_cluster_model_unref(s->carry);
	free(s);
}

const bd_campaign_t *bd_snapshot_find(const bd_snapshot_t *s, const char *id,
				      const bd_plan_t **plan)
{
	const bd_campaign_t *c = bd_campaigns_find(&s->campaigns, id);
	if (plan)
		*plan = c ? s->plans[c - s->campaigns.v] : NULL;
	return c;
}

bd_clock_t *bd_snapshot_clock(const bd_snapshot_t *s, const bd_campaign_t *c)
{
	return s->clocks ? s->clocks[c - s->campaigns.v] : NULL;
}
