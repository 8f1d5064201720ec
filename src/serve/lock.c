/*
 * The instance lock (lock.h): partition 0 of the control topic in the group
 * "<group.id>.active", cooperative-sticky, never read.
 */
#include "budgetd/serve/lock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/serve/kafka.h"
#include "budgetd/base/log.h"
#include "budgetd/wire/messages.h"

/* The consumer is polled at least this often: it serves the rebalance
 * callback and keeps max.poll.interval.ms satisfied (its queue wakes the
 * loop only when something arrives). */
#define LOCK_POLL_MS 500

struct bd_lock_s {
	rd_kafka_t *rk;
	rd_kafka_queue_t *q;
	bd_kafka_waker_t waker;
	uv_timer_t timer;
	int handles; /* waker and timer started: bd_lock_stop closes them */
	bd_health_t *health;
	bd_lock_cb *cb;
	void *opaque;
	char group[320];
	char topic[256];
	bd_lock_state_t state, told; /* as the callbacks left it; as reported */
	char why[1024];
	uint64_t changes;
	int stopping;
};

const char *bd_lock_state_name(bd_lock_state_t s)
{
	return s == BD_LOCK_HELD ? "held" : s == BD_LOCK_STANDBY ? "standby" : "joining";
}

static int has_partition0(const bd_lock_t *l, const rd_kafka_topic_partition_list_t *parts)
{
	for (int i = 0; parts && i < parts->cnt; i++)
		if (parts->elems[i].partition == 0 && strcmp(parts->elems[i].topic, l->topic) == 0)
			return 1;
	return 0;
}

static void set_state(bd_lock_t *l, bd_lock_state_t s, const char *why)
{
	if ((l->state == BD_LOCK_HELD) != (s == BD_LOCK_HELD))
		l->changes++;
	l->state = s;
	snprintf(l->why, sizeof(l->why), "%s", why);
}

/* Cooperative: only what changes comes here, so the lock moves only with
 * partition 0 itself.  (An operator's kafka.partition.assignment.strategy
 * is overridden; the eager branch is there in case librdkafka falls back.)
 * @locality the main loop, inside rd_kafka_consumer_poll: the daemon hears
 * of it after the poll returns (lock_poll). */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
			 rd_kafka_topic_partition_list_t *parts, void *opaque)
{
	bd_lock_t *l = opaque;
	int coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
	int p0 = has_partition0(l, parts);
	rd_kafka_error_t *e = NULL;
	char why[1024];

	if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
		/* never read: no offset lookup, no fetch */
		for (int i = 0; i < parts->cnt; i++)
			parts->elems[i].offset = RD_KAFKA_OFFSET_END;
		if (coop)
			e = rd_kafka_incremental_assign(rk, parts);
		else
			rd_kafka_assign(rk, parts);
		rd_kafka_pause_partitions(rk, parts);
		if (p0) {
			snprintf(why, sizeof(why), "partition 0 of %s assigned to this instance in "
				 "group %s", l->topic, l->group);
			set_state(l, BD_LOCK_HELD, why);
		} else if (l->state == BD_LOCK_JOINING) {
			snprintf(why, sizeof(why), "group %s assigned partition 0 of %s to another "
				 "member", l->group, l->topic);
			set_state(l, BD_LOCK_STANDBY, why);
		}
	} else {
		int lost = rd_kafka_assignment_lost(rk);
		if (coop)
			e = rd_kafka_incremental_unassign(rk, parts);
		else
			rd_kafka_assign(rk, NULL);
		if (p0 || !coop) {
			snprintf(why, sizeof(why), "partition 0 of %s %s in group %s", l->topic,
				 lost ? "lost (the group's session expired: another member may "
					"hold it now)"
				      : "revoked by a rebalance",
				 l->group);
			set_state(l, BD_LOCK_JOINING, why);
		}
	}
	if (e) {
		bd_warn("instance lock: %s", rd_kafka_error_string(e));
		rd_kafka_error_destroy(e);
	}
}

/* @locality the main loop (served by the consumer poll). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	bd_lock_t *l = opaque;
	(void)bd_kafka_on_error(l->health, rk, err, reason); /* a fatal one: its
	* session ends and the lock moves; the state says so */
}

/* Serves the consumer, then tells the daemon of a change. */
static void lock_poll(bd_lock_t *l)
{
	rd_kafka_message_t *m;
	if (l->stopping)
		return;
	while ((m = rd_kafka_consumer_poll(l->rk, 0))) {
		if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			bd_debug("instance lock: %s", rd_kafka_message_errstr(m));
		rd_kafka_message_destroy(m);
	}
	if (l->state != l->told) {
		l->told = l->state;
		l->cb(l->opaque, l->state, l->why);
	}
}

