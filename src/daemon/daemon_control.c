/* The main thread's Kafka clients: the producer of plans, models and
 * control dead letters, and the control consumer; the control topic read
 * up to its end before the workers start, then each command applied,
 * stored with its id and offset in one batch, and solved at once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "budgetd/base/log.h"
#include "budgetd/base/utf8.h"

#include "daemon_int.h"

static void control_dead_letter(bd_daemon_t *d, const rd_kafka_message_t *m,
				bd_dead_reason_t why, const char *detail)
{
	const char *reason = bd_dead_reason_name(why);
	bd_dead_letter_t dl = {
		.topic = rd_kafka_topic_name(m->rkt), .partition = m->partition,
		.offset = m->offset, .ts_ms = bd_daemon_wall_ms(), .reason = reason,
		.detail = detail, .key = m->key,
		.key_len = bd_dead_keep(why, m->key_len), .payload = m->payload,
		.payload_len = bd_dead_keep(why, m->len),
	};
	d->control_dead[why]++;
	bd_warn("control %d@%lld rejected: %s: %s", m->partition,
		(long long)m->offset, reason, detail);
	if (bd_encode_dead_letter(d->codec, &dl, &d->out) != 0 ||
	    bd_outbox_add(d->outbox, d->batch, BD_OUTBOX_GLOBAL, BD_MSG_DEADLETTER,
			  m->key, dl.key_len, d->out.data, d->out.len) != 0)
		bd_error("cannot dead-letter control %d@%lld", m->partition,
			 (long long)m->offset);
}

/* A command whose id was applied before is ignored (the schema says so:
 * a producer's retry must not apply it twice), dead-lettered as a
 * duplicate and counted.  @returns 1 if @p cmd is new, 0 if it was
 * dead-lettered, <0 on a store error (logged). */
static int command_seen(bd_daemon_t *d, const rd_kafka_message_t *m,
			const bd_control_command_t *cmd)
{
	char errstr[256], q[BD_UTF8_QUOTE_ID], qc[BD_UTF8_QUOTE_ID];
	uint64_t seq = 0;
	int err = bd_cmdids_seen(&d->cmdids, cmd->command_id, &seq);
	if (err < 0) {
		bd_error("control %d@%lld: cannot read the remembered command ids: %s",
			 m->partition, (long long)m->offset, bd_strerror(err));
		return err;
	}
	if (err == 1)
		return 1;
	snprintf(errstr, sizeof(errstr),
		 "command_id '%s' was applied before; ignored (%s %s; command %llu of "
		 "those remembered)",
		 bd_utf8_quote(q, sizeof(q), cmd->command_id), bd_action_name(cmd->action),
		 bd_utf8_quote(qc, sizeof(qc), cmd->campaign_id), (unsigned long long)seq + 1);
	d->n_control_dups++;
	control_dead_letter(d, m, BD_DEAD_DUPLICATE, errstr);
	bd_cmdlog_add(d->cmdlog, cmd->command_id, cmd->campaign_id, bd_action_name(cmd->action),
		      m->offset, cmd->ts_ms, bd_daemon_wall_ms(), BD_CMD_DUPLICATE, errstr);
	return 0;
}

/* The outcome of @p cmd (read from @p m) for its sender: in the command
 * log, served at once (budgetctl waits for it) with every other admin
 * document once the workers run (a command applied is then visible in
 * /api/campaigns and /api/plans when its sender hears of it). */
static void control_outcome(bd_daemon_t *d, const rd_kafka_message_t *m,
			    const bd_control_command_t *cmd, bd_cmd_status_t st,
			    const char *detail)
{
	bd_cmdlog_add(d->cmdlog, cmd->command_id, cmd->campaign_id, bd_action_name(cmd->action),
		      m->offset, cmd->ts_ms, bd_daemon_wall_ms(), st, detail);
	if (d->control_waker.q)
		bd_daemon_admin_refresh(d);
}

/* RETRAIN: a training run started or joined, its outcome the command's
 * (running until it ends, bd_daemon_train_wait), or why none can run. */
