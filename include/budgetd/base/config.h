/**
 * @file config.h
 * @brief The settings table: parsing, defaults, validation, dump.
 *
 * One table (config.c) names every setting with its type, default, range
 * and doc; the file parser, `-X key=value`, validation messages and
 * `budgetd --show-config` all read it, so they cannot disagree.
 * Settings starting with `kafka.` are passed to librdkafka unchanged
 * (minus the prefix) and checked by librdkafka itself at start-up.
 *
 * Reload (SIGHUP): the daemon builds a new configuration from the same
 * sources (bd_config_build) and hands it to bd_config_reload, which copies
 * the settings the table marks as live into the running configuration and
 * reports the others as taking effect at restart.  Each live setting's
 * table entry also says what applying it needs beyond the copy
 * (bd_config_apply_t), which the daemon does: no setting is recognised by
 * its name.
 */
#ifndef BUDGETD_CONFIG_H
#define BUDGETD_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "budgetd/base/common.h"
#include "budgetd/base/kinds.h"

#define BD_CONFIG_MAX_KAFKA 64

typedef struct bd_config_s {
	char *bootstrap_servers; /**< "" = start the embedded broker */
	int broker_count;
	int topic_partitions;
	char *group_id;
	char *topic[BD_MSG__COUNT]; /**< indexed by bd_msg_kind_t */
	char *state_dir;
	char *checkpoint_dir; /**< "" = no periodic checkpoints */
	int checkpoint_interval_s, checkpoint_keep;
	int workers;
	int features_dim;
	char *features_names; /**< comma-separated, for descriptions only */
	int clusters;
	double exploration;
	double exploration_need, exploration_min; /**< the slice sized to the cells' need */
	double explore_short; /**< exploration.short: the whole slice while no plan spends */
	char *output_format;
	int schema_id[BD_MSG__COUNT];
	char *schema_registry_url, *schema_registry_user_info;
	char *schema_registry_ca, *schema_registry_cert, *schema_registry_key;
	int schema_registry_auto_register, schema_registry_timeout_ms;
	int changelog_enabled; /**< produce worker batches to topic.changelog */
	int changelog_max_bytes; /**< split a partition's record past this */
	int flush_interval_ms;
	int batch_max;
	int control_ids_max;
	int decision_retention_s;
	int decision_expiry_interval_s;
	int input_max_bytes;
	char *clock_mode; /**< wall|event (clock.h) */
	int clock_max_ahead_s, clock_max_jump_s, clock_max_behind_s;
	int input_max_skew_ms;
	double outcome_max_value, outcome_max_cost_factor, outcome_winsor_value_factor;
	int outcome_max_orders;
	int log_counters_s;
	int samples_max;
	int solve_interval_ms;
	char *solve_mode;
	double solve_overspend_prob, solve_cost_calibrate, solve_shrinkage, solve_order_value_prior, pace_band, pace_lead, solve_halflife_h,
		guard_tolerance, guard_cost_sigmas;
	double solve_gate_z, solve_land_cold_h, pace_lead_cold, pace_lead_log;
	int solve_land, solve_shrink_uplift, solve_concave;
	int solve_scenarios, solve_maturity_s, pace_check_ms, health_window_ms;
	int health_skip_window_s;
	char *admin_listen;
	int admin_refresh_ms;
	int train_interval_s, train_min_samples, train_max_samples, train_epochs;
	int train_student_hidden, train_hidden, train_rep_dim;
	double train_promote_z;
	double train_min_agreement, train_w_conv, train_w_value, train_w_cost, train_huber;
	double train_feature_clip, train_min_cluster_share;
	int train_min_cluster_users;
	int train_on_history, train_history_quiet_ms;
	char *log_level;
	char *log_format;
	int kafka_n;
	char *kafka_key[BD_CONFIG_MAX_KAFKA];
	char *kafka_val[BD_CONFIG_MAX_KAFKA];
} bd_config_t;

/** Fills @p cfg with the defaults of the table.  Free with bd_config_free. */
int bd_config_init(bd_config_t *cfg) BD_WUR;
void bd_config_free(bd_config_t *cfg);

/**
 * Sets one setting.  @returns 0, or BD_ECONFIG with "what and why" in errstr
 * (the caller prefixes where: file and line, or the -X argument).
 */
