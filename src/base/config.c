/*
 * The settings table.  Modelled on pgbouncer's CF_* table: adding a setting is
 * one line here plus its field in bd_config_t; parse, defaults, validation and
 * the dump follow.
 */
#include "budgetd/base/config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_STR, T_INT, T_DOUBLE, T_ENUM } setting_type_t;

/* What a SIGHUP does with a changed value: live settings are copied into
 * the running configuration, with their apply hook (bd_config_apply_t:
 * what the daemon must do besides); the others take effect at restart.
 * Live only for settings that the main loop alone reads (solving, pacing,
 * training parameters copied per run, timers, the health window, the log
 * level): the workers keep reading the live struct while it changes, so a
 * setting a worker, the broker or a librdkafka client reads stays
 * R_RESTART. */
typedef struct { bool live; bd_config_apply_t apply; } setting_reload_t;
#define R_RESTART {false, BD_CONFIG_APPLY_NONE}
#define R_LIVE {true, BD_CONFIG_APPLY_NONE} /* read afresh where it is used */
#define R_LIVE_TIMERS {true, BD_CONFIG_APPLY_TIMERS}
#define R_LIVE_HEALTH {true, BD_CONFIG_APPLY_HEALTH}
#define R_LIVE_LOG_LEVEL {true, BD_CONFIG_APPLY_LOG_LEVEL}

typedef struct setting_s {
	const char *name;
	setting_type_t type;
	size_t offset;
	const char *def;
	double min, max;     /* T_INT, T_DOUBLE */
	const char *choices; /* T_ENUM: '|' separated */
	const char *doc;
	setting_reload_t reload;
} setting_t;

#define OFF(f) offsetof(bd_config_t, f)