static void retrain(bd_daemon_t *d, const bd_control_command_t *cmd, char *detail,
		    size_t size, bd_cmd_status_t *st)
{
	const char *whynot = bd_daemon_train_start(d, "RETRAIN command");
	if (whynot && !d->training) {
		snprintf(detail, size, "not training: %s", whynot);
		*st = BD_CMD_REFUSED;
	} else if (bd_daemon_train_wait(d, cmd->command_id) != 0) {
		snprintf(detail, size, "model %lld is training; too many RETRAIN commands wait "
			 "for it already", (long long)d->train_version);
		*st = BD_CMD_REFUSED;
	} else {
		snprintf(detail, size, "%s model %lld", whynot ? "waits for the run training"
							       : "training",
			 (long long)d->train_version);
		*st = BD_CMD_RUNNING;
	}
}

static void on_control_message(bd_daemon_t *d, rd_kafka_message_t *m)
{
	bd_control_command_t cmd = {0}; /* command_id stays NULL if undecodable */
	bd_campaign_t *c;
	char errstr[512];
	uint8_t rec[sizeof(bd_campaign_t) + 8];
	int err, effect, n_before = d->campaigns.n;
	bd_cmd_status_t st = BD_CMD_APPLIED;
	/* for the log: how long the command took to reach us, and to a plan */
	const int64_t t_in = bd_daemon_wall_ms(), t_sent = rd_kafka_message_timestamp(m, NULL);

	d->n_control_in++;

	if (bd_dead_oversized(m->key_len, m->len, d->cfg->input_max_bytes, errstr,
			      sizeof(errstr))) {
		/* not decoded: see the workers' oversized() */
		err = BD_EINVAL;
		control_dead_letter(d, m, BD_DEAD_OVERSIZED, errstr);
		goto done;
	}
	err = bd_decode_control(d->codec, m->payload, m->len, &cmd, errstr,
				sizeof(errstr));
	if (err) {
		control_dead_letter(d, m, bd_decode_dead_reason(err), errstr);
		if (cmd.command_id) /* decoded, then found invalid */
			control_outcome(d, m, &cmd, BD_CMD_REFUSED, errstr);
		goto done;
	}
	if ((err = command_seen(d, m, &cmd)) != 1) {
		if (err < 0) {
			d->exit_code = 1;
			return;
		}
		err = BD_EDUP;
		goto done;
	}
	err = bd_campaigns_apply(&d->campaigns, &cmd, d->cfg->exploration, &effect,
				 &c, errstr, sizeof(errstr));
	if (err) {
		control_dead_letter(d, m, err == BD_EUNKNOWN ? BD_DEAD_UNKNOWN_CAMPAIGN
							    : BD_DEAD_INVALID, errstr);
		control_outcome(d, m, &cmd, BD_CMD_REFUSED, errstr);
		goto done;
	}
	if (d->campaigns.n != n_before && bd_daemon_solve_plans_sync(d) != 0) {
		bd_error("out of memory");
		d->exit_code = 1;
		return;
	}
	int len = bd_campaign_pack(c, rec, sizeof(rec));
	bd_store_batch_put(d->batch, BD_CF_CAMPAIGNS, c->id, strlen(c->id), rec,
			   (size_t)len);
	/* the id with the effect, in one batch: a replay is exact */
	if (bd_cmdids_remember(&d->cmdids, d->batch, cmd.command_id,
			       d->cfg->control_ids_max) != 0) {
		bd_error("control %d@%lld: cannot read the remembered command ids",
			 m->partition, (long long)m->offset);
		d->exit_code = 1;
		return;
	}
	snprintf(errstr, sizeof(errstr), "budget %.2f, %d treatments, exploration %.3f%s",
		 c->daily_budget, c->n_treatments, c->exploration, c->paused ? ", paused" : "");
	bd_info("control: %s %s (%s)", bd_action_name(cmd.action), c->id, errstr);
	if (effect & BD_EFFECT_RETRAIN)
		retrain(d, &cmd, errstr, sizeof(errstr), &st);
done:
	bd_store_batch_offset(d->batch, rd_kafka_topic_name(m->rkt), m->partition,
			      m->offset + 1);
	if (bd_daemon_write(d) != 0) {
		bd_cmdids_init(&d->cmdids, d->store); /* read back what is stored */
		d->exit_code = 1;
		return;
	}
	if (!err) {
		/* re-solve at once: a budget change takes effect within a
		 * solve, not at the next timer tick */
		int ci = (int)(bd_campaigns_find(&d->campaigns, cmd.campaign_id) -
			       d->campaigns.v);
		/* the workers need the changed campaign even if no plan came */
		if (!bd_daemon_solve_run(d, ci, "control", false))
			bd_daemon_solve_publish(d);
		const int64_t t_out = bd_daemon_wall_ms();
		bd_info("control: %s %s: plan written %lld ms after the command arrived, "
			"%lld ms after it was sent",
			bd_action_name(cmd.action), cmd.campaign_id, (long long)(t_out - t_in),
			t_sent > 0 ? (long long)(t_out - t_sent) : -1LL);
		control_outcome(d, m, &cmd, st, errstr);
	}
}

