/* This instance in its group (docs/operations.md, One active instance per
 * group): who it is, whether it decides or stands by, what its restores
 * from the changelog did, and the input partitions its workers hold with
 * their lag, as JSON (/api/instance) and text (/text/instance, `budgetctl
 * show instance`).  Every figure is one the report already carries for
 * /metrics; this file only puts them side by side for an operator. */
#include <stdio.h>
#include <string.h>

#include "budgetd/daemon/report.h"

/* Partitions of @p topic the workers hold. */
static int held(const bd_report_t *r, const char *topic)
{
	int n = 0;
	for (int i = 0; i < r->n_lag; i++)
		n += strcmp(r->lag[i].topic, topic) == 0;
	return n;
}

void bd_report_json_restores(const bd_report_t *r, bd_sbuf_t *o)
{
	bd_sbuf_json_kv_num(o, "restores", (double)r->restore_runs, 1);
	bd_sbuf_json_kv_num(o, "restore_records", (double)r->restore_records, 1);
	bd_sbuf_json_kv_num(o, "restore_batches", (double)r->restore_batches, 1);
	bd_sbuf_json_kv_num(o, "restore_skipped", (double)r->restore_skipped, 1);
	bd_sbuf_json_kv_num(o, "restore_fenced", (double)r->restore_fenced, 1);
	bd_sbuf_json_kv_num(o, "restore_seconds", r->restore_seconds, 1);
}

void bd_report_api_instance(const bd_report_t *r, bd_sbuf_t *o)
{
	const bd_config_t *cfg = r->cfg;
	const char *id = r->instance_id ? r->instance_id : "?";
	bd_sbuf_cat(o, "{");
	bd_sbuf_json_kv_str(o, "id", id, 0);
	bd_sbuf_json_kv_str(o, "group", cfg->group_id, 1);
	bd_sbuf_json_kv_str(o, "role", r->active ? "deciding" : "standby", 1);
	bd_sbuf_printf(o, ",\"active\":%s,\"ready\":%s,\"inputs_paused\":%s",
		       r->active ? "true" : "false", r->ready ? "true" : "false",
		       r->inputs_paused ? "true" : "false");
	bd_sbuf_json_kv_num(o, "lock_changes", (double)r->lock_changes, 1);
	bd_sbuf_json_kv_str(o, "state_dir", cfg->state_dir, 1);
	bd_sbuf_printf(o, ",\"changelog\":{\"enabled\":%s",
		       cfg->changelog_enabled ? "true" : "false");
	bd_sbuf_json_kv_str(o, "topic", cfg->topic[BD_MSG_CHANGELOG], 1);
	bd_sbuf_json_kv_num(o, "epoch", (double)r->clog_epoch, 1);
	bd_report_json_restores(r, o);
	bd_sbuf_cat(o, "},\"partitions\":[");
	for (int i = 0; i < r->n_lag; i++) {
		bd_sbuf_cat(o, i ? ",{" : "{");
		bd_sbuf_json_kv_str(o, "topic", r->lag[i].topic, 0);
		bd_sbuf_json_kv_num(o, "partition", r->lag[i].partition, 1);
		bd_sbuf_json_kv_num(o, "lag", (double)r->lag[i].lag, 1);
		bd_sbuf_cat(o, "}");
	}
	bd_sbuf_cat(o, "]}\n");
}

void bd_report_text_instance(const bd_report_t *r, bd_sbuf_t *o)
{
	const bd_config_t *cfg = r->cfg;
	const char *feat = cfg->topic[BD_MSG_FEATURE], *out = cfg->topic[BD_MSG_OUTCOME];
	const char *id = r->instance_id ? r->instance_id : "?";
	bd_sbuf_printf(o, "instance:   %s\ngroup:      %s (lock: group %s.active, partition 0 of %s)\n",
		       id, cfg->group_id, cfg->group_id, cfg->topic[BD_MSG_CONTROL]);
	bd_sbuf_printf(o, "role:       %s\n",
		       r->active ? "deciding (holds the instance lock)"
				 : "standby (another instance holds the instance lock)");
	bd_sbuf_printf(o, "inputs:     %d partition(s) of %s, %d of %s held%s\n", held(r, feat), feat,
		       held(r, out), out, r->inputs_paused ? " (paused)" : "");
	bd_sbuf_printf(o, "lock:       %llu changes since start\nstate:      %s\n",
		       (unsigned long long)r->lock_changes, cfg->state_dir);
	if (!cfg->changelog_enabled)
		bd_sbuf_cat(o, "changelog:  off (changelog.enabled=0: a standby that takes over does "
			       "not restore the holder's state)\n");
	else
		bd_sbuf_printf(o,
			       "changelog:  %s, owner epoch %lld; %llu restores: %llu records read, "
			       "%llu batches applied, %llu records held already, %llu fenced; "
			       "the last took %.2f s\n",
			       cfg->topic[BD_MSG_CHANGELOG], (long long)r->clog_epoch,
			       (unsigned long long)r->restore_runs,
			       (unsigned long long)r->restore_records,
			       (unsigned long long)r->restore_batches,
			       (unsigned long long)r->restore_skipped,
			       (unsigned long long)r->restore_fenced, r->restore_seconds);
	if (r->n_lag)
		bd_sbuf_printf(o, "\n%-28s %9s %12s\n", "TOPIC", "PARTITION", "LAG");
	for (int i = 0; i < r->n_lag; i++)
		bd_sbuf_printf(o, "%-28s %9d %12lld\n", r->lag[i].topic, r->lag[i].partition,
			       (long long)r->lag[i].lag);
}