int bd_config_set(bd_config_t *cfg, const char *key, const char *value,
		  char *errstr, size_t errstr_size) BD_WUR;

/** Reads a `key = value` file (# comments).  errstr names file:line. */
int bd_config_load_file(bd_config_t *cfg, const char *path, char *errstr,
			size_t errstr_size) BD_WUR;

/** Cross-setting checks after everything is set. */
int bd_config_validate(const bd_config_t *cfg, char *errstr,
		       size_t errstr_size) BD_WUR;

/** Writes every setting as `key = value  # doc` (the config reference). */
void bd_config_dump(const bd_config_t *cfg, FILE *f, bool with_docs);

/**
 * The directory periodic checkpoints go to: checkpoint.dir, a relative one
 * taken from the directory that holds state.dir ("" when checkpoints are off).
 */
void bd_config_checkpoint_dir(const bd_config_t *cfg, char *buf, size_t size);

/** Where a configuration comes from: the -c file (or NULL), then the -X
 *  overrides on top, each "key=value" (kept as given, for reloads). */
typedef struct bd_config_source_s {
	const char *file;
	char *const *sets;
	int nsets;
} bd_config_source_t;

/**
 * Defaults, then @p src->file, then @p src->sets, then bd_config_validate.
 * @returns 0, or an error with errstr naming where ("FILE:LINE: ...",
 * "-X key=value: ...", "FILE: ..." for a cross-setting check); on error
 * @p cfg holds nothing to free.
 */
int bd_config_build(bd_config_t *cfg, const bd_config_source_t *src, char *errstr,
		    size_t errstr_size) BD_WUR;

/**
 * What applying a changed live setting needs beyond copying it: the apply
 * hook of its table entry (as the apply functions of Redis's config
 * table).  Flags: a reload does the union of its changed settings' once.
 */
typedef enum bd_config_apply_e {
	BD_CONFIG_APPLY_NONE = 0,	    /**< read where it is used: the next
					       solve, pace check, training run,
					       command */
	BD_CONFIG_APPLY_TIMERS = 1 << 0,    /**< an interval of the main loop's
					       timers: they start again */
	BD_CONFIG_APPLY_HEALTH = 1 << 1,    /**< a window of the health state:
					       set again */
	BD_CONFIG_APPLY_LOG_LEVEL = 1 << 2, /**< the process's log level and
					       format: set again */
} bd_config_apply_t;

typedef enum bd_config_change_e {
	BD_CONFIG_APPLIED,     /**< copied into the running configuration */
	BD_CONFIG_AT_RESTART,  /**< restart-only: the running value stays */
	BD_CONFIG_NOT_APPLIED, /**< live, but out of memory copying it */
} bd_config_change_t;

/** Told about each changed setting: its name, old and new values as the
 *  dump prints them ("kafka.*" with empty values: secrets stay hidden), and
 *  for an applied one what applying it needs (else BD_CONFIG_APPLY_NONE). */
typedef void (*bd_config_change_cb_t)(void *opaque, const char *name, const char *was,
				      const char *now, bd_config_change_t what,
				      bd_config_apply_t apply);

/**
 * Copies the live settings of @p next that differ into @p live and calls
 * @p cb for every setting that differs, applied or not.  Only settings the
 * table marks live are written, so threads that read restart-only
 * settings of @p live concurrently are not disturbed.
 * @returns how many settings were applied.
 * @locality the thread that owns @p live's live settings (the main loop).
 */
int bd_config_reload(bd_config_t *live, const bd_config_t *next,
		     bd_config_change_cb_t cb, void *opaque);

/** Whether a SIGHUP applies @p key (false for unknown keys and kafka.*). */
bool bd_config_reloadable(const char *key);

/** Wire format of outputs, from cfg->output_format. */
bd_wire_format_t bd_config_output_format(const bd_config_t *cfg);

/** Called once per setting with its current value as text (librdkafka
 *  secrets masked), its default and its doc. */
typedef void (*bd_config_each_cb)(const char *key, const char *value, const char *def,
				  const char *doc, void *opaque);
/** Every setting of the table, then the kafka.* pass-through ones. */
void bd_config_each(const bd_config_t *cfg, bd_config_each_cb cb, void *opaque);

#endif
