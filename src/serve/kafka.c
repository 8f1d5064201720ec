#include "budgetd/serve/kafka.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "budgetd/base/log.h"

int bd_kafka_conf_set(rd_kafka_conf_t *conf, const char *key, const char *val,
		      char *errstr, size_t errstr_size)
{
	char why[256];
	if (rd_kafka_conf_set(conf, key, val, why, sizeof(why)) !=
	    RD_KAFKA_CONF_OK) {
		snprintf(errstr, errstr_size, "kafka.%s: %s", key, why);
		return BD_ECONFIG;
	}
	return 0;
}

/* The prefix of the settings for @p type's clients only, and the other's. */
static const char *role_prefix(rd_kafka_type_t type, int mine)
{
	return (type == RD_KAFKA_CONSUMER) == (mine != 0) ? "consumer." : "producer.";
}

static bool has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int bd_kafka_conf_default(rd_kafka_conf_t *conf, const bd_config_t *cfg,
			  rd_kafka_type_t type, const char *key, const char *val,
			  char *errstr, size_t errstr_size)
{
	const char *mine = role_prefix(type, 1);
	for (int i = 0; i < cfg->kafka_n; i++) {
		const char *k = cfg->kafka_key[i];
		if (strcmp(k, key) == 0 || (has_prefix(k, mine) && strcmp(k + strlen(mine), key) == 0))
			return 0;
	}
	return bd_kafka_conf_set(conf, key, val, errstr, errstr_size);
}

int64_t bd_kafka_conf_ms(rd_kafka_t *rk, const char *key, int64_t def)
{
	char buf[64];
	size_t n = sizeof(buf);
	char *end;
	if (rd_kafka_conf_get(rd_kafka_conf(rk), key, buf, &n) != RD_KAFKA_CONF_OK)
		return def;
	long long v = strtoll(buf, &end, 10);
	return end != buf && v >= 0 ? (int64_t)v : def;
}

rd_kafka_topic_t *bd_kafka_topic_lookup(rd_kafka_t *rk, const char *topic, int timeout_ms,
					int *partitions)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	int n = 0;
	if (rkt) {
		rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
		if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
			for (int i = 0; i < md->topic_cnt; i++)
				if (!md->topics[i].err && strcmp(md->topics[i].topic, topic) == 0)
					n = md->topics[i].partition_cnt;
			rd_kafka_metadata_destroy(md);
		} else {
			bd_debug("%s: topic %s not looked up: %s", rd_kafka_name(rk), topic,
				 rd_kafka_err2str(err));
		}
	}
	if (partitions)
		*partitions = n;
	return rkt;
}

int bd_kafka_on_error(bd_health_t *health, rd_kafka_t *rk, int err, const char *reason)
{
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		char why[512];
		rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof(why));
		bd_error("%s: fatal: %s: %s; stopping", rd_kafka_name(rk),
			 rd_kafka_err2name(orig), why);
		bd_health_note(health, BD_HEALTH_KAFKA, "%s: fatal: %s", rd_kafka_name(rk), why);
		return 1;
	}
	/* librdkafka logs these itself; note them for the health state */
	bd_health_note(health, BD_HEALTH_KAFKA, "%s: %s", rd_kafka_name(rk), reason);
	return 0;
}

/* The value after "key": in @p p, past spaces and the colon. */
static const char *json_value(const char *p, const char *key)
{
	const char *q = strstr(p, key);
	if (!q)
		return NULL;
	q += strlen(key);
	while (*q == ' ' || *q == ':')
		q++;
	return q;
}

int bd_kafka_stats_health(bd_health_t *health, rd_kafka_t *rk, const char *json)
{
	const char *p = strstr(json, "\"brokers\"");
	int down = 0;
	while (p && (p = json_value(p, "\"nodeid\""))) {
		long id = strtol(p, NULL, 10);
		const char *st = json_value(p, "\"state\"");
		if (!st || *st != '"')
			break;
		st++;
		size_t n = strcspn(st, "\"");
		/* INIT: never needed (sparse connections); UP: fine; anything
		 * else for long is a broker this client needs and cannot reach */
		int up = (n == 2 && strncmp(st, "UP", 2) == 0) ||
			 (n == 4 && strncmp(st, "INIT", 4) == 0);
		if (id >= 0 && bd_health_broker_seen(health, rd_kafka_name(rk), (int)id, up,
						     (int64_t)(uv_hrtime() / 1000000))) {
			bd_health_note(health, BD_HEALTH_KAFKA, "%s: broker %ld is %.*s",
				       rd_kafka_name(rk), id, (int)(n < 32 ? n : 32), st);
			down++;
		}
		p = st + n;
	}
	return down;
}

/* librdkafka's table of its properties (rd_kafka_conf_properties_show):
 * "name | C/P | range | default | ...".  @returns it (to free), or NULL. */