/* Assigns partition 0 of the control topic at @p offset, its messages to
 * d->control_q (assign points them at the consumer's own queue first).
 * @locality the main loop. */
static int control_assign(bd_daemon_t *d, int64_t offset)
{
	const char *ctopic = d->cfg->topic[BD_MSG_CONTROL];
	rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(tp, ctopic, 0)->offset = offset;
	int err = rd_kafka_assign(d->control, tp) ? BD_EKAFKA : 0;
	rd_kafka_topic_partition_list_destroy(tp);
	if (err)
		return err;
	rd_kafka_queue_t *pq = rd_kafka_queue_get_partition(d->control, ctopic, 0);
	if (pq) {
		rd_kafka_queue_forward(pq, d->control_q);
		rd_kafka_queue_destroy(pq);
	}
	return 0;
}

/* The control offset to read is not on the broker (auto.offset.reset=error,
 * as the workers' offset_lost): said, counted, noted, and the topic read on
 * from the start of its log; control_reset_done tells the range skipped.
 * @locality the main loop. */
static void control_offset_lost(bd_daemon_t *d, const rd_kafka_message_t *m)
{
	const char *topic = d->cfg->topic[BD_MSG_CONTROL];
	int64_t from = m->offset >= 0 ? m->offset : bd_store_offset_get(d->store, topic, 0);
	bd_warn("control topic %s/0: offset %lld is not on the broker (%s); reading on from "
		"the start of its log", topic, (long long)from, rd_kafka_message_errstr(m));
	bd_health_note(d->health, BD_HEALTH_INPUT, "%s/0: offset %lld is not on the broker",
		       topic, (long long)from);
	d->control_resets++;
	if (d->control_reset_from < 0 && from >= 0)
		d->control_reset_from = from;
	if (control_assign(d, RD_KAFKA_OFFSET_BEGINNING))
		bd_error("control topic %s/0: cannot assign it again", topic);
}

/* The first control message after control_offset_lost. */
static void control_reset_done(bd_daemon_t *d, const rd_kafka_message_t *m)
{
	const char *topic = d->cfg->topic[BD_MSG_CONTROL];
	int64_t from = d->control_reset_from;
	d->control_reset_from = -1;
	if (m->offset > from) {
		d->control_skipped += (uint64_t)(m->offset - from);
		bd_error("control topic %s/0: offsets %lld..%lld SKIPPED (%lld offsets): gone from "
			 "the broker before budgetd read them (retention, or a lost log); reading "
			 "on at %lld", topic, (long long)from, (long long)(m->offset - 1),
			 (long long)(m->offset - from), (long long)m->offset);
		bd_health_note(d->health, BD_HEALTH_INPUT,
			       "%s/0: offsets %lld..%lld skipped (gone from the broker)", topic,
			       (long long)from, (long long)(m->offset - 1));
	} else if (m->offset < from) {
		bd_warn("control topic %s/0: the log now ends before offset %lld (truncated or "
			"made anew): reading it again from %lld", topic, (long long)from,
			(long long)m->offset);
		bd_health_note(d->health, BD_HEALTH_INPUT, "%s/0: the log went back from %lld to %lld",
			       topic, (long long)from, (long long)m->offset);
	}
}

/* One message or event of the control queue.  @returns 1 for a command
 * (applied or dead-lettered).  @locality the main loop. */
static int control_consume(bd_daemon_t *d, rd_kafka_message_t *m)
{
	if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
		control_offset_lost(d, m);
		return 0;
	}
	if (m->err) {
		if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
			bd_warn("control consumer: %s", rd_kafka_message_errstr(m));
		return 0;
	}
	if (d->control_reset_from >= 0)
		control_reset_done(d, m);
	on_control_message(d, m);
	return 1;
}

