/* config.c: the settings table drives defaults, parsing, errors and dump. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "budgetd/base/config.h"

static char err[512];

static void says(const char *what)
{
	if (!strstr(err, what))
		fail_msg("error '%s' does not say '%s'", err, what);
}

static void test_defaults(void **state)
{
	bd_config_t c;
	(void)state;
	assert_int_equal(bd_config_init(&c), 0);
	assert_string_equal(c.bootstrap_servers, "");
	assert_string_equal(c.topic[BD_MSG_FEATURE], "budgetd.features");
	assert_int_equal(c.workers, 2);
	assert_int_equal(c.schema_id[BD_MSG_DEADLETTER], 7);
	assert_true(c.exploration == 0.1);
	assert_int_equal(bd_config_output_format(&c), BD_WIRE_CONFLUENT);
	assert_int_equal(bd_config_validate(&c, err, sizeof(err)), 0);
	bd_config_free(&c);
}

static void test_set(void **state)
{
	bd_config_t c;
	(void)state;
	assert_int_equal(bd_config_init(&c), 0);
	assert_int_equal(bd_config_set(&c, "workers", "4", err, sizeof(err)), 0);
	assert_int_equal(c.workers, 4);
	assert_int_equal(bd_config_set(&c, "exploration", "0.25", err, sizeof(err)), 0);
	assert_true(c.exploration == 0.25);
	assert_int_equal(bd_config_set(&c, "output.format", "single_object", err, sizeof(err)), 0);
	assert_int_equal(bd_config_output_format(&c), BD_WIRE_SINGLE_OBJECT);
	assert_int_equal(bd_config_set(&c, "nope", "1", err, sizeof(err)), BD_ECONFIG);
	says("unknown setting 'nope'");
	assert_int_equal(bd_config_set(&c, "workers", "0", err, sizeof(err)), BD_ECONFIG);
	says("workers: '0' is not an integer in 1..64");
	assert_int_equal(bd_config_set(&c, "workers", "3x", err, sizeof(err)), BD_ECONFIG);
	says("workers");
	assert_int_equal(bd_config_set(&c, "exploration", "1.5", err, sizeof(err)), BD_ECONFIG);
	says("exploration");
	assert_int_equal(bd_config_set(&c, "output.format", "json", err, sizeof(err)), BD_ECONFIG);
	says("confluent|single_object");
	assert_int_equal(c.workers, 4); /* failures change nothing */
	assert_int_equal(bd_config_set(&c, "kafka.linger.ms", "5", err, sizeof(err)), 0);
	assert_int_equal(bd_config_set(&c, "kafka.linger.ms", "7", err, sizeof(err)), 0);
	assert_int_equal(c.kafka_n, 1);
	assert_string_equal(c.kafka_val[0], "7");
	bd_config_free(&c);
}

static void test_file(void **state)
{
	char path[] = "/tmp/bdconfXXXXXX";
	bd_config_t c;
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	(void)state;
	fprintf(f, "# comment\n\nworkers = 3   # trailing\nstate.dir=/x/y\n"
		   "kafka.sasl.password = hunter2\nclusters = many\n");
	fclose(f);
	assert_int_equal(bd_config_init(&c), 0);
	assert_int_equal(bd_config_load_file(&c, path, err, sizeof(err)), BD_ECONFIG);
	says(":6: clusters");
	assert_int_equal(c.workers, 3);
	assert_string_equal(c.state_dir, "/x/y");
	/* the dump lists every setting and hides secrets */
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	bd_config_dump(&c, m, true);
	fclose(m);
	assert_non_null(strstr(buf, "workers = 3"));
	assert_non_null(strstr(buf, "topic.deadletters = budgetd.deadletters"));
	assert_non_null(strstr(buf, "kafka.sasl.password = ********"));
	assert_null(strstr(buf, "hunter2"));
	free(buf);
	f = fopen(path, "w");
	fprintf(f, "workers 3\n");
	fclose(f);
	assert_int_equal(bd_config_load_file(&c, path, err, sizeof(err)), BD_ECONFIG);
	says(":1: expected 'key = value'");
	unlink(path);
	assert_int_equal(bd_config_load_file(&c, path, err, sizeof(err)), BD_ECONFIG);
	says("No such file");
	bd_config_free(&c);
}

static void test_validate(void **state)
{
	bd_config_t c;
	(void)state;
	assert_int_equal(bd_config_init(&c), 0);
	assert_int_equal(bd_config_set(&c, "topic.plans", "budgetd.features", err, sizeof(err)), 0);
	assert_int_equal(bd_config_validate(&c, err, sizeof(err)), BD_ECONFIG);
	says("are both 'budgetd.features'");
	assert_int_equal(bd_config_set(&c, "topic.plans", "p", err, sizeof(err)), 0);
	assert_int_equal(bd_config_set(&c, "state.dir", "", err, sizeof(err)), 0);
	assert_int_equal(bd_config_validate(&c, err, sizeof(err)), BD_ECONFIG);
	says("state.dir is empty");
	bd_config_free(&c);
}