static const setting_t settings[] = {
	{"bootstrap.servers", T_STR, OFF(bootstrap_servers), "", 0, 0, NULL,
	 "Kafka bootstrap servers; empty starts the embedded broker (librdkafka mock cluster)", R_RESTART},
	{"broker.count", T_INT, OFF(broker_count), "3", 1, 16, NULL,
	 "Brokers of the embedded cluster", R_RESTART},
	{"topic.partitions", T_INT, OFF(topic_partitions), "8", 1, 1024, NULL,
	 "Partitions of the input topics created on the embedded broker", R_RESTART},
	{"group.id", T_STR, OFF(group_id), "budgetd", 0, 0, NULL,
	 "Consumer group of the workers; one instance of a group decides, the others stand by "
	 "(the instance lock: group GROUP.active on partition 0 of topic.control)", R_RESTART},
	{"topic.features", T_STR, OFF(topic[BD_MSG_FEATURE]), "budgetd.features", 0, 0, NULL,
	 "Input: feature events (decision requests), keyed by user_id", R_RESTART},
	{"topic.outcomes", T_STR, OFF(topic[BD_MSG_OUTCOME]), "budgetd.outcomes", 0, 0, NULL,
	 "Input: outcome events, keyed by user_id, same partition count as topic.features", R_RESTART},
	{"topic.control", T_STR, OFF(topic[BD_MSG_CONTROL]), "budgetd.control", 0, 0, NULL,
	 "Input: control commands (read by every instance; one partition; its partition 0 is "
	 "also the instance lock)", R_RESTART},
	{"topic.decisions", T_STR, OFF(topic[BD_MSG_DECISION]), "budgetd.decisions", 0, 0, NULL,
	 "Output: one decision per request", R_RESTART},
	{"topic.plans", T_STR, OFF(topic[BD_MSG_PLAN]), "budgetd.plans", 0, 0, NULL,
	 "Output: cluster plans after each solve", R_RESTART},
	{"topic.models", T_STR, OFF(topic[BD_MSG_MODEL]), "budgetd.models", 0, 0, NULL,
	 "Output: distilled model updates", R_RESTART},
	{"topic.deadletters", T_STR, OFF(topic[BD_MSG_DEADLETTER]), "budgetd.deadletters", 0, 0, NULL,
	 "Output: input messages that could not be used, with the reason", R_RESTART},
	{"topic.changelog", T_STR, OFF(topic[BD_MSG_CHANGELOG]), "budgetd.changelog", 0, 0, NULL,
	 "Output (changelog.enabled): the state operations of each worker batch, one record per "
	 "input partition, same partition count as topic.features; records are deltas: create "
	 "it with cleanup.policy=delete, never compact", R_RESTART},
	{"state.dir", T_STR, OFF(state_dir), "/var/lib/budgetd", 0, 0, NULL,
	 "RocksDB directory (state and the input offsets it reflects)", R_RESTART},
	{"checkpoint.dir", T_STR, OFF(checkpoint_dir), "", 0, 0, NULL,
	 "Directory of the periodic backups: every checkpoint.interval.s a consistent RocksDB "
	 "checkpoint (hard links on the same file system) is written to "
	 "checkpoint.dir/checkpoint-<UTC time>; a relative path is taken from the directory that "
	 "holds state.dir; it must not be state.dir or inside it (empty: no checkpoints)", R_RESTART},
	{"checkpoint.interval.s", T_INT, OFF(checkpoint_interval_s), "3600", 1, 31 * 86400, NULL,
	 "Time between checkpoints; a restore re-reads from Kafka what came after its "
	 "checkpoint, so keep it well below the input topics' retention", R_RESTART},
	{"checkpoint.keep", T_INT, OFF(checkpoint_keep), "3", 1, 10000, NULL,
	 "Checkpoints kept in checkpoint.dir; older ones are deleted after a new one is written", R_RESTART},
	{"workers", T_INT, OFF(workers), "2", 1, 64, NULL,
	 "Worker threads, each with its own libuv loop and consumer", R_RESTART},
	{"features.dim", T_INT, OFF(features_dim), "12", 1, 512, NULL,
	 "Length of every feature vector", R_RESTART},
	{"features.names", T_STR, OFF(features_names), "", 0, 0, NULL,
	 "Names of the feature vector's entries, comma-separated, in order (e.g. "
	 "recency,frequency,basket); only the status page and /api/status use them, to "
	 "describe clusters (a feature without a name is f0, f1, ...)", R_LIVE},
	{"clusters", T_INT, OFF(clusters), "8", 1, 512, NULL,
	 "Clusters K of the initial assignment and of trained models", R_RESTART},
	{"exploration", T_DOUBLE, OFF(exploration), "0.1", 0, 1, NULL,
	 "Default share of requests given a uniformly random treatment, for campaigns created "
	 "without their own (a reload affects campaigns created after it)", R_LIVE},
	{"exploration.need", T_DOUBLE, OFF(exploration_need), "300", 0, 1e9, NULL,
	 "Decisions per cluster and treatment the cell estimates need: while a cell of a cluster "
	 "with at least half an average cluster's traffic has fewer, the exploration slice is the "
	 "campaign's share (its ceiling), and once every such cell will have them by the day's end "
	 "it shrinks to what fills the rest, never below exploration.min (a slice beyond what the "
	 "estimates need spends budget like uniform allocation); a campaign at 1 stays at 1; 0: "
	 "always the campaign's share", R_LIVE},
	{"exploration.min", T_DOUBLE, OFF(exploration_min), "0.02", 0, 1, NULL,
	 "Floor of the exploration slice sized by exploration.need (at most the campaign's share): "
	 "what the plan's confidence intervals, solve.gate.z and retraining keep reading", R_LIVE},
	{"exploration.short", T_DOUBLE, OFF(explore_short), "0.8", 0, 1, NULL,
	 "On a first day in its landing hours (solve.land.cold.h), while even the costliest plan by "
	 "the estimates spends less than this share of its budget for the rest of the day, the "
	 "exploration slice is the campaign's whole share: the costly incentives' costs are read "
	 "low, and the uniform slice spends where no plan the estimates allow would and measures "
	 "them; 0: off",
	 R_LIVE},
	{"output.format", T_ENUM, OFF(output_format), "confluent", 0, 0,
	 "confluent|single_object", "Framing of output messages", R_RESTART},
	{"schema.id.feature_event", T_INT, OFF(schema_id[BD_MSG_FEATURE]), "1", 0, INT_MAX, NULL,
	 "Confluent schema id of FeatureEvent (0: not accepted in Confluent framing)", R_RESTART},
	{"schema.id.outcome_event", T_INT, OFF(schema_id[BD_MSG_OUTCOME]), "2", 0, INT_MAX, NULL,
	 "Confluent schema id of OutcomeEvent", R_RESTART},
	{"schema.id.control_command", T_INT, OFF(schema_id[BD_MSG_CONTROL]), "3", 0, INT_MAX, NULL,
	 "Confluent schema id of ControlCommand", R_RESTART},
	{"schema.id.decision", T_INT, OFF(schema_id[BD_MSG_DECISION]), "4", 0, INT_MAX, NULL,
	 "Confluent schema id of Decision", R_RESTART},
	{"schema.id.plan", T_INT, OFF(schema_id[BD_MSG_PLAN]), "5", 0, INT_MAX, NULL,
	 "Confluent schema id of ClusterPlan", R_RESTART},
	{"schema.id.model_update", T_INT, OFF(schema_id[BD_MSG_MODEL]), "6", 0, INT_MAX, NULL,
	 "Confluent schema id of ModelUpdate", R_RESTART},
	{"schema.id.dead_letter", T_INT, OFF(schema_id[BD_MSG_DEADLETTER]), "7", 0, INT_MAX, NULL,
	 "Confluent schema id of DeadLetter", R_RESTART},
	{"schema.id.changelog", T_INT, OFF(schema_id[BD_MSG_CHANGELOG]), "8", 0, INT_MAX, NULL,
	 "Confluent schema id of ChangelogRecord", R_RESTART},
	{"schema.registry.url", T_STR, OFF(schema_registry_url), "", 0, 0, NULL,
	 "Confluent Schema Registry base URL, or several comma-separated (tried in order); empty: "
	 "no registry, the schema.id.* settings name the schemas. With a registry, budgetd "
	 "registers its output schemas under TOPIC-value (TopicNameStrategy) at start, looks its "
	 "input schemas up there, writes the ids the registry gives, and reads an input written "
	 "with any other registered Avro schema that resolves against its own (fields added are "
	 "skipped, fields left out take their defaults); schema.id.* are then not used",
	 R_RESTART},
	{"schema.registry.basic.auth.user.info", T_STR, OFF(schema_registry_user_info), "", 0, 0,
	 NULL, "USER:PASSWORD for the registry's HTTP basic authentication (empty: none; shown as "
	 "******** by --show-config)", R_RESTART},
	{"schema.registry.ssl.ca.location", T_STR, OFF(schema_registry_ca), "", 0, 0, NULL,
	 "HTTPS: the CA bundle (PEM) that signed the registry's certificate (empty: the "
	 "system's)", R_RESTART},
	{"schema.registry.ssl.certificate.location", T_STR, OFF(schema_registry_cert), "", 0, 0,
	 NULL, "HTTPS with client certificates: budgetd's certificate (PEM; empty: none)",
	 R_RESTART},
	{"schema.registry.ssl.key.location", T_STR, OFF(schema_registry_key), "", 0, 0, NULL,
	 "HTTPS with client certificates: the certificate's private key (PEM, unencrypted; "
	 "empty: none)", R_RESTART},
	{"schema.registry.auto.register", T_INT, OFF(schema_registry_auto_register), "1", 0, 1,
	 NULL, "1: register budgetd's output schemas under their subjects at start (as Kafka's "
	 "Avro serializers do); 0: they must be registered already, and the start fails naming "
	 "the subject otherwise", R_RESTART},
	{"schema.registry.timeout.ms", T_INT, OFF(schema_registry_timeout_ms), "10000", 100,
	 600000, NULL, "Limit of one registry request, connection included", R_RESTART},
	{"changelog.enabled", T_INT, OFF(changelog_enabled), "0", 0, 1, NULL,
	 "1: after each worker batch is written, produce its state operations to topic.changelog, "
	 "and on taking the instance lock restore from it what the store lacks before deciding "
	 "(a standby taking over resumes where the last holder stopped; set it on every "
	 "instance of a group). A batch's outputs (decisions, dead letters) go out once its "
	 "records are acknowledged", R_RESTART},
	{"changelog.max.bytes", T_INT, OFF(changelog_max_bytes), "900000", 1024, 1000000, NULL,
	 "A batch's changelog record for one partition larger than this is split into parts "
	 "(records of the same batch_seq, applied together); below the producer's "
	 "message.max.bytes (1000000 unless kafka.message.max.bytes says otherwise)", R_RESTART},
	{"flush.interval.ms", T_INT, OFF(flush_interval_ms), "100", 1, 60000, NULL,
	 "Longest time input waits before its state and offsets are written", R_RESTART},
	{"batch.max", T_INT, OFF(batch_max), "2000", 1, 1000000, NULL,
	 "Most input messages in one atomic state batch", R_RESTART},
	{"control.ids.max", T_INT, OFF(control_ids_max), "100000", 1, 100000000, NULL,
	 "Command ids remembered: a control command whose command_id is among the ids of the "
	 "newest this many applied commands is ignored (dead letter duplicate); kept in the "
	 "state with the commands' effects", R_LIVE},
	{"decision.retention.s", T_INT, OFF(decision_retention_s), "604800", 60, INT_MAX, NULL,
	 "How long decisions wait for their outcome: an outcome more than this after its "
	 "decision (event times) is dead-lettered as expired; a stored decision older than this "
	 "plus an hour by its campaign's clock is deleted", R_RESTART},
	{"decision.expiry.interval.s", T_INT, OFF(decision_expiry_interval_s), "3600", 1, 604800,
	 NULL,
	 "How often the campaigns' expiry limits are updated and RocksDB is asked to compact the "
	 "decisions, which deletes the expired ones in its background threads", R_RESTART},
	{"input.max.bytes", T_INT, OFF(input_max_bytes), "262144", 1024, 64 << 20, NULL,
	 "Input messages, or their keys, larger than this are dead-lettered (oversized, first "
	 "1024 bytes of the key and of the payload kept) without being decoded", R_RESTART},
	{"clock.mode", T_ENUM, OFF(clock_mode), "wall", 0, 0, "wall|event",
	 "Where event times are held: wall (live traffic) refuses an event (feature event or "
	 "outcome) dated more than clock.max.ahead.s ahead of this host's clock; event (replays, "
	 "simulated compressed days such as budgetd-sim's) trusts event times and refuses a "
	 "feature event more than clock.max.jump.s ahead of its campaign's clock.  Refused "
	 "events are dead letters (future); each campaign's day and now come from its own "
	 "accepted feature events (docs/architecture.md, Time)", R_RESTART},
	{"clock.max.ahead.s", T_INT, OFF(clock_max_ahead_s), "300", 1, 86400, NULL,
	 "clock.mode wall: how far an event time may run ahead of this host's clock (clock skew "
	 "between the producers and this host)", R_RESTART},
	{"clock.max.behind.s", T_INT, OFF(clock_max_behind_s), "600", 0, INT_MAX, NULL,
	 "clock.mode wall: a feature event dated on an earlier day of its campaign than the "
	 "campaign's running day, and more than this behind the host's clock, is refused "
	 "(stale): its coupon would be spent today but counted on a day that is over (0: "
	 "never refused)", R_RESTART},
	{"clock.max.jump.s", T_INT, OFF(clock_max_jump_s), "43200", 0, INT_MAX, NULL,
	 "clock.mode event: how far a feature event may run ahead of its campaign's clock (before "
	 "the campaign's first event: its creation command's ts_ms), so one event moves a clock "
	 "by this much at most and a producer a day off is refused; keep it above the longest gap "
	 "between a campaign's events on one partition (a replay may read a partition alone), or "
	 "the events after the gap are all refused (0: no bound)", R_RESTART},
	{"input.max.skew.ms", T_INT, OFF(input_max_skew_ms), "60000", 0, INT_MAX, NULL,
	 "Outcomes dated more than this before their decision are invalid (clock skew between "
	 "the producers is tolerated up to this)", R_RESTART},
	{"outcome.max.value", T_DOUBLE, OFF(outcome_max_value), "1e9", 0, BD_OUTCOME_BOUND_MAX, NULL,
	 "Largest value one outcome may report, for campaigns without their own max_value: a "
	 "larger one is dead-lettered as implausible (the largest of 2 million outcomes of the "
	 "simulator's most extreme world: 3e6, docs/solving.md)", R_RESTART},
	{"outcome.max.cost.factor", T_DOUBLE, OFF(outcome_max_cost_factor), "10", 0, 1e6, NULL,
	 "Largest cost one outcome may report, as a multiple of its campaign's largest nominal "
	 "cost (at most 1e15), for campaigns without their own max_cost: a larger one is "
	 "dead-lettered as implausible and its cost is not counted in spend", R_RESTART},
	{"outcome.winsor.value.factor", T_DOUBLE, OFF(outcome_winsor_value_factor), "1000", 0, 1e9,
	 NULL,
	 "An outcome's value counts in the statistics behind the estimates at most this multiple "
	 "of its campaign's largest nominal cost (winsorised; the day's value and spend count it "
	 "whole), for campaigns without their own winsor_value; 0, or a campaign whose treatments "
	 "all cost 0: capped at the value bound only", R_RESTART},
	{"outcome.max.orders", T_INT, OFF(outcome_max_orders), "1000", 0, INT_MAX, NULL,
	 "Most orders one outcome may report; more is dead-lettered as implausible", R_RESTART},
	{"log.counters.s", T_INT, OFF(log_counters_s), "60", 0, 86400, NULL,
	 "Log the input and dead-letter counters this often when they changed, and at shutdown "
	 "(0: at shutdown only)", R_LIVE_TIMERS},
	{"samples.max", T_INT, OFF(samples_max), "1000000", 0, INT_MAX, NULL,
	 "Joined samples kept per partition for training (the oldest dropped, a 64th of it "
	 "at a time)", R_RESTART},
	{"solve.interval.ms", T_INT, OFF(solve_interval_ms), "5000", 100, 3600000, NULL,
	 "Re-solve timer", R_LIVE_TIMERS},
	{"solve.mode", T_ENUM, OFF(solve_mode), "stochastic", 0, 0, "lp|integer|stochastic",
	 "Plan: the exact LP (one cluster may be split), the exact integer plan, or the LP plan "
	 "whose overspend probability stays under solve.overspend.prob", R_LIVE},
	{"solve.overspend.prob", T_DOUBLE, OFF(solve_overspend_prob), "0.25", 0, 1, NULL,
	 "Stochastic mode: allowed probability of spending more than the remaining budget", R_LIVE},
	{"solve.cost.calibrate", T_DOUBLE, OFF(solve_cost_calibrate), "0.2", 0, 10, NULL,
	 "Today's cost calibration: the cells' costs are scaled by the realised cost of today's "
	 "matured hours over what they said should have arrived, shrunk toward 1 with this prior "
	 "standard deviation (0: off; a first day only raises them)", R_LIVE},
	{"solve.halflife.h", T_DOUBLE, OFF(solve_halflife_h), "24", 0, 1e6, NULL,
	 "Recency: a decision hour's statistics weigh half as much every this many hours of age "
	 "(0: all hours alike; historical samples never fade)", R_LIVE},
	{"solve.land", T_INT, OFF(solve_land), "1", 0, 2, NULL,
	 "1: spend the whole budget; past what maximising value would spend, the slack goes where "
	 "it loses the least estimated value (the published curve shows it); 2: the same, but the "
	 "slack is spent like uniform allocation (the value-maximising plan moved toward uniform "
	 "rows, then the costliest treatment); 0: leave it unspent", R_LIVE},
	{"solve.land.cold.h", T_DOUBLE, OFF(solve_land_cold_h), "12", 0, 24, NULL,
	 "On a day without a traffic profile (a campaign's first), solve.land applies only in the "
	 "day's last this many hours (24: all day): before, a budget beyond what maximising value "
	 "would spend is mostly the flat forecast's error, and spending it front-loads the day", R_LIVE},
	{"solve.scenarios", T_INT, OFF(solve_scenarios), "200", 10, 100000, NULL,
	 "Stochastic mode: scenarios drawn from the estimates' uncertainty", R_LIVE},
	{"solve.maturity.s", T_INT, OFF(solve_maturity_s), "7200", 0, 30 * 86400, NULL,
	 "Attribution delay: only decisions older than this count in the means", R_LIVE},
	{"solve.shrinkage", T_DOUBLE, OFF(solve_shrinkage), "50", 0, 1e9, NULL,
	 "Pseudo-decisions pulling a cluster's means toward the treatment's overall mean", R_LIVE},
	{"solve.shrink.uplift", T_INT, OFF(solve_shrink_uplift), "0", 0, 1, NULL,
	 "1: a cluster's uplifts over control (value, cost) shrink toward the pooled uplift by how "
	 "much clusters are seen to differ (empirical Bayes): a pooled plan while they cannot be "
	 "told apart; 0: only the means shrink (solve.shrinkage; on cold first days 1 bought 3% "
	 "less of uniform's increment in bench/bd-day-bench)", R_LIVE},
	{"solve.order.value.prior", T_DOUBLE, OFF(solve_order_value_prior), "0", 0, 1e9, NULL,
	 "Orders of prior pulling a cell's value per order toward its cluster's over every "
	 "treatment; a cell's value per request is then its orders per request times that "
	 "(a coupon moves how many users order more than what an order is worth, and baskets "
	 "are noisy); 0: the plain mean of value (1000 gained offline but not closed-loop, "
	 "docs/solving.md)", R_LIVE},
	{"solve.concave", T_INT, OFF(solve_concave), "1", 0, 1, NULL,
	 "1 (with solve.shrink.uplift): the pooled uplift over control is fitted non-decreasing "
	 "and concave in the treatment's cost (diminishing returns: a bigger incentive never buys "
	 "more per unit of cost than a smaller one); 0: as estimated", R_LIVE},
	{"solve.gate.z", T_DOUBLE, OFF(solve_gate_z), "0", 0, 10, NULL,
	 "Serve uniform allocation at the plan's spend while the plan's estimated uplift over it "
	 "(raw inverse-propensity means) is not this many standard errors above 0 (0: never; "
	 "1.64 cost 3% of a cold first day's increment in bench/bd-day-bench)", R_LIVE},
	{"pace.band", T_DOUBLE, OFF(pace_band), "0.05", 0.001, 1, NULL,
	 "Re-solve at once when spend since the plan drifts from its pace by this share of the remaining budget", R_LIVE},
	{"pace.lead", T_DOUBLE, OFF(pace_lead), "0.03", 0, 0.5, NULL,
	 "Plans may run this share ahead of the even pace while later solves can still correct it "
	 "(none on the day's last maturity window): a day short of budget can rarely catch up, one "
	 "ahead always can slow down", R_LIVE},
	{"pace.lead.cold", T_DOUBLE, OFF(pace_lead_cold), "0.5", 0, 2, NULL,
	 "On a day without a traffic profile, in its last solve.land.cold.h hours, plans aim this "
	 "share ahead of the even pace (the remaining budget falls as requests left to the power "
	 "1 + this): the flat forecast expects the evening's falling traffic at the day's rate, and "
	 "a first day that runs behind lands short", R_LIVE},
	{"pace.lead.log", T_DOUBLE, OFF(pace_lead_log), "1", 0, 2, NULL,
	 "pace.lead.cold on a first day whose traffic profile is the hours of its log (historical "
	 "samples fed before the day)", R_LIVE},
	{"guard.tolerance", T_DOUBLE, OFF(guard_tolerance), "0.05", 0, 1, NULL,
	 "The budget guard: once the expected cost of the decisions made under a plan would "
	 "pass the plan's remaining budget times 1 + this, further decisions of the campaign get "
	 "control (reason budget-guard) until the next plan (docs/solving.md, The budget guard)",
	 R_LIVE},
	{"guard.cost.sigmas", T_DOUBLE, OFF(guard_cost_sigmas), "2", 0, 10, NULL,
	 "The budget guard charges each decision its cell's estimated cost plus this many standard "
	 "errors of that estimate: a cell measured on few outcomes is charged more, so a cost "
	 "underestimated by noise cannot spend the plan's remaining budget twice over; the charge "
	 "falls to the estimate as outcomes come in (0: the estimate alone)", R_LIVE},
	{"admin.listen", T_STR, OFF(admin_listen), "127.0.0.1:9877", 0, 0, NULL,
	 "Admin HTTP endpoint (/metrics, /healthz, /readyz, /status, /api/*): HOST:PORT; "
	 "it has no authentication, so keep it on loopback or behind a proxy (empty: off)", R_RESTART},
	{"admin.refresh.ms", T_INT, OFF(admin_refresh_ms), "1000", 100, 60000, NULL,
	 "How often the admin documents are rendered (they are at most this old)", R_RESTART},
	{"health.window.ms", T_INT, OFF(health_window_ms), "15000", 100, 3600000, NULL,
	 "Degraded while a broker or output problem was seen this recently; keep it above "
	 "kafka.reconnect.backoff.max.ms (10 s by default), at which a lost broker is reported "
	 "again", R_LIVE_HEALTH},
	{"health.skip.window.s", T_INT, OFF(health_skip_window_s), "3600", 1, 7 * 86400, NULL,
	 "Degraded this long after input was skipped (an offset no longer on the broker: "
	 "retention, a lost log)", R_LIVE_HEALTH},
	{"pace.check.ms", T_INT, OFF(pace_check_ms), "1000", 50, 3600000, NULL,
	 "How often spend is checked against the pace", R_LIVE_TIMERS},
	{"train.interval.s", T_INT, OFF(train_interval_s), "3600", 0, 31 * 86400, NULL,
	 "Retrain the cluster model this often (0: only on RETRAIN commands)", R_LIVE_TIMERS},
	{"train.min.samples", T_INT, OFF(train_min_samples), "2000", 10, INT_MAX, NULL,
	 "Fewest joined samples a training run needs", R_LIVE},
	{"train.on.history", T_INT, OFF(train_on_history), "1", 0, 1, NULL,
	 "Train by itself once at least train.min.samples historical samples (outcomes without "
	 "a decision id) arrived since the last training run and none came for "
	 "train.history.quiet.ms: a campaign bootstrapped from its log decides with a model "
	 "trained on it (0: only on RETRAIN and the schedule)", R_LIVE},
	{"train.history.quiet.ms", T_INT, OFF(train_history_quiet_ms), "2000", 0, 3600000, NULL,
	 "How long no historical sample may have arrived before train.on.history trains (the "
	 "log has been fed, not just begun)", R_LIVE},
	{"train.max.samples", T_INT, OFF(train_max_samples), "200000", 100, 50000000, NULL,
	 "Samples a training run uses at most (uniform reservoir over the log)", R_LIVE},
	{"train.epochs", T_INT, OFF(train_epochs), "10", 1, 1000, NULL,
	 "Epochs of the representation network", R_LIVE},
	{"train.student.hidden", T_INT, OFF(train_student_hidden), "32", 0, 512, NULL,
	 "Hidden width of the distilled classifier (0: softmax regression)", R_LIVE},
	{"train.hidden", T_INT, OFF(train_hidden), "64", 1, 512, NULL,
	 "Width of the representation network's first shared layer", R_LIVE},
	{"train.rep.dim", T_INT, OFF(train_rep_dim), "16", 1, 64, NULL,
	 "Size of the hidden representation h(x) (the second shared layer)", R_LIVE},
	{"train.weight.conversion", T_DOUBLE, OFF(train_w_conv), "1", 0, 1000, NULL,
	 "Task weight of the conversion heads", R_LIVE},
	{"train.weight.value", T_DOUBLE, OFF(train_w_value), "1", 0, 1000, NULL,
	 "Task weight of the value heads", R_LIVE},
	{"train.weight.cost", T_DOUBLE, OFF(train_w_cost), "1", 0, 1000, NULL,
	 "Task weight of the cost heads", R_LIVE},
	{"train.huber", T_DOUBLE, OFF(train_huber), "0", 0, 1000, NULL,
	 "Huber threshold for value and cost (in units of their RMS; 0: squared loss)", R_LIVE},
	{"train.min.agreement", T_DOUBLE, OFF(train_min_agreement), "0.8", 0, 1, NULL,
	 "A new model is promoted only if the student agrees this much with the teacher", R_LIVE},
	{"train.promote.z", T_DOUBLE, OFF(train_promote_z), "1.64", 0, 10, NULL,
	 "A trained candidate is refused when its cluster plans, valued off-policy on the "
	 "logged samples against the deciding model's (each planned on half the samples and "
	 "valued on the other half, at 10, 30 and 60% of the costliest treatment's cost), are "
	 "worse by more than this many standard errors, so a retrain never knowingly makes "
	 "decisions worse; the first trained model replaces the initial assignment unchecked "
	 "(0: no check)", R_LIVE},
	{"train.feature.clip", T_DOUBLE, OFF(train_feature_clip), "5", 0, 1000, NULL,
	 "Each feature, less its median and over its robust spread, is clipped to +-this in "
	 "the model (0: not clipped); raw scales, heavy tails and outliers need no scaling "
	 "upstream", R_LIVE},
	{"train.min.cluster.share", T_DOUBLE, OFF(train_min_cluster_share), "0.2", 0, 0.5, NULL,
	 "No cluster of a promoted model holds fewer training users than this share of an "
	 "average cluster (smaller ones are re-seeded from the largest)", R_LIVE},
	{"train.min.cluster.users", T_INT, OFF(train_min_cluster_users), "50", 1, INT_MAX, NULL,
	 "No cluster of a promoted model holds fewer training users than this either",
	 R_LIVE},
	{"log.level", T_ENUM, OFF(log_level), "info", 0, 0, "error|warn|info|debug",
	 "Least severe level logged", R_LIVE_LOG_LEVEL},
	{"log.format", T_ENUM, OFF(log_format), "auto", 0, 0, "auto|text|json|journal",
	 "How log lines are written to stderr: text (time, level, message), json (one "
	 "object per line: ts, level, ident, source, msg), journal (journald's <N> "
	 "priority prefix), auto (journal when stderr is the journal's stream, else text)",
	 R_LIVE_LOG_LEVEL},
};

