#include "budgetd/policy/campaign.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/utf8.h"

#define CAMPAIGN_RECORD_VERSION 4

/* A record of version 1 holds bd_campaign_t as it was before the outcome
 * bounds: today's layout up to them (the bounds were appended). */
#define CAMPAIGN_V1_SIZE offsetof(bd_campaign_t, max_value)
_Static_assert(CAMPAIGN_V1_SIZE == 1336 || sizeof(void *) != 8,
	       "fields before the bounds changed: version 1 records no longer match");
/* Version 2: the layout up to the holdout (appended). */
#define CAMPAIGN_V2_SIZE offsetof(bd_campaign_t, holdout)
_Static_assert(CAMPAIGN_V2_SIZE == 1360 || sizeof(void *) != 8,
	       "fields before the holdout changed: version 2 records no longer match");
/* Version 3: the layout up to the uniform arm (appended). */
#define CAMPAIGN_V3_SIZE offsetof(bd_campaign_t, uniform_arm)
_Static_assert(CAMPAIGN_V3_SIZE == 1368 || sizeof(void *) != 8,
	       "fields before the uniform arm changed: version 3 records no longer match");

void bd_campaigns_free(bd_campaigns_t *cs)
{
	free(cs->v);
	cs->v = NULL;
	cs->n = cs->cap = 0;
}

static int cmp_id(const void *key, const void *elem)
{
	return strcmp(key, ((const bd_campaign_t *)elem)->id);
}

static int find_pos(const bd_campaigns_t *cs, const char *id, bool *found)
{
	int f, i = bd_sorted_pos(cs->v, cs->n, sizeof(*cs->v), id, cmp_id, &f);
	*found = f;
	return i;
}

bd_campaign_t *bd_campaigns_find(const bd_campaigns_t *cs, const char *id)
{
	bool found;
	int i = find_pos(cs, id, &found);
	return found ? &cs->v[i] : NULL;
}

