/* SIGHUP: the configuration built again from its sources, the settings
 * the table marks live copied into the running one, and what a change
 * needs done (timers, health windows, the log level: the apply hook of
 * each setting's table entry, bd_config_apply_t) done here. */
#include <stdio.h>
#include <string.h>

#include "budgetd/base/log.h"
#include "budgetd/daemon/notify.h"

#include "daemon_int.h"

typedef struct reload_s {
	int applied, at_restart;
	unsigned apply; /* the union of the applied settings' bd_config_apply_t */
} reload_t;

static void on_change(void *opaque, const char *name, const char *was, const char *now,
		      bd_config_change_t what, bd_config_apply_t apply)
{
	reload_t *r = opaque;
	if (what == BD_CONFIG_AT_RESTART) {
		r->at_restart++;
		if (strcmp(name, "kafka.*") == 0) /* values may be secrets */
			bd_warn("reload: a kafka.* setting changed: takes effect at restart");
		else
			bd_warn("reload: %s changed: takes effect at restart (running '%s', "
				"configured '%s')", name, was, now);
		return;
	}
	if (what == BD_CONFIG_NOT_APPLIED) {
		bd_error("reload: %s: out of memory; stays '%s'", name, was);
		return;
	}
	r->applied++;
	r->apply |= apply;
	bd_info("reload: %s = %s (was %s)", name, now, was);
}

/* Does what the applied settings' table entries say they need
 * (bd_config_apply_t), each once. */
static void apply_changes(bd_daemon_t *d, unsigned apply)
{
	const bd_config_t *cfg = d->cfg;
	if (apply & BD_CONFIG_APPLY_LOG_LEVEL) {
		bd_log_level = bd_log_level_parse(cfg->log_level);
		bd_log_format = bd_log_format_parse(cfg->log_format);
	}
	if (apply & BD_CONFIG_APPLY_HEALTH) {
		bd_health_set_window(d->health, cfg->health_window_ms);
		bd_health_set_src_window(d->health, BD_HEALTH_INPUT,
					 (int64_t)cfg->health_skip_window_s * 1000);
	}
	/* before start-up finishes, the timers start later with these values */
	if ((apply & BD_CONFIG_APPLY_TIMERS) && d->started && !d->stopping)
		bd_daemon_reload_start_timers(d);
}

/* Timers started with the configuration's intervals (again on reload). */
void bd_daemon_reload_start_timers(bd_daemon_t *d)
{
	bd_daemon_train_start_timer(d);
	bd_daemon_solve_start_timers(d);
	bd_daemon_admin_start_counters(d);
}

/* Builds the configuration again from the -c file and the -X overrides and
 * applies what can change live; a configuration that does not parse or
 * validate changes nothing.  The main loop owns every live setting, so no
 * worker sees one change under it.  @locality the main loop. */
void bd_daemon_reload_run(bd_daemon_t *d)
{
	bd_config_t next;
	char errstr[1024];
	reload_t r = {0};
	const char *file = d->src && d->src->file ? d->src->file : NULL;

	if (d->sd_ready)
		bd_notify_reloading();
	bd_info("SIGHUP: reloading the configuration (%s)",
		file ? file : "no -c file: -X settings only");
	if (!d->src || bd_config_build(&next, d->src, errstr, sizeof(errstr)) != 0) {
		bd_warn("reload failed: %s; the running configuration stays",
			d->src ? errstr : "no configuration source");
		if (d->sd_ready)
			bd_notify_status("reload failed: %s", d->src ? errstr : "no source");
		goto out;
	}
	bd_config_reload(d->cfg, &next, on_change, &r);
	bd_config_free(&next);
	apply_changes(d, r.apply);
	bd_info("reload done: %d settings applied, %d take effect at restart", r.applied,
		r.at_restart);
out:
	/* READY=1 ends the reload even when it failed: we run on as before */
	if (d->sd_ready) {
		bd_notify_ready();
		bd_daemon_systemd_status(d);
	}
}