static void cp_dir(const char *state_dir, const char *cp, const char *want)
{
	bd_config_t c;
	char buf[256];
	assert_int_equal(bd_config_init(&c), 0);
	assert_int_equal(bd_config_set(&c, "state.dir", state_dir, err, sizeof(err)), 0);
	assert_int_equal(bd_config_set(&c, "checkpoint.dir", cp, err, sizeof(err)), 0);
	bd_config_checkpoint_dir(&c, buf, sizeof(buf));
	assert_string_equal(buf, want);
	bd_config_free(&c);
}

static void test_checkpoint_dir(void **state)
{
	bd_config_t c;
	(void)state;
	assert_int_equal(bd_config_init(&c), 0);
	assert_string_equal(c.checkpoint_dir, "");
	assert_int_equal(c.checkpoint_interval_s, 3600);
	assert_int_equal(c.checkpoint_keep, 3);
	assert_int_not_equal(bd_config_set(&c, "checkpoint.keep", "0", err, sizeof(err)), 0);
	says("checkpoint.keep");
	assert_int_not_equal(bd_config_set(&c, "checkpoint.interval.s", "0", err, sizeof(err)), 0);
	/* inside state.dir: refused, a backup must survive moving it aside */
	assert_int_equal(bd_config_set(&c, "state.dir", "/srv/bd/state/", err, sizeof(err)), 0);
	assert_int_equal(bd_config_set(&c, "checkpoint.dir", "/srv/bd/state/cp", err, sizeof(err)), 0);
	assert_int_not_equal(bd_config_validate(&c, err, sizeof(err)), 0);
	says("inside");
	assert_int_equal(bd_config_set(&c, "checkpoint.dir", "state", err, sizeof(err)), 0);
	assert_int_not_equal(bd_config_validate(&c, err, sizeof(err)), 0);
	assert_int_equal(bd_config_set(&c, "checkpoint.dir", "/srv/bd/state-cp", err, sizeof(err)), 0);
	assert_int_equal(bd_config_validate(&c, err, sizeof(err)), 0);
	bd_config_free(&c);
	/* absolute as given; relative from the directory holding state.dir */
	cp_dir("/var/lib/budgetd", "/backup/bd", "/backup/bd");
	cp_dir("/var/lib/budgetd", "budgetd-checkpoints", "/var/lib/budgetd-checkpoints");
	cp_dir("/var/lib/budgetd//", "cp", "/var/lib/cp");
	cp_dir("/budgetd", "cp", "/cp");
	cp_dir("state", "cp", "cp");
	cp_dir("run/state", "cp", "run/cp");
	cp_dir("/var/lib/budgetd", "", "");
}

typedef struct changes_s {
	char names[16][64];
	bd_config_change_t what[16];
	bd_config_apply_t apply[16];
	int n;
} changes_t;

static void note_change(void *opaque, const char *name, const char *was, const char *now,
			bd_config_change_t what, bd_config_apply_t apply)
{
	changes_t *ch = opaque;
	(void)was;
	(void)now;
	if (ch->n < 16) {
		snprintf(ch->names[ch->n], sizeof(ch->names[0]), "%s", name);
		ch->apply[ch->n] = apply;
		ch->what[ch->n++] = what;
	}
}