static char *props_table(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	rd_kafka_conf_properties_show(f);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Which clients property @p key is for by @p table: 'C', 'P', '*', or 0
 * when the table does not name it (then it is set everywhere, and
 * librdkafka judges it). */
static char prop_scope(const char *table, const char *key)
{
	size_t n = strlen(key);
	for (const char *l = table; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (strncmp(l, key, n) != 0 || (l[n] != ' ' && l[n] != '|'))
			continue;
		const char *bar = strchr(l, '|');
		if (!bar)
			return 0;
		for (bar++; *bar == ' '; bar++)
			;
		return *bar == 'C' || *bar == 'P' || *bar == '*' ? *bar : 0;
	}
	return 0;
}

/* One kafka.* setting on a client of @p type's configuration: the plain
 * ones (@p scoped 0) where librdkafka's table allows them, the scoped ones
 * (@p scoped 1) of its prefix. */
static int apply_kafka_setting(rd_kafka_conf_t *conf, const char *table, rd_kafka_type_t type,
			       const char *key, const char *val, int scoped, char *errstr,
			       size_t errstr_size)
{
	const char *mine = role_prefix(type, 1), *other = role_prefix(type, 0);
	char why[256];
	if (has_prefix(key, other) || has_prefix(key, mine) != (scoped != 0))
		return 0;
	const char *prop = scoped ? key + strlen(mine) : key;
	char s = scoped ? '*' : prop_scope(table, prop);
	if ((s == 'C' && type != RD_KAFKA_CONSUMER) || (s == 'P' && type != RD_KAFKA_PRODUCER))
		return 0;
	if (rd_kafka_conf_set(conf, prop, val, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
		snprintf(errstr, errstr_size, "kafka.%s: %s", key, why);
		return BD_ECONFIG;
	}
	return 0;
}

void bd_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	char src[160];
	bd_log_level_t l = level <= 3 ? BD_LOG_ERROR : level <= 5 ? BD_LOG_WARN
				     : level == 6 ? BD_LOG_INFO : BD_LOG_DEBUG;
	snprintf(src, sizeof(src), "kafka %s %s", rk ? rd_kafka_name(rk) : "-", fac);
	bd_log_from(l, src, "%s", buf);
}

rd_kafka_conf_t *bd_kafka_conf_new(const bd_config_t *cfg, const char *bootstrap,
				   rd_kafka_type_t type, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char *table = props_table();
	if (!conf || !table) {
		snprintf(errstr, errstr_size, "out of memory");
		goto fail;
	}
	rd_kafka_conf_set_log_cb(conf, bd_kafka_log_cb);
	/* plain settings first, so that the scoped ones win */
	for (int scoped = 0; scoped < 2; scoped++)
		for (int i = 0; i < cfg->kafka_n; i++)
			if (apply_kafka_setting(conf, table, type, cfg->kafka_key[i],
						cfg->kafka_val[i], scoped, errstr, errstr_size))
				goto fail;
	if (bd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, errstr_size))
		goto fail;
	free(table);
	return conf;
fail:
	free(table);
	if (conf)
		rd_kafka_conf_destroy(conf);
	return NULL;
}

int bd_kafka_waker_start(bd_kafka_waker_t *w, uv_loop_t *loop,
			 rd_kafka_queue_t *q, uv_poll_cb cb)
{
	int err;
	if (pipe2(w->fds, O_NONBLOCK | O_CLOEXEC) != 0)
		return -errno;
	w->q = q;
	/* librdkafka writes the payload when the queue goes from empty to
	 * non-empty; we must then drain the queue completely. */
	rd_kafka_queue_io_event_enable(q, w->fds[1], "1", 1);
	if ((err = uv_poll_init(loop, &w->poll, w->fds[0])) != 0)
		goto fail;
	w->poll.data = w;
	if ((err = uv_poll_start(&w->poll, UV_READABLE, cb)) != 0)
		goto fail;
	/* a queue that already holds messages never goes from empty to
	 * non-empty: wake once now so they are drained */
	if (write(w->fds[1], "1", 1) != 1)
		(void)0; /* the pipe is empty and non-blocking: cannot fail */
	return 0;
fail:
	rd_kafka_queue_io_event_enable(q, -1, NULL, 0);
	close(w->fds[0]);
	close(w->fds[1]);
	return err;
}

void bd_kafka_waker_drain(bd_kafka_waker_t *w)
{
	char buf[256];
	while (read(w->fds[0], buf, sizeof(buf)) > 0)
		;
}

static void waker_closed(uv_handle_t *h)
{
	bd_kafka_waker_t *w = h->data;
	close(w->fds[0]);
	close(w->fds[1]);
}

void bd_kafka_waker_stop(bd_kafka_waker_t *w)
{
	rd_kafka_queue_io_event_enable(w->q, -1, NULL, 0);
	uv_close((uv_handle_t *)&w->poll, waker_closed);
}
