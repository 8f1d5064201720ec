/* cmdlog.c: the outcomes of control commands keep the newest
 * BD_CMDLOG_MAX, find the newest entry of an id, take the outcome of a
 * running command, and render one JSON object per line whatever the ids
 * hold (budgetctl finds its command by line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/daemon/cmdlog.h"

static void test_ring(void **state)
{
	bd_cmdlog_t *l = calloc(1, sizeof(*l));
	char id[32];
	(void)state;
	assert_null(bd_cmdlog_find(l, "c-0"));
	for (int i = 0; i < BD_CMDLOG_MAX + 10; i++) {
		snprintf(id, sizeof(id), "c-%d", i);
		bd_cmdlog_add(l, id, "camp", "SET_BUDGET", i, 1000 + i, 2000 + i, BD_CMD_APPLIED,
			      "budget 1.00");
	}
	/* the ten oldest dropped out, the newest are there */
	assert_null(bd_cmdlog_find(l, "c-9"));
	const bd_cmdlog_entry_t *e = bd_cmdlog_find(l, "c-10");
	assert_non_null(e);
	assert_int_equal(e->seq, 11);
	assert_int_equal(e->offset, 10);
	e = bd_cmdlog_find(l, "c-521");
	assert_non_null(e);
	assert_int_equal(e->seq, BD_CMDLOG_MAX + 10);
	/* the same id again (a duplicate): the newest entry answers */
	bd_cmdlog_add(l, "c-20", "camp", "SET_BUDGET", 999, 0, 0, BD_CMD_DUPLICATE, "seen");
	assert_int_equal(bd_cmdlog_find(l, "c-20")->status, BD_CMD_DUPLICATE);
	/* a running command gets its outcome; a gone one cannot */
	bd_cmdlog_add(l, "rt", "camp", "RETRAIN", 1000, 0, 0, BD_CMD_RUNNING, "training model 3");
	assert_int_equal(bd_cmdlog_update(l, "rt", 5, BD_CMD_REFUSED, "model 3 not promoted"), 0);
	e = bd_cmdlog_find(l, "rt");
	assert_int_equal(e->status, BD_CMD_REFUSED);
	assert_string_equal(e->detail, "model 3 not promoted");
	assert_int_equal(bd_cmdlog_update(l, "c-0", 5, BD_CMD_APPLIED, ""), -1);
	free(l);
}

static void test_render(void **state)
{
	bd_cmdlog_t *l = calloc(1, sizeof(*l));
	bd_sbuf_t b = BD_SBUF_INIT;
	(void)state;
	bd_cmdlog_add(l, "id \"1\"\n", "cämp\\x", "PAUSE", 3, 0, 86400000, BD_CMD_REFUSED,
		      "unknown \"campaign\"\nnext line \xff");
	bd_cmdlog_add(l, "id-2", "c", "RESUME", 4, 0, 86400000, BD_CMD_APPLIED, "ok");
	bd_cmdlog_json(l, &b);
	assert_false(bd_sbuf_failed(&b));
	/* one object per line, newlines in strings escaped, bad bytes replaced */
	assert_non_null(strstr(b.s, "\n{\"seq\":1,\"command_id\":\"id \\\"1\\\"\\u000a\",\"campaign_id\":"
				    "\"cämp\\\\x\",\"action\":\"PAUSE\",\"status\":\"refused\""));
	assert_non_null(strstr(b.s, "\"applied\":\"1970-01-02T00:00:00.000Z\""));
	assert_non_null(strstr(b.s, "next line \xef\xbf\xbd\"}"));
	int lines = 0;
	for (const char *p = b.s; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 4); /* "[", each object, "]}" on lines of their own */
	bd_sbuf_free(&b);
	bd_cmdlog_text(l, &b);
	assert_non_null(strstr(b.s, "RESUME           applied   id-2"));
	bd_sbuf_free(&b);
	free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring),
		cmocka_unit_test(test_render),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