static void on_control(uv_poll_t *h, int status, int events)
{
	bd_kafka_waker_t *wk = h->data;
	bd_daemon_t *d = wk->data;
	rd_kafka_message_t *m;
	bd_kafka_waker_drain(wk);
	while ((m = rd_kafka_consume_queue(d->control_q, 0))) {
		(void)control_consume(d, m);
		rd_kafka_message_destroy(m);
	}
}

static void on_producer(uv_poll_t *h, int status, int events)
{
	bd_kafka_waker_t *wk = h->data;
	bd_kafka_waker_drain(wk);
	rd_kafka_poll(((bd_daemon_t *)wk->data)->producer, 0);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	bd_daemon_t *d = opaque;
	if (m->err)
		bd_health_note(d->health, BD_HEALTH_OUTPUT, "delivery to %s failed: %s",
			       rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
	bd_outbox_on_delivery(d->outbox, m);
}

/* @locality the main loop (served by the producer and control polls). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	bd_daemon_t *d = opaque;
	if (bd_kafka_on_error(d->health, rk, err, reason))
		d->kafka_fatal = 1;
}

/* The control consumer and its queue: every instance reads every command,
 * so it assigns the partition itself (no group).  @returns 0 or negative
 * with @p errstr. */
static int control_consumer_new(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf;
	int err;
	if (!(conf = bd_kafka_conf_new(d->cfg, d->bootstrap, RD_KAFKA_CONSUMER, errstr, errstr_size)))
		return BD_ECONFIG;
	if ((err = bd_kafka_conf_set(conf, "client.id", "budgetd-control", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size)) ||
	    /* a lost offset is reported (control_offset_lost), not skipped */
	    (err = bd_kafka_conf_set(conf, "auto.offset.reset", "error", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_set(conf, "group.id", "budgetd-control-unused", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_default(conf, d->cfg, RD_KAFKA_CONSUMER, "fetch.wait.max.ms", "10", errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return err;
	}
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, d);
	if (!(d->control = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return BD_EKAFKA;
	}
	d->control_q = rd_kafka_queue_new(d->control);
	return d->control_q ? 0 : -ENOMEM;
}

/* The catch-up's last resort against a control partition that stays silent
 * although the broker has its messages: a new consumer, assigned at
 * @p offset.  Seen on the embedded broker under load, after an offset reset
 * (assigning again did not always help) and once at a plain restart.
 * @returns 0 or negative (logged). */
static int control_reconnect(bd_daemon_t *d, int64_t offset)
{
	char errstr[512];
	int err;
	rd_kafka_queue_destroy(d->control_q);
	d->control_q = NULL;
	rd_kafka_consumer_close(d->control);
	rd_kafka_destroy(d->control);
	d->control = NULL;
	if ((err = control_consumer_new(d, errstr, sizeof(errstr))) ||
	    (err = control_assign(d, offset)))
		bd_error("control topic: a new consumer failed: %s",
			 err == BD_EKAFKA && !d->control ? errstr : bd_strerror(err));
	return err;
}

int bd_daemon_control_start(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	rd_kafka_conf_t *conf;
	const char *ctopic = d->cfg->topic[BD_MSG_CONTROL];
	int err;

	/* producer for plans and control dead letters */
	if (!(conf = bd_kafka_conf_new(d->cfg, d->bootstrap, RD_KAFKA_PRODUCER, errstr, errstr_size)))
		return BD_ECONFIG;
	if ((err = bd_kafka_conf_set(conf, "client.id", "budgetd-main", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size)) ||
	    (err = bd_kafka_conf_set(conf, "partitioner", "murmur2_random", errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return err;
	}
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, d);
	if (!(d->producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, errstr_size))) {
		rd_kafka_conf_destroy(conf);
		return BD_EKAFKA;
	}
	/* the first plan after a start must not wait for a metadata refresh */
	const bd_msg_kind_t outs[] = {BD_MSG_PLAN, BD_MSG_MODEL, BD_MSG_DEADLETTER};
	_Static_assert(BD_ARRAY_SIZE(outs) == BD_ARRAY_SIZE(d->out_topics), "one handle each");
	for (size_t i = 0; i < BD_ARRAY_SIZE(outs); i++)
		d->out_topics[i] = bd_kafka_topic_lookup(d->producer, d->cfg->topic[outs[i]], 2000,
							 NULL);
	if ((err = control_consumer_new(d, errstr, errstr_size)))
		return err;
	d->outbox = bd_outbox_new(d->store, d->producer, d->cfg->topic);
	if (!d->outbox)
		return -ENOMEM;
	d->producer_q = rd_kafka_queue_get_main(d->producer);
	int64_t off = bd_store_offset_get(d->store, ctopic, 0);
	if ((err = control_assign(d, off >= 0 ? off : RD_KAFKA_OFFSET_BEGINNING))) {
		snprintf(errstr, errstr_size, "cannot assign %s/0", ctopic);
		return err;
	}
	/* The control waker starts after the catch-up (bd_daemon_control_catch_up):
	 * running during it, it would apply the commands itself and the
	 * catch-up would wait for messages already taken. */
	d->control_waker.data = d->producer_waker.data = d;
	if ((err = bd_kafka_waker_start(&d->producer_waker, &d->loop,
					d->producer_q, on_producer))) {
		snprintf(errstr, errstr_size, "libuv: %s", uv_strerror(err));
		return err;
	}
	return bd_outbox_recover(d->outbox, BD_OUTBOX_GLOBAL);
}

/* Applies the control topic up to its end before any worker starts, so no
 * feature event of a campaign created while we were down is dead-lettered
 * as "unknown campaign". */
int bd_daemon_control_catch_up(bd_daemon_t *d, char *errstr, size_t errstr_size)
{
	const char *topic = d->cfg->topic[BD_MSG_CONTROL];
	int64_t lo = 0, hi = 0, next = bd_store_offset_get(d->store, topic, 0);
	double deadline = (double)bd_daemon_wall_ms() + 60000;
	int n = 0, quiet = 0;

	if (rd_kafka_query_watermark_offsets(d->control, topic, 0, &lo, &hi, 30000)) {
		snprintf(errstr, errstr_size, "cannot read the end of %s/0", topic);
		return BD_EKAFKA;
	}
	if (next < lo)
		next = lo;
	while (next < hi && (double)bd_daemon_wall_ms() < deadline && !d->exit_code) {
		uv_run(&d->loop, UV_RUN_NOWAIT); /* a stop request during start-up */
		if (d->signals)
			return 0;
		rd_kafka_message_t *m = rd_kafka_consume_queue(d->control_q, 500);
		if (!m) {
			/* after an offset reset, a partition assigned again at the
			 * start of its log has been seen to stay silent under load
			 * (the re-assignment racing the reset's error state): assign
			 * it again every 5 s until a message comes, and every 15 s
			 * (with or without a reset) start a new consumer */
			int64_t at = d->control_reset_from >= 0 ? RD_KAFKA_OFFSET_BEGINNING : next;
			if (++quiet % 30 == 0) {
				bd_warn("control topic %s/0: nothing for %d s at offset %lld of %lld; "
					"reading it with a new consumer", topic, quiet / 2,
					(long long)next, (long long)hi);
				if (control_reconnect(d, at))
					break;
			} else if (d->control_reset_from >= 0 && quiet % 10 == 0 &&
				   control_assign(d, at) == 0) {
				bd_info("control topic %s/0: nothing since the offset reset; "
					"assigned again at the start of its log", topic);
			}
			continue;
		}
		quiet = 0;
		if (control_consume(d, m)) {
			next = m->offset + 1;
			n++;
		}
		rd_kafka_message_destroy(m);
	}
	if (next < hi) {
		snprintf(errstr, errstr_size, "control topic %s/0: stuck at offset %lld of %lld",
			 topic, (long long)next, (long long)hi);
		return BD_EKAFKA;
	}
	bd_info("control topic caught up: %d commands applied, offset %lld", n,
		(long long)next);
	if (d->exit_code)
		return BD_ESTORE;
	/* from now on commands arrive through the loop */
	int err = bd_kafka_waker_start(&d->control_waker, &d->loop, d->control_q, on_control);
	if (err)
		snprintf(errstr, errstr_size, "libuv: %s", uv_strerror(err));
	return err;
}