/* Settings that are gone, with what replaced them: a configuration naming
 * one is refused (it meant something the daemon no longer does), with
 * this hint. */
static const struct {
	const char *name, *hint;
} removed[] = {
	{"input.max.future.s",
	 "removed: event times are now bounded by clock.max.ahead.s (default 300 s) ahead of "
	 "this host's clock; replays and simulated days set clock.mode=event (docs/configuration.md)"},
};

static const char *removed_hint(const char *key)
{
	for (size_t i = 0; i < BD_ARRAY_SIZE(removed); i++)
		if (strcmp(removed[i].name, key) == 0)
			return removed[i].hint;
	return NULL;
}

/* A credential's value as dumps and messages show it: hidden when set. */
static const char *secret_value(const setting_t *s, const char *v)
{
	return v && *v && strstr(s->name, "user.info") ? "********" : v;
}

static char **str_field(bd_config_t *cfg, const setting_t *s)
{
	return (char **)((char *)cfg + s->offset);
}

static const setting_t *find(const char *key)
{
	for (size_t i = 0; i < BD_ARRAY_SIZE(settings); i++)
		if (strcmp(settings[i].name, key) == 0)
			return &settings[i];
	return NULL;
}

static bool enum_ok(const char *choices, const char *v)
{
	size_t n = strlen(v);
	for (const char *p = choices; p;) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);
		if (len == n && strncmp(p, v, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

static int set_one(bd_config_t *cfg, const setting_t *s, const char *value,
		   char *errstr, size_t errstr_size)
{
	char *end;

	switch (s->type) {
	case T_ENUM:
		if (!enum_ok(s->choices, value)) {
			snprintf(errstr, errstr_size, "%s: '%s' is not one of %s",
				 s->name, value, s->choices);
			return BD_ECONFIG;
		}
		/* fall through */
	case T_STR: {
		char *dup = strdup(value), **f = str_field(cfg, s);
		if (!dup)
			return -ENOMEM;
		free(*f);
		*f = dup;
		return 0;
	}
	case T_INT: {
		errno = 0;
		long v = strtol(value, &end, 10);
		if (errno || end == value || *end || v < s->min || v > s->max) {
			snprintf(errstr, errstr_size,
				 "%s: '%s' is not an integer in %.0f..%.0f",
				 s->name, value, s->min, s->max);
			return BD_ECONFIG;
		}
		*(int *)((char *)cfg + s->offset) = (int)v;
		return 0;
	}
	case T_DOUBLE: {
		errno = 0;
		double v = strtod(value, &end);
		if (errno || end == value || *end || !isfinite(v) || v < s->min ||
		    v > s->max) {
			snprintf(errstr, errstr_size,
				 "%s: '%s' is not a number in %g..%g", s->name,
				 value, s->min, s->max);
			return BD_ECONFIG;
		}
		*(double *)((char *)cfg + s->offset) = v;
		return 0;
	}
	}
	return BD_ECONFIG;
}

int bd_config_init(bd_config_t *cfg)
{
	char errstr[256];
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < BD_ARRAY_SIZE(settings); i++) {
		int err = set_one(cfg, &settings[i], settings[i].def, errstr,
				  sizeof(errstr));
		if (err) {
			bd_config_free(cfg);
			return err;
		}
	}
	return 0;
}

void bd_config_free(bd_config_t *cfg)
{
	for (size_t i = 0; i < BD_ARRAY_SIZE(settings); i++)
		if (settings[i].type == T_STR || settings[i].type == T_ENUM) {
			char **f = str_field(cfg, &settings[i]);
			free(*f);
			*f = NULL;
		}
	for (int i = 0; i < cfg->kafka_n; i++) {
		free(cfg->kafka_key[i]);
		free(cfg->kafka_val[i]);
	}
	cfg->kafka_n = 0;
}

int bd_config_set(bd_config_t *cfg, const char *key, const char *value,
		  char *errstr, size_t errstr_size)
{
	const setting_t *s;

	if (strncmp(key, "kafka.", 6) == 0 && key[6]) {
		int i;
		for (i = 0; i < cfg->kafka_n; i++)
			if (strcmp(cfg->kafka_key[i], key + 6) == 0)
				break;
		if (i == BD_CONFIG_MAX_KAFKA) {
			snprintf(errstr, errstr_size, "too many kafka.* settings (limit %d)",
				 BD_CONFIG_MAX_KAFKA);
			return BD_ECONFIG;
		}
		char *v = strdup(value);
		if (!v)
			return -ENOMEM;
		if (i == cfg->kafka_n) {
			if (!(cfg->kafka_key[i] = strdup(key + 6))) {
				free(v);
				return -ENOMEM;
			}
			cfg->kafka_n++;
		} else {
			free(cfg->kafka_val[i]);
		}
		cfg->kafka_val[i] = v;
		return 0;
	}
	if (!(s = find(key))) {
		const char *hint = removed_hint(key);
		snprintf(errstr, errstr_size, "unknown setting '%s'%s%s", key, hint ? ": " : "",
			 hint ? hint : "");
		return BD_ECONFIG;
	}
	return set_one(cfg, s, value, errstr, errstr_size);
}

static char *trim(char *s)
{
	char *e;
	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int bd_config_load_file(bd_config_t *cfg, const char *path, char *errstr,
			size_t errstr_size)
{
	char line[4096], why[512];
	FILE *f = fopen(path, "r");
	int lineno = 0, err = 0;

	if (!f) {
		snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
		return BD_ECONFIG;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p, *eq, *key, *val;
		lineno++;
		if ((p = strchr(line, '#')))
			*p = '\0';
		p = trim(line);
		if (!*p)
			continue;
		if (!(eq = strchr(p, '='))) {
			snprintf(errstr, errstr_size,
				 "%s:%d: expected 'key = value', got '%s'", path,
				 lineno, p);
			err = BD_ECONFIG;
			break;
		}
		*eq = '\0';
		key = trim(p);
		val = trim(eq + 1);
		if ((err = bd_config_set(cfg, key, val, why, sizeof(why)))) {
			snprintf(errstr, errstr_size, "%s:%d: %s", path, lineno, why);
			break;
		}
	}
	if (!err && ferror(f)) {
		snprintf(errstr, errstr_size, "%s: read error", path);
		err = BD_ECONFIG;
	}
	fclose(f);
	return err;
}

int bd_config_validate(const bd_config_t *cfg, char *errstr, size_t errstr_size)
{
	for (int i = 0; i < BD_MSG__COUNT; i++) {
		if (!cfg->topic[i][0]) {
			snprintf(errstr, errstr_size, "topic for %s is empty",
				 bd_msg_kind_name((bd_msg_kind_t)i));
			return BD_ECONFIG;
		}
		for (int j = 0; j < i; j++)
			if (strcmp(cfg->topic[i], cfg->topic[j]) == 0) {
				snprintf(errstr, errstr_size,
					 "topics of %s and %s are both '%s'",
					 bd_msg_kind_name((bd_msg_kind_t)j),
					 bd_msg_kind_name((bd_msg_kind_t)i),
					 cfg->topic[i]);
				return BD_ECONFIG;
			}
	}
	if (!cfg->state_dir[0]) {
		snprintf(errstr, errstr_size, "state.dir is empty");
		return BD_ECONFIG;
	}
	if (cfg->checkpoint_dir[0]) {
		char cp[4096];
		size_t n = strlen(cfg->state_dir);
		bd_config_checkpoint_dir(cfg, cp, sizeof(cp));
		while (n > 1 && cfg->state_dir[n - 1] == '/')
			n--;
		if (strncmp(cp, cfg->state_dir, n) == 0 && (cp[n] == '\0' || cp[n] == '/')) {
			snprintf(errstr, errstr_size,
				 "checkpoint.dir: %s is state.dir or inside it; a backup must "
				 "survive moving a damaged state.dir aside",
				 cp);
			return BD_ECONFIG;
		}
	}
	if (!cfg->group_id[0]) {
		snprintf(errstr, errstr_size, "group.id is empty");
		return BD_ECONFIG;
	}
	return 0;
}

void bd_config_dump(const bd_config_t *cfg, FILE *f, bool with_docs)
{
	for (size_t i = 0; i < BD_ARRAY_SIZE(settings); i++) {
		const setting_t *s = &settings[i];
		const char *p = (const char *)cfg + s->offset;
		switch (s->type) {
		case T_STR:
		case T_ENUM:
			fprintf(f, "%s = %s", s->name,
				secret_value(s, *(char *const *)p));
			break;
		case T_INT:
			fprintf(f, "%s = %d", s->name, *(const int *)p);
			break;
		case T_DOUBLE:
			fprintf(f, "%s = %g", s->name, *(const double *)p);
			break;
		}
		if (with_docs) {
			fprintf(f, "\t# %s (default: '%s'", s->doc, s->def);
			if (s->type == T_INT)
				fprintf(f, "; range: %.0f..%.0f", s->min, s->max);
			else if (s->type == T_DOUBLE)
				fprintf(f, "; range: %g..%g", s->min, s->max);
			else if (s->type == T_ENUM)
				fprintf(f, "; one of: %s", s->choices);
			fprintf(f, "; %s)", s->reload.live ? "SIGHUP applies it"
								: "takes effect at restart");
		}
		fputc('\n', f);
	}
	for (int i = 0; i < cfg->kafka_n; i++) {
		/* librdkafka secrets (sasl.password, ssl.key.password) stay hidden */
		bool secret = strstr(cfg->kafka_key[i], "password") ||
			      strstr(cfg->kafka_key[i], "secret");
		fprintf(f, "kafka.%s = %s%s\n", cfg->kafka_key[i],
			secret ? "********" : cfg->kafka_val[i],
			with_docs ? "\t# librdkafka (takes effect at restart)" : "");
	}
}

void bd_config_checkpoint_dir(const bd_config_t *cfg, char *buf, size_t size)
{
	const char *cp = cfg->checkpoint_dir, *sd = cfg->state_dir;
	size_t n = strlen(sd);

	if (!cp[0] || cp[0] == '/') {
		snprintf(buf, size, "%s", cp);
		return;
	}
	/* the parent of state.dir: trailing slashes and the last component off */
	while (n > 1 && sd[n - 1] == '/')
		n--;
	while (n > 0 && sd[n - 1] != '/')
		n--;
	while (n > 1 && sd[n - 1] == '/')
		n--;
	if (n == 0)
		snprintf(buf, size, "%s", cp); /* state.dir is relative: "." */
	else if (n == 1 && sd[0] == '/')
		snprintf(buf, size, "/%s", cp);
	else
		snprintf(buf, size, "%.*s/%s", (int)n, sd, cp);
}

int bd_config_build(bd_config_t *cfg, const bd_config_source_t *src, char *errstr,
		    size_t errstr_size)
{
	char why[512];
	int err;

	if ((err = bd_config_init(cfg))) {
		snprintf(errstr, errstr_size, "out of memory");
		return err;
	}
	if (src->file && (err = bd_config_load_file(cfg, src->file, errstr, errstr_size)))
		goto fail;
	for (int i = 0; i < src->nsets; i++) {
		/* "key=value" is split on a copy: the overrides are applied again
		 * at every reload */
		char *kv = strdup(src->sets[i]), *eq = kv ? strchr(kv, '=') : NULL;
		if (!kv) {
			snprintf(errstr, errstr_size, "out of memory");
			err = -ENOMEM;
			goto fail;
		}
		if (!eq) {
			snprintf(errstr, errstr_size, "-X %s: expected KEY=VALUE", kv);
			err = BD_ECONFIG;
		} else {
			*eq = '\0';
			if ((err = bd_config_set(cfg, kv, eq + 1, why, sizeof(why))))
				snprintf(errstr, errstr_size, "-X %s=%s: %s", kv, eq + 1, why);
		}
		free(kv);
		if (err)
			goto fail;
	}
	if ((err = bd_config_validate(cfg, why, sizeof(why)))) {
		snprintf(errstr, errstr_size, "%s%s%s", src->file ? src->file : "",
			 src->file ? ": " : "", why);
		goto fail;
	}
	return 0;
fail:
	bd_config_free(cfg);
	return err;
}

/* Formats @p s's value in @p cfg the way the dump does. */
static void value_str(const bd_config_t *cfg, const setting_t *s, char *buf, size_t size)
{
	const char *p = (const char *)cfg + s->offset;
	switch (s->type) {
	case T_STR:
	case T_ENUM:
		snprintf(buf, size, "%s", secret_value(s, *(char *const *)p));
		break;
	case T_INT:
		snprintf(buf, size, "%d", *(const int *)p);
		break;
	case T_DOUBLE:
		snprintf(buf, size, "%g", *(const double *)p);
		break;
	}
}

static bool same_value(const bd_config_t *a, const bd_config_t *b, const setting_t *s)
{
	const char *pa = (const char *)a + s->offset, *pb = (const char *)b + s->offset;
	switch (s->type) {
	case T_STR:
	case T_ENUM:
		return strcmp(*(char *const *)pa, *(char *const *)pb) == 0;
	case T_INT:
		return *(const int *)pa == *(const int *)pb;
	case T_DOUBLE:
		return *(const double *)pa == *(const double *)pb;
	}
	return true;
}

static bool same_kafka(const bd_config_t *a, const bd_config_t *b)
{
	if (a->kafka_n != b->kafka_n)
		return false;
	for (int i = 0; i < a->kafka_n; i++) {
		int j;
		for (j = 0; j < b->kafka_n; j++)
			if (strcmp(a->kafka_key[i], b->kafka_key[j]) == 0)
				break;
		if (j == b->kafka_n || strcmp(a->kafka_val[i], b->kafka_val[j]) != 0)
			return false;
	}
	return true;
}

/* Copies one value, exactly (no text round trip for doubles). */
static int copy_value(bd_config_t *dst, const bd_config_t *src, const setting_t *s)
{
	const char *ps = (const char *)src + s->offset;
	char *pd = (char *)dst + s->offset;
	switch (s->type) {
	case T_STR:
	case T_ENUM: {
		char *dup = strdup(*(char *const *)ps);
		if (!dup)
			return -ENOMEM;
		free(*(char **)pd);
		*(char **)pd = dup;
		return 0;
	}
	case T_INT:
		*(int *)pd = *(const int *)ps;
		return 0;
	case T_DOUBLE:
		*(double *)pd = *(const double *)ps;
		return 0;
	}
	return BD_ECONFIG;
}

int bd_config_reload(bd_config_t *live, const bd_config_t *next,
		     bd_config_change_cb_t cb, void *opaque)
{
	char was[256], now[256];
	int applied = 0;

	for (size_t i = 0; i < BD_ARRAY_SIZE(settings); i++) {
		const setting_t *s = &settings[i];
		if (same_value(live, next, s))
			continue;
		value_str(live, s, was, sizeof(was));
		value_str(next, s, now, sizeof(now));
		if (!s->reload.live) {
			cb(opaque, s->name, was, now, BD_CONFIG_AT_RESTART, BD_CONFIG_APPLY_NONE);
			continue;
		}
		if (copy_value(live, next, s) != 0) {
			cb(opaque, s->name, was, now, BD_CONFIG_NOT_APPLIED, BD_CONFIG_APPLY_NONE);
			continue;
		}
		applied++;
		cb(opaque, s->name, was, now, BD_CONFIG_APPLIED, s->reload.apply);
	}
	if (!same_kafka(live, next))
		cb(opaque, "kafka.*", "", "", BD_CONFIG_AT_RESTART, BD_CONFIG_APPLY_NONE);
	return applied;
}

bool bd_config_reloadable(const char *key)
{
	const setting_t *s = find(key);
	return s && s->reload.live;
}

bd_wire_format_t bd_config_output_format(const bd_config_t *cfg)
{
	return strcmp(cfg->output_format, "single_object") == 0
		       ? BD_WIRE_SINGLE_OBJECT
		       : BD_WIRE_CONFLUENT;
}

void bd_config_each(const bd_config_t *cfg, bd_config_each_cb cb, void *opaque)
{
	char val[64];
	for (size_t i = 0; i < BD_ARRAY_SIZE(settings); i++) {
		const setting_t *s = &settings[i];
		const char *p = (const char *)cfg + s->offset, *v = val;
		switch (s->type) {
		case T_STR:
		case T_ENUM:
			v = secret_value(s, *(char *const *)p);
			break;
		case T_INT:
			snprintf(val, sizeof(val), "%d", *(const int *)p);
			break;
		case T_DOUBLE:
			snprintf(val, sizeof(val), "%g", *(const double *)p);
			break;
		}
		cb(s->name, v, s->def, s->doc, opaque);
	}
	for (int i = 0; i < cfg->kafka_n; i++) {
		char key[300];
		bool secret = strstr(cfg->kafka_key[i], "password") ||
			      strstr(cfg->kafka_key[i], "secret");
		snprintf(key, sizeof(key), "kafka.%s", cfg->kafka_key[i]);
		cb(key, secret ? "********" : cfg->kafka_val[i], "", "passed to librdkafka",
		   opaque);
	}
}