static int insert(bd_campaigns_t *cs, const char *id, bd_campaign_t **out)
{
	bool found;
	int i = find_pos(cs, id, &found);
	if (cs->n == cs->cap) {
		int cap = cs->cap ? cs->cap * 2 : 8;
		bd_campaign_t *v = realloc(cs->v, (size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		cs->v = v;
		cs->cap = cap;
	}
	memmove(&cs->v[i + 1], &cs->v[i], (size_t)(cs->n - i) * sizeof(*cs->v));
	memset(&cs->v[i], 0, sizeof(*cs->v));
	snprintf(cs->v[i].id, sizeof(cs->v[i].id), "%s", id);
	cs->v[i].max_value = cs->v[i].max_cost = cs->v[i].winsor_value = NAN;
	cs->n++;
	*out = &cs->v[i];
	return 0;
}

/* The fields an UPSERT_CAMPAIGN command carries, onto @p c. */
static void upsert_fields(bd_campaign_t *c, const bd_control_command_t *cmd)
{
	if (cmd->has_treatments) {
		c->n_treatments = cmd->n_treatments;
		for (int j = 0; j < cmd->n_treatments; j++) {
			const bd_treatment_t *t = &cmd->treatments[j];
			c->nominal_cost[t->id] = t->nominal_cost;
			/* a long name is cut on a character boundary */
			bd_utf8_copy(c->treatment_name[t->id],
				     sizeof(c->treatment_name[t->id]), t->name);
		}
	}
	if (cmd->has_budget) {
		c->daily_budget = cmd->daily_budget;
		c->budget_changes++;
	}
	if (cmd->has_exploration)
		c->exploration = cmd->exploration;
	if (cmd->has_tz)
		c->tz_offset_s = cmd->timezone_offset_s;
	if (cmd->has_max_value)
		c->max_value = cmd->max_value;
	if (cmd->has_max_cost)
		c->max_cost = cmd->max_cost;
	if (cmd->has_winsor_value)
		c->winsor_value = cmd->winsor_value;
	if (cmd->has_holdout)
		c->holdout = cmd->holdout;
	if (cmd->has_uniform_arm)
		c->uniform_arm = cmd->uniform_arm;
	c->had_uniform_arm |= c->uniform_arm > 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The arms an UPSERT_CAMPAIGN leaves campaign @p c (NULL: new) with: the
 * plan keeps 1 - BD_ARMS_MAX of the users, and an arm's id must fit. */
static int check_arms(const bd_campaign_t *c, const bd_control_command_t *cmd, char *errstr,
		      size_t errstr_size)
{
	double h = cmd->has_holdout ? cmd->holdout : c ? c->holdout : 0;
	double s = cmd->has_uniform_arm ? cmd->uniform_arm : c ? c->uniform_arm : 0;
	if (h + s > BD_ARMS_MAX) {
		snprintf(errstr, errstr_size,
			 "holdout %g and uniform_arm %g leave the plan %g of the users; it keeps "
			 "at least %g", h, s, 1 - h - s, 1 - BD_ARMS_MAX);
		return BD_EINVAL;
	}
	if (s > 0 && strlen(cmd->campaign_id) + strlen(BD_ARM_UNIFORM_SUFFIX) >= BD_ID_MAX) {
		snprintf(errstr, errstr_size,
			 "a campaign with a uniform arm has an id of at most %d bytes",
			 (int)(BD_ID_MAX - 1 - strlen(BD_ARM_UNIFORM_SUFFIX)));
		return BD_EINVAL;
	}
	return 0;
}

/* UPSERT_CAMPAIGN: creates the campaign *c when it is new (it must then have
 * treatments), then sets the fields the command carries.  @returns 0 or
 * negative with @p errstr. */
static int upsert(bd_campaigns_t *cs, const bd_control_command_t *cmd,
		  double default_exploration, bd_campaign_t **c, char *errstr,
		  size_t errstr_size)
{
	int err;
	if ((err = check_arms(*c, cmd, errstr, errstr_size)))
		return err;
	if (!*c && !cmd->has_treatments) {
		snprintf(errstr, errstr_size,
			 "UPSERT_CAMPAIGN creating '%s' has no treatments",
			 cmd->campaign_id);
		return BD_EINVAL;
	}
	if (!*c) {
		if ((err = insert(cs, cmd->campaign_id, c)))
			return err;
		(*c)->exploration = default_exploration;
		(*c)->created_ms = cmd->ts_ms;
	}
	upsert_fields(*c, cmd);
	return 0;
}

int bd_campaigns_apply(bd_campaigns_t *cs, const bd_control_command_t *cmd,
		       double default_exploration, int *effect,
		       bd_campaign_t **changed, char *errstr, size_t errstr_size)
{
	bd_campaign_t *c = bd_campaigns_find(cs, cmd->campaign_id);
	int err;

	*effect = BD_EFFECT_NONE;
	*changed = NULL;
	if (strlen(cmd->campaign_id) >= BD_ID_MAX) {
		snprintf(errstr, errstr_size, "campaign_id is longer than %d bytes",
			 BD_ID_MAX - 1);
		return BD_EINVAL;
	}
	if (ends_with(cmd->campaign_id, BD_ARM_UNIFORM_SUFFIX) || (c && c->arm)) {
		snprintf(errstr, errstr_size,
			 "campaign ids ending in '%s' are the uniform arms of campaigns "
			 "(uniform_arm on the campaign sets one)", BD_ARM_UNIFORM_SUFFIX);
		return BD_EINVAL;
	}
	if (!c && cmd->action != BD_ACTION_UPSERT_CAMPAIGN) {
		snprintf(errstr, errstr_size, "%s for unknown campaign '%s'",
			 bd_action_name(cmd->action), cmd->campaign_id);
		return BD_EUNKNOWN;
	}
	switch (cmd->action) {
	case BD_ACTION_UPSERT_CAMPAIGN:
		if ((err = upsert(cs, cmd, default_exploration, &c, errstr, errstr_size)))
			return err;
		*effect = BD_EFFECT_RESOLVE;
		break;
	case BD_ACTION_SET_BUDGET:
		c->daily_budget = cmd->daily_budget;
		c->budget_changes++;
		*effect = BD_EFFECT_RESOLVE;
		break;
	case BD_ACTION_PAUSE:
		c->paused = true;
		*effect = BD_EFFECT_RESOLVE;
		break;
	case BD_ACTION_RESUME:
		c->paused = false;
		*effect = BD_EFFECT_RESOLVE;
		break;
	case BD_ACTION_RESOLVE:
		*effect = BD_EFFECT_RESOLVE;
		break;
	case BD_ACTION_RETRAIN:
		*effect = BD_EFFECT_RETRAIN;
		break;
	default:
		snprintf(errstr, errstr_size, "unknown action %d", cmd->action);
		return BD_EINVAL;
	}
	c->updated_ms = cmd->ts_ms;
	if (c->had_uniform_arm) {
		if ((err = bd_campaigns_sync_arms(cs, cmd->campaign_id)))
			return err;
		c = bd_campaigns_find(cs, cmd->campaign_id);
	}
	*changed = c;
	return 0;
}

int bd_campaigns_sync_arms(bd_campaigns_t *cs, const char *id)
{
	char arm_id[BD_ID_MAX + sizeof(BD_ARM_UNIFORM_SUFFIX)];
	bd_campaign_t *c = bd_campaigns_find(cs, id), *a;
	int err;
	if (!c || !c->had_uniform_arm || c->arm)
		return 0;
	snprintf(arm_id, sizeof(arm_id), "%s%s", c->id, BD_ARM_UNIFORM_SUFFIX);
	if (strlen(arm_id) >= BD_ID_MAX)
		return 0; /* refused on the command (check_arms) */
	if (!(a = bd_campaigns_find(cs, arm_id))) {
		if ((err = insert(cs, arm_id, &a)))
			return err;
		c = bd_campaigns_find(cs, id); /* moved by the insert */
	}
	/* the campaign's settings, its arm's identity and budget */
	*a = *c;
	snprintf(a->id, sizeof(a->id), "%s", arm_id);
	snprintf(a->arm_of, sizeof(a->arm_of), "%s", c->id);
	a->arm = BD_ARM_UNIFORM;
	a->holdout = a->uniform_arm = 0;
	a->had_uniform_arm = false;
	a->daily_budget = c->holdout < 1 ? c->daily_budget * c->uniform_arm / (1 - c->holdout) : 0;
	return 0;
}

int bd_campaigns_sync_all_arms(bd_campaigns_t *cs)
{
	char id[BD_ID_MAX];
	/* an insert moves the campaigns after it: look each one up again */
	for (int i = 0; i < cs->n; i++) {
		if (!cs->v[i].had_uniform_arm || cs->v[i].arm)
			continue;
		snprintf(id, sizeof(id), "%s", cs->v[i].id);
		int err = bd_campaigns_sync_arms(cs, id);
		if (err)
			return err;
		i = (int)(bd_campaigns_find(cs, id) - cs->v);
	}
	return 0;
}

bool bd_campaign_arm_parse(const char *id, char campaign[BD_ID_MAX])
{
	size_t n = strlen(id), m = strlen(BD_ARM_UNIFORM_SUFFIX);
	if (!ends_with(id, BD_ARM_UNIFORM_SUFFIX) || n - m >= BD_ID_MAX)
		return false;
	memcpy(campaign, id, n - m);
	campaign[n - m] = '\0';
	return true;
}

bool bd_campaign_is_or_arm(const char *decided_by, const char *campaign_id)
{
	size_t n = strlen(campaign_id);
	return strncmp(decided_by, campaign_id, n) == 0 &&
	       (decided_by[n] == '\0' || strcmp(decided_by + n, BD_ARM_UNIFORM_SUFFIX) == 0);
}

double bd_campaign_budget(const bd_campaign_t *c)
{
	if (c->arm || !(c->uniform_arm > 0) || !(c->holdout < 1))
		return c->daily_budget;
	return c->daily_budget * (1 - c->holdout - c->uniform_arm) / (1 - c->holdout);
}

int bd_campaign_pack(const bd_campaign_t *c, void *buf, size_t size)
{
	if (size < 1 + sizeof(*c))
		return -ENOSPC;
	((uint8_t *)buf)[0] = CAMPAIGN_RECORD_VERSION;
	memcpy((uint8_t *)buf + 1, c, sizeof(*c));
	return (int)(1 + sizeof(*c));
}

int bd_campaign_unpack(bd_campaign_t *c, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	if (len == 1 + CAMPAIGN_V1_SIZE && b[0] == 1) {
		memset(c, 0, sizeof(*c));
		memcpy(c, b + 1, CAMPAIGN_V1_SIZE);
		c->max_value = c->max_cost = c->winsor_value = NAN;
	} else if (len == 1 + CAMPAIGN_V2_SIZE && b[0] == 2) {
		memset(c, 0, sizeof(*c));
		memcpy(c, b + 1, CAMPAIGN_V2_SIZE);
	} else if (len == 1 + CAMPAIGN_V3_SIZE && b[0] == 3) {
		memset(c, 0, sizeof(*c));
		memcpy(c, b + 1, CAMPAIGN_V3_SIZE);
	} else if (len == 1 + sizeof(*c) && b[0] == CAMPAIGN_RECORD_VERSION) {
		memcpy(c, b + 1, sizeof(*c));
	} else {
		return BD_EDECODE;
	}
	c->id[BD_ID_MAX - 1] = '\0';
	/* arms are derived, never stored (bd_campaigns_sync_arms) */
	c->arm = 0;
	c->arm_of[0] = '\0';
	return 0;
}

int64_t bd_campaign_day(const bd_campaign_t *c, int64_t ts_ms, double *sec_of_day)
{
	int64_t local_ms = ts_ms + (int64_t)c->tz_offset_s * 1000;
	int64_t day = local_ms >= 0 ? local_ms / 86400000 : (local_ms - 86399999) / 86400000;
	if (sec_of_day)
		*sec_of_day = (double)(local_ms - day * 86400000) / 1000.0;
	return day;
}