/* SIGHUP's path: build again from file + -X, copy only live settings. */
static void test_reload(void **state)
{
	char path[] = "/tmp/bdconfXXXXXX";
	char *sets[] = {"solve.interval.ms=700", "kafka.linger.ms=5"};
	bd_config_source_t src = {path, sets, 2};
	bd_config_t live, next;
	changes_t ch = {0};
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	(void)state;
	fprintf(f, "workers = 3\nsolve.interval.ms = 9000\npace.band = 0.1\n");
	fclose(f);
	assert_int_equal(bd_config_build(&live, &src, err, sizeof(err)), 0);
	assert_int_equal(live.workers, 3);
	assert_int_equal(live.solve_interval_ms, 700); /* -X over the file */
	/* the file changes: a live one, a restart-only one, -X still wins */
	f = fopen(path, "w");
	fprintf(f, "workers = 4\nsolve.interval.ms = 9000\npace.band = 0.125\n"
		   "solve.mode = lp\n");
	fclose(f);
	assert_int_equal(bd_config_build(&next, &src, err, sizeof(err)), 0);
	assert_int_equal(bd_config_reload(&live, &next, note_change, &ch), 2);
	bd_config_free(&next);
	assert_int_equal(ch.n, 3);
	assert_string_equal(ch.names[0], "workers");
	assert_int_equal(ch.what[0], BD_CONFIG_AT_RESTART);
	assert_int_equal(live.workers, 3); /* restart-only: unchanged */
	assert_true(live.pace_band == 0.125); /* exact, no text round trip */
	assert_string_equal(live.solve_mode, "lp");
	assert_int_equal(live.solve_interval_ms, 700);
	assert_true(bd_config_reloadable("pace.band"));
	assert_false(bd_config_reloadable("workers"));
	assert_false(bd_config_reloadable("kafka.linger.ms"));
	/* a broken file: an error naming file:line, nothing to free */
	f = fopen(path, "w");
	fprintf(f, "# c\npace.band = 0.2\nsolve.interval.ms = soon\n");
	fclose(f);
	assert_int_equal(bd_config_build(&next, &src, err, sizeof(err)), BD_ECONFIG);
	says(":3: solve.interval.ms: 'soon' is not an integer");
	assert_non_null(strstr(err, path));
	/* a changed kafka.* is reported without its value */
	sets[1] = "kafka.linger.ms=6";
	unlink(path);
	src.file = NULL;
	ch.n = 0;
	assert_int_equal(bd_config_build(&next, &src, err, sizeof(err)), 0);
	bd_config_reload(&live, &next, note_change, &ch);
	bd_config_free(&next);
	assert_string_equal(ch.names[ch.n - 1], "kafka.*");
	bd_config_free(&live);
}

/* Each changed live setting comes with its table entry's apply hook, which
 * the daemon dispatches on (daemon_reload.c): a timer's interval restarts
 * the timers, a health window is set again, the log level too; the rest is
 * read where it is used.  A restart-only setting needs nothing now. */
static void test_reload_apply(void **state)
{
	static const struct {
		const char *set;
		bd_config_change_t what;
		bd_config_apply_t apply;
	} want[] = {
		{"solve.interval.ms=700", BD_CONFIG_APPLIED, BD_CONFIG_APPLY_TIMERS},
		{"pace.check.ms=300", BD_CONFIG_APPLIED, BD_CONFIG_APPLY_TIMERS},
		{"train.interval.s=0", BD_CONFIG_APPLIED, BD_CONFIG_APPLY_TIMERS},
		{"log.counters.s=5", BD_CONFIG_APPLIED, BD_CONFIG_APPLY_TIMERS},
		{"health.window.ms=20000", BD_CONFIG_APPLIED, BD_CONFIG_APPLY_HEALTH},
		{"health.skip.window.s=60", BD_CONFIG_APPLIED, BD_CONFIG_APPLY_HEALTH},
		{"log.level=debug", BD_CONFIG_APPLIED, BD_CONFIG_APPLY_LOG_LEVEL},
		{"pace.band=0.2", BD_CONFIG_APPLIED, BD_CONFIG_APPLY_NONE},
		{"train.epochs=3", BD_CONFIG_APPLIED, BD_CONFIG_APPLY_NONE},
		{"checkpoint.interval.s=60", BD_CONFIG_AT_RESTART, BD_CONFIG_APPLY_NONE},
		{"flush.interval.ms=50", BD_CONFIG_AT_RESTART, BD_CONFIG_APPLY_NONE},
	};
	char *sets[BD_ARRAY_SIZE(want)];
	bd_config_source_t none = {NULL, NULL, 0}, src = {NULL, sets, (int)BD_ARRAY_SIZE(want)};
	bd_config_t live, next;
	changes_t ch = {0};
	(void)state;
	for (size_t i = 0; i < BD_ARRAY_SIZE(want); i++)
		sets[i] = (char *)want[i].set;
	assert_int_equal(bd_config_build(&live, &none, err, sizeof(err)), 0);
	assert_int_equal(bd_config_build(&next, &src, err, sizeof(err)), 0);
	assert_int_equal(bd_config_reload(&live, &next, note_change, &ch), 9);
	assert_int_equal(ch.n, (int)BD_ARRAY_SIZE(want));
	for (size_t i = 0; i < BD_ARRAY_SIZE(want); i++) {
		int k;
		for (k = 0; k < ch.n; k++)
			if (strncmp(want[i].set, ch.names[k], strlen(ch.names[k])) == 0 &&
			    want[i].set[strlen(ch.names[k])] == '=')
				break;
		if (k == ch.n)
			fail_msg("%s: not reported", want[i].set);
		if (ch.what[k] != want[i].what || ch.apply[k] != want[i].apply)
			fail_msg("%s: reported as change %d, apply %d; expected %d, %d",
				 want[i].set, ch.what[k], ch.apply[k], want[i].what,
				 want[i].apply);
	}
	bd_config_free(&next);
	bd_config_free(&live);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_checkpoint_dir),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_reload_apply),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