static void on_queue(uv_poll_t *h, int status, int events)
{
	bd_kafka_waker_t *wk = h->data;
	(void)status;
	(void)events;
	bd_kafka_waker_drain(wk);
	lock_poll(wk->data);
}

static void on_timer(uv_timer_t *t)
{
	lock_poll(t->data);
}

static void lock_free(bd_lock_t *l)
{
	if (l->q)
		rd_kafka_queue_destroy(l->q);
	if (l->rk)
		rd_kafka_destroy(l->rk);
	free(l);
}

int bd_lock_start(const bd_config_t *cfg, const char *bootstrap, uv_loop_t *loop,
		  bd_health_t *health, bd_lock_cb *cb, void *opaque, bd_lock_t **out,
		  char *errstr, size_t errstr_size)
{
	bd_lock_t *l = calloc(1, sizeof(*l));
	rd_kafka_conf_t *conf = NULL;
	rd_kafka_topic_partition_list_t *topics = NULL;
	rd_kafka_resp_err_t kerr;
	int err = BD_EKAFKA;

	if (!l)
		return -ENOMEM;
	l->health = health;
	l->cb = cb;
	l->opaque = opaque;
	snprintf(l->group, sizeof(l->group), "%s%s", cfg->group_id, BD_LOCK_GROUP_SUFFIX);
	snprintf(l->topic, sizeof(l->topic), "%s", cfg->topic[BD_MSG_CONTROL]);
	if (!(conf = bd_kafka_conf_new(cfg, bootstrap, RD_KAFKA_CONSUMER, errstr, errstr_size)))
		goto fail;
	if (bd_kafka_conf_set(conf, "client.id", "budgetd-lock", errstr, errstr_size) ||
	    bd_kafka_conf_set(conf, "group.id", l->group, errstr, errstr_size) ||
	    bd_kafka_conf_set(conf, "partition.assignment.strategy", "cooperative-sticky",
			      errstr, errstr_size) ||
	    bd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
	    bd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) ||
	    bd_kafka_conf_set(conf, "auto.offset.reset", "latest", errstr, errstr_size))
		goto fail;
	rd_kafka_conf_set_rebalance_cb(conf, rebalance_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, l);
	if (!(l->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size)))
		goto fail;
	conf = NULL; /* owned by rk */
	rd_kafka_poll_set_consumer(l->rk);
	l->q = rd_kafka_queue_get_consumer(l->rk);
	topics = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(topics, l->topic, RD_KAFKA_PARTITION_UA);
	kerr = rd_kafka_subscribe(l->rk, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (kerr) {
		snprintf(errstr, errstr_size, "instance lock: subscribe %s: %s", l->topic,
			 rd_kafka_err2str(kerr));
		goto fail;
	}
	l->waker.data = l;
	if ((err = bd_kafka_waker_start(&l->waker, loop, l->q, on_queue))) {
		snprintf(errstr, errstr_size, "instance lock: %s", uv_strerror(err));
		rd_kafka_consumer_close(l->rk);
		goto fail;
	}
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	uv_timer_start(&l->timer, on_timer, LOCK_POLL_MS, LOCK_POLL_MS);
	l->handles = 1;
	bd_info("instance lock: joining group %s (partition 0 of %s)", l->group, l->topic);
	*out = l;
	return 0;
fail:
	if (conf)
		rd_kafka_conf_destroy(conf);
	lock_free(l);
	return err ? err : BD_EKAFKA;
}

bd_lock_state_t bd_lock_state(const bd_lock_t *l)
{
	return l ? l->told : BD_LOCK_JOINING;
}

const char *bd_lock_group(const bd_lock_t *l)
{
	return l->group;
}

uint64_t bd_lock_changes(const bd_lock_t *l)
{
	return l ? l->changes : 0;
}

void bd_lock_stop(bd_lock_t *l)
{
	if (!l || l->stopping)
		return;
	l->stopping = 1;
	/* leaves the group (serving the last revoke): the lock moves now, not
	 * a session later */
	rd_kafka_consumer_close(l->rk);
	if (l->handles) {
		bd_kafka_waker_stop(&l->waker);
		uv_close((uv_handle_t *)&l->timer, NULL);
	}
}

void bd_lock_free(bd_lock_t *l)
{
	if (!l)
		return;
	if (!l->stopping)
		rd_kafka_consumer_close(l->rk);
	lock_free(l);
}
