/*
 * The worker: consume -> decode -> decide or join -> stage state, outputs
 * and offsets in one batch -> write -> produce.
 *
 * Exactly-once state: the batch written at the end of each poll cycle holds
 * the state changes of every message consumed in that cycle together with
 * the next offsets of their partitions; on (re)assignment the consumer is
 * positioned at the stored offsets (stored offset = last processed + 1).
 * Outputs go through the outbox (outbox.h), so an output is never lost
 * between the write and its delivery.
 *
 * This file: the thread, its loop, its Kafka clients, the mailbox, stop
 * and the public API; worker_int.h says where the rest is.
 */
#include "worker_int.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "budgetd/base/log.h"

/* ---- the loop ----------------------------------------------------------------- */

static void fail_stop(bd_worker_t *w);
static void on_again(uv_idle_t *h);

static void drain(bd_worker_t *w)
{
	int n = 0;
	rd_kafka_message_t *m;

	(void)bd_worker_assign_guard(w); /* paused: polls serve callbacks, handle reads nothing */
	while (!w->failed && n < w->cfg->batch_max &&
	       (m = rd_kafka_consumer_poll(w->consumer, 0))) {
		bd_worker_input_handle(w, m);
		rd_kafka_message_destroy(m);
		n++;
	}
	bd_worker_assign_release_holds(w);
	if (bd_worker_batch_flush(w) != 0 || w->failed) {
		fail_stop(w);
		return;
	}
	/* The wake-up fires only when the queue goes from empty to non-empty:
	 * if we stopped early, come back on the next loop iteration.  An idle
	 * handle, not a timer of timeout 0: libuv before 1.48 (Debian 12 has
	 * 1.44) runs such a timer started in its own callback again in the
	 * same pass over the timers (libuv #4245), so a backlog was drained
	 * batch after batch without the loop polling: no flush tick (the
	 * stall guard saw a silent loop and paused reading for 2 s), no
	 * delivery reports.  Idle handles run once per iteration, after the
	 * timers and with the I/O poll made non-blocking. */
	if (n == w->cfg->batch_max && !w->stopping)
		uv_idle_start(&w->again, on_again);
	else
		uv_idle_stop(&w->again);
}

static void on_again(uv_idle_t *h)
{
	drain(h->data);
}

static void on_consumer(uv_poll_t *h, int status, int events)
{
	bd_kafka_waker_t *wk = h->data;
	bd_kafka_waker_drain(wk);
	drain(wk->data);
}

static void on_producer(uv_poll_t *h, int status, int events)
{
	bd_kafka_waker_t *wk = h->data;
	bd_kafka_waker_drain(wk);
	rd_kafka_poll(((bd_worker_t *)wk->data)->producer, 0);
}

/* Consumer lag of each partition we own, from librdkafka's cached high
 * watermarks (no request to the broker). */
static void update_lag(bd_worker_t *w)
{
	for (int in = 0; in < 2; in++)
		for (int p = 0; p < w->lag_n; p++) {
			part_t *pt = p < w->nparts ? &w->parts[p] : NULL;
			int64_t lag = -1, lo, hi;
			if (pt && pt->assigned[in] &&
			    rd_kafka_get_watermark_offsets(
				    w->consumer,
				    w->cfg->topic[in == IN_FEATURES ? BD_MSG_FEATURE
								    : BD_MSG_OUTCOME],
				    p, &lo, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR && hi >= 0) {
				int64_t next = pt->next_off[in] >= 0 ? pt->next_off[in] : lo;
				lag = hi > next ? hi - next : 0;
			}
			atomic_store_explicit(&w->lag[in * w->lag_n + p], lag,
					      memory_order_relaxed);
		}
}

static void on_timer(uv_timer_t *t)
{
	bd_worker_t *w = t->data;
	update_lag(w);
	if (!w->stopping)
		(void)bd_worker_assign_guard(w); /* before the beat: a silent loop shows here */
	/* the loop is alive: this tick ran (see bd_worker_heartbeat) */
	atomic_store_explicit(&w->beat_ns, uv_hrtime(), memory_order_relaxed);
	rd_kafka_poll(w->producer, 0);
	/* An idle consumer must still poll within max.poll.interval.ms, or it
	 * leaves the group (and rejoins, every 5 minutes of quiet): its queue
	 * wakes the loop only when messages come. */
	if (!w->stopping_consumer && !w->failed) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, 0);
		if (m) {
			bd_worker_input_handle(w, m);
			rd_kafka_message_destroy(m);
		}
	}
	if (w->fatal || bd_worker_batch_flush(w) != 0) {
		fail_stop(w);
		return;
	}
	bd_outbox_retry(w->outbox); /* failed deliveries, while idle too */
	bd_worker_assign_release_holds(w);
}

/* ---- client callbacks --------------------------------------------------------- */

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	bd_worker_t *w = opaque;
	if (w->clog && strcmp(rd_kafka_topic_name(m->rkt), w->cfg->topic[BD_MSG_CHANGELOG]) == 0) {
		/* a record lost is counted; its batch's outputs go out without it
		 * (a restore misses the batch) */
		if (m->err) {
			bd_warn("worker %d: changelog record of partition %d lost: %s; its batch's "
				"outputs go out without it", w->id, (int)m->partition,
				rd_kafka_err2str(m->err));
			COUNT(w, c_clog_failures);
		}
		if (!m->err && w->env.clog_end && m->partition >= 0 &&
		    m->partition < w->env.clog_partitions) {
			_Atomic int64_t *end = &w->env.clog_end[m->partition];
			int64_t was = atomic_load(end);
			while (m->offset + 1 > was &&
			       !atomic_compare_exchange_weak(end, &was, m->offset + 1))
				;
		}
		bd_worker_batch_clog_done(w, (uint64_t)(uintptr_t)m->_private, m->err);
		return;
	}
	if (m->err)
		bd_health_note(w->env.health, BD_HEALTH_OUTPUT, "delivery to %s failed: %s",
			       rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
	bd_outbox_on_delivery(w->outbox, m);
}

/* Served on every timer tick (the producer's rd_kafka_poll, the consumer's
 * poll).  @locality the worker's loop. */
static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
	bd_worker_t *w = opaque;
	(void)len;
	bd_kafka_stats_health(w->env.health, rk, json);
	return 0; /* librdkafka frees json */
}

/* @locality the worker's loop (served by its consumer and producer polls). */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	bd_worker_t *w = opaque;
	if (bd_kafka_on_error(w->env.health, rk, err, reason))
		w->fatal = 1;
}

/* ---- mailbox and stop ------------------------------------------------------ */

static void close_all(bd_worker_t *w)
{
	bd_kafka_waker_stop(&w->cons_waker);
	bd_kafka_waker_stop(&w->prod_waker);
	uv_close((uv_handle_t *)&w->timer, NULL);
	uv_close((uv_handle_t *)&w->again, NULL);
	uv_close((uv_handle_t *)&w->mailbox, NULL);
}

static void do_stop(bd_worker_t *w)
{
	if (w->stopping)
		return;
	w->stopping = 1;
	uv_idle_stop(&w->again);
	if (bd_worker_batch_flush(w) != 0)
		w->failed = 1;
	/* close serves the final revoke (bd_worker_assign_rebalance_cb flushes) */
	rd_kafka_consumer_close(w->consumer);
	w->stopping_consumer = 1;
	/* wait for outputs, then record their delivery */
	rd_kafka_flush(w->producer, 10000);
	if (!w->failed && bd_worker_batch_flush(w) != 0)
		w->failed = 1;
	close_all(w);
}

static void fail_stop(bd_worker_t *w)
{
	if (w->stopping)
		return;
	/* Do not close the consumer gracefully: nothing more may be written.
	 * The main thread notices the failed worker and shuts down. */
	w->stopping = 1;
	w->failed = 1;
	close_all(w);
	if (w->env.failed)
		uv_async_send(w->env.failed);
}

static void on_mailbox(uv_async_t *a)
{
	bd_worker_t *w = a->data;
	bd_snapshot_t *snap;
	int stop;

	uv_mutex_lock(&w->mbox_lock);
	snap = w->mbox_snap;
	w->mbox_snap = NULL;
	stop = w->mbox_stop;
	uv_mutex_unlock(&w->mbox_lock);
	if (snap) {
		bd_snapshot_unref(w->snap);
		w->snap = snap;
		if (!w->stopping && bd_worker_batch_carry_all(w) != 0) {
			fail_stop(w);
			return;
		}
	}
	if (!w->stopping && !w->failed)
		(void)bd_worker_assign_guard(w); /* bd_worker_suspend */
	if (stop)
		do_stop(w);
}

void bd_worker_post_snapshot(bd_worker_t *w, bd_snapshot_t *snap)
{
	bd_snapshot_t *old;
	uv_mutex_lock(&w->mbox_lock);
	old = w->mbox_snap;
	w->mbox_snap = bd_snapshot_ref(snap);
	uv_mutex_unlock(&w->mbox_lock);
	bd_snapshot_unref(old);
	uv_async_send(&w->mailbox);
}

void bd_worker_suspend(bd_worker_t *w, int on)
{
	atomic_store_explicit(&w->suspend_req, on != 0, memory_order_relaxed);
	uv_async_send(&w->mailbox);
}

void bd_worker_stop(bd_worker_t *w)
{
	uv_mutex_lock(&w->mbox_lock);
	w->mbox_stop = 1;
	uv_mutex_unlock(&w->mbox_lock);
	uv_async_send(&w->mailbox);
}

/* ---- life cycle -------------------------------------------------------------- */

/* The topics this worker produces to, looked up before its first output:
 * librdkafka holds a message to a topic it has no metadata for until its
 * next metadata refresh (librdkafka #3202), which made each worker's first
 * decision after a start 0.5-0.9 s late.  Overlaps the group join. */
static void warm_outputs(bd_worker_t *w)
{
	const char *topics[] = {w->cfg->topic[BD_MSG_DECISION], w->cfg->topic[BD_MSG_DEADLETTER],
				w->clog ? w->cfg->topic[BD_MSG_CHANGELOG] : NULL};
	_Static_assert(BD_ARRAY_SIZE(topics) == BD_ARRAY_SIZE(w->out_topics), "one handle each");
	for (size_t i = 0; i < BD_ARRAY_SIZE(topics); i++)
		if (topics[i])
			w->out_topics[i] = bd_kafka_topic_lookup(w->producer, topics[i], 2000, NULL);
}

static void run(void *arg)
{
	bd_worker_t *w = arg;
	char name[16];
	/* "top -H", gdb and the watchdog test tell the loops apart by it */
	snprintf(name, sizeof(name), "bd-worker-%d", w->id);
	pthread_setname_np(pthread_self(), name);
	bd_store_thread_init();
	warm_outputs(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
}

static void worker_free(bd_worker_t *w)
{
	free(w->dec_ts);
	free((void *)w->lag);
	free((void *)w->carried_part);
	if (w->consumer)
		rd_kafka_destroy(w->consumer);
	if (w->cons_q)
		rd_kafka_queue_destroy(w->cons_q);
	if (w->prod_q)
		rd_kafka_queue_destroy(w->prod_q);
	for (size_t i = 0; i < BD_ARRAY_SIZE(w->out_topics); i++)
		if (w->out_topics[i])
			rd_kafka_topic_destroy(w->out_topics[i]);
	if (w->producer)
		rd_kafka_destroy(w->producer);
	bd_outbox_free(w->outbox);
	bd_codec_free(w->codec);
	bd_store_batch_destroy(w->batch);
	bd_clog_rec_free(w->clog);
	free(w->gates);
	bd_buf_free(&w->clog_buf);
	bd_stats_delta_free(w->delta);
	bd_clock_marks_free(&w->clock_marks);
	bd_snapshot_unref(w->snap);
	bd_snapshot_unref(w->mbox_snap);
	bd_buf_free(&w->out);
	bd_worker_batch_pend_clear(w);
	free(w->pend);
	free(w->parts);
	uv_mutex_destroy(&w->mbox_lock);
	free(w);
}

static rd_kafka_t *make_client(bd_worker_t *w, rd_kafka_type_t type,
			       char *errstr, size_t errstr_size)
{
	const bd_config_t *cfg = w->cfg;
	rd_kafka_conf_t *conf = bd_kafka_conf_new(cfg, w->env.bootstrap, type, errstr,
						  errstr_size);
	char cid[64];
	rd_kafka_t *rk;

	if (!conf)
		return NULL;
	snprintf(cid, sizeof(cid), "budgetd-w%d", w->id);
	if (bd_kafka_conf_set(conf, "client.id", cid, errstr, errstr_size))
		goto fail;
	if (type == RD_KAFKA_CONSUMER) {
		/* Offsets live in RocksDB with the state; Kafka's committed
		 * offsets are not used.  Range assignment keeps partition p of
		 * features and outcomes on the same consumer. */
		if (bd_kafka_conf_set(conf, "group.id", cfg->group_id, errstr, errstr_size) ||
		    bd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, errstr_size) ||
		    bd_kafka_conf_set(conf, "enable.auto.offset.store", "false", errstr, errstr_size) ||
		    /* an offset the broker no longer has is reported to us
		     * (bd_worker_assign_offset_lost), never skipped by librdkafka alone */
		    bd_kafka_conf_set(conf, "auto.offset.reset", "error", errstr, errstr_size) ||
		    bd_kafka_conf_set(conf, "partition.assignment.strategy", "range", errstr, errstr_size) ||
		    /* decisions are online: do not let an idle fetch sit for
		     * librdkafka's default 500 ms */
		    bd_kafka_conf_default(conf, cfg, type, "fetch.wait.max.ms", "5", errstr, errstr_size) ||
		    /* the consumer needs every input partition's leader all the
		     * time, so its statistics show a lost broker even when no
		     * output goes to it (served by the consumer polls) */
		    bd_kafka_conf_default(conf, cfg, type, "statistics.interval.ms", "1000", errstr,
					  errstr_size))
			goto fail;
		rd_kafka_conf_set_stats_cb(conf, stats_cb);
		rd_kafka_conf_set_rebalance_cb(conf, bd_worker_assign_rebalance_cb);
		rd_kafka_conf_set_offset_commit_cb(conf, bd_worker_assign_commit_cb);
	} else {
		if (bd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, errstr_size) ||
		    bd_kafka_conf_set(conf, "partitioner", "murmur2_random", errstr, errstr_size) ||
		    bd_kafka_conf_default(conf, cfg, type, "linger.ms", "1", errstr, errstr_size) ||
		    bd_kafka_conf_default(conf, cfg, type, "statistics.interval.ms", "1000", errstr,
					  errstr_size))
			goto fail;
		rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
		rd_kafka_conf_set_stats_cb(conf, stats_cb);
	}
	rd_kafka_conf_set_error_cb(conf, error_cb);
	rd_kafka_conf_set_opaque(conf, w);
	rk = rd_kafka_new(type, conf, errstr, errstr_size);
	if (!rk)
		goto fail;
	return rk; /* conf now owned by rk */
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* The per-partition lag and carried-partition slots, all "unknown" (-1).
 * @returns 0 or -ENOMEM. */
static int worker_new_slots(bd_worker_t *w)
{
	if (!(w->lag = malloc(sizeof(*w->lag) * 2 * (size_t)w->lag_n)))
		return -ENOMEM;
	for (int i = 0; i < 2 * w->lag_n; i++)
		atomic_init(&w->lag[i], -1);
	if (!(w->carried_part = malloc(sizeof(*w->carried_part) * (size_t)w->lag_n)))
		return -ENOMEM;
	for (int i = 0; i < w->lag_n; i++)
		atomic_init(&w->carried_part[i], -1);
	return 0;
}

/* The codec, the store batch and statistics delta, the Kafka clients and
 * the outbox.  @returns 0 or negative (worker_free releases what was made). */
static int worker_new_parts(bd_worker_t *w, const bd_worker_env_t *env, char *errstr,
			    size_t errstr_size)
{
	int err;
	if ((err = bd_codec_new(env->schema_id,
				bd_config_output_format(env->cfg), &w->codec,
				errstr, errstr_size)))
		return err;
	bd_codec_set_registry(w->codec, env->registry);
	if (!(w->batch = bd_store_batch_new(env->store)) ||
	    !(w->delta = bd_stats_delta_new()))
		return -ENOMEM;
	if (env->clog_partitions > 0) {
		char host[64] = "";
		if (!(w->clog = bd_clog_rec_new(env->clog_partitions)))
			return -ENOMEM;
		bd_clog_rec_attach(w->clog, w->batch);
		gethostname(host, sizeof(host) - 1);
		snprintf(w->clog_instance, sizeof(w->clog_instance), "%s:%ld", host,
			 (long)getpid());
	}
	if (!(w->producer = make_client(w, RD_KAFKA_PRODUCER, errstr, errstr_size)) ||
	    !(w->consumer = make_client(w, RD_KAFKA_CONSUMER, errstr, errstr_size)))
		return BD_EKAFKA;
	if (!(w->outbox = bd_outbox_new(env->store, w->producer,
					env->cfg->topic)))
		return -ENOMEM;
	return 0;
}

/* The stall guard (bd_worker_assign_guard): half a session silent is suspect; the
 * group answers within two heartbeats (librdkafka also checks its
 * session at least once a second) */
static void worker_stall_limits(bd_worker_t *w)
{
	w->stall_limit_ns = (uint64_t)bd_kafka_conf_ms(w->consumer, "session.timeout.ms", 45000) *
			    1000000 / 2;
	w->stall_confirm_ns = (uint64_t)bd_kafka_conf_ms(w->consumer, "heartbeat.interval.ms",
							  3000) * 2 * 1000000;
	if (w->stall_confirm_ns < 2000000000ull)
		w->stall_confirm_ns = 2000000000ull;
}

/* The worker's loop: the Kafka queues' wakers, the flush timer and the
 * mailbox.  @returns 0 or negative with @p errstr where the loop has handles
 * (the caller releases them on a later failure). */
static int worker_loop_init(bd_worker_t *w, char *errstr, size_t errstr_size)
{
	int err;
	rd_kafka_poll_set_consumer(w->consumer);
	w->cons_q = rd_kafka_queue_get_consumer(w->consumer);
	w->prod_q = rd_kafka_queue_get_main(w->producer);
	if ((err = uv_loop_init(&w->loop)))
		return err;
	w->cons_waker.data = w->prod_waker.data = w;
	if ((err = bd_kafka_waker_start(&w->cons_waker, &w->loop, w->cons_q,
					on_consumer)) ||
	    (err = bd_kafka_waker_start(&w->prod_waker, &w->loop, w->prod_q,
					on_producer))) {
		snprintf(errstr, errstr_size, "worker %d: %s", w->id, uv_strerror(err));
		return err;
	}
	uv_timer_init(&w->loop, &w->timer);
	uv_idle_init(&w->loop, &w->again);
	w->timer.data = w->again.data = w;
	uv_async_init(&w->loop, &w->mailbox, on_mailbox);
	w->mailbox.data = w;
	atomic_store_explicit(&w->beat_ns, uv_hrtime(), memory_order_relaxed);
	uv_timer_start(&w->timer, on_timer, (uint64_t)w->cfg->flush_interval_ms,
		       (uint64_t)w->cfg->flush_interval_ms);
	return 0;
}

/* Joins the group on the feature and outcome topics.  @returns 0 or
 * BD_EKAFKA with @p errstr. */
static int worker_subscribe(bd_worker_t *w, char *errstr, size_t errstr_size)
{
	rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
	rd_kafka_topic_partition_list_add(topics, w->cfg->topic[BD_MSG_FEATURE],
					  RD_KAFKA_PARTITION_UA);
	rd_kafka_topic_partition_list_add(topics, w->cfg->topic[BD_MSG_OUTCOME],
					  RD_KAFKA_PARTITION_UA);
	rd_kafka_resp_err_t kerr = rd_kafka_subscribe(w->consumer, topics);
	rd_kafka_topic_partition_list_destroy(topics);
	if (kerr) {
		snprintf(errstr, errstr_size, "subscribe: %s", rd_kafka_err2str(kerr));
		return BD_EKAFKA;
	}
	return 0;
}

int bd_worker_start(int id, const bd_worker_env_t *env, bd_snapshot_t *snap,
		    bd_worker_t **out, char *errstr, size_t errstr_size)
{
	bd_worker_t *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	w->id = id;
	w->env = *env;
	w->cfg = env->cfg;
	bd_clock_rule_from_config(&w->clock_rule, env->cfg);
	w->snap = bd_snapshot_ref(snap);
	uv_mutex_init(&w->mbox_lock);
	w->lag_n = env->cfg->topic_partitions;
	if ((err = worker_new_slots(w)) || (err = worker_new_parts(w, env, errstr, errstr_size)))
		goto fail;
	worker_stall_limits(w);
	if ((err = worker_loop_init(w, errstr, errstr_size)))
		goto fail;
	if ((err = worker_subscribe(w, errstr, errstr_size)))
		goto fail_loop;
	if ((err = uv_thread_create(&w->thread, run, w))) {
		snprintf(errstr, errstr_size, "thread: %s", uv_strerror(err));
		goto fail_loop;
	}
	*out = w;
	return 0;
fail_loop:
	close_all(w);
	uv_run(&w->loop, UV_RUN_DEFAULT);
	uv_loop_close(&w->loop);
fail:
	if (!errstr[0])
		snprintf(errstr, errstr_size, "worker %d: %s", id, bd_strerror(err));
	worker_free(w);
	return err;
}

int bd_worker_join(bd_worker_t *w, bd_worker_counters_t *final)
{
	uv_thread_join(&w->thread);
	uv_loop_close(&w->loop);
	if (final)
		bd_worker_counters(w, final);
	int failed = w->failed != 0; /* the thread has ended: no race */
	worker_free(w);
	return failed;
}

int64_t bd_worker_carried(const bd_worker_t *w, int partition)
{
	if (partition < 0 || partition >= w->lag_n)
		return -1;
	return atomic_load_explicit(&((bd_worker_t *)w)->carried_part[partition],
				    memory_order_relaxed);
}

uint64_t bd_worker_heartbeat(const bd_worker_t *w)
{
	return atomic_load_explicit(&((bd_worker_t *)w)->beat_ns, memory_order_relaxed);
}

int bd_worker_assigned(const bd_worker_t *w)
{
	return atomic_load_explicit(&((bd_worker_t *)w)->holding, memory_order_relaxed);
}

int bd_worker_owns(const bd_worker_t *w, int input, int partition)
{
	if (input < 0 || input > 1 || partition < 0 || partition >= BD_WORKER_MAX_PARTITIONS)
		return 0;
	uint64_t v = atomic_load_explicit(&((bd_worker_t *)w)->owned[input][partition / 64],
					  memory_order_relaxed);
	return (int)((v >> (partition % 64)) & 1);
}

void bd_worker_counters(const bd_worker_t *w, bd_worker_counters_t *c)
{
	bd_worker_t *m = (bd_worker_t *)w;
	c->features = atomic_load_explicit(&m->c_features, memory_order_relaxed);
	c->outcomes = atomic_load_explicit(&m->c_outcomes, memory_order_relaxed);
	c->historical = atomic_load_explicit(&m->c_historical, memory_order_relaxed);
	c->decisions = atomic_load_explicit(&m->c_decisions, memory_order_relaxed);
	c->republished = atomic_load_explicit(&m->c_republished, memory_order_relaxed);
	c->dead_letters = atomic_load_explicit(&m->c_dead, memory_order_relaxed);
	c->batches = atomic_load_explicit(&m->c_batches, memory_order_relaxed);
	c->duplicates = atomic_load_explicit(&m->c_dups, memory_order_relaxed);
	c->winsorized = atomic_load_explicit(&m->c_winsorized, memory_order_relaxed);
	c->clog_records = atomic_load_explicit(&m->c_clog_records, memory_order_relaxed);
	c->clog_bytes = atomic_load_explicit(&m->c_clog_bytes, memory_order_relaxed);
	c->clog_failures = atomic_load_explicit(&m->c_clog_failures, memory_order_relaxed);
	for (int r = 0; r < BD_DEAD__COUNT; r++)
		c->dead[r] = atomic_load_explicit(&m->c_dead_by[r], memory_order_relaxed);
	for (int in = 0; in < 2; in++) {
		c->input_resets[in] = atomic_load_explicit(&m->c_resets[in], memory_order_relaxed);
		c->input_skipped[in] = atomic_load_explicit(&m->c_skipped[in], memory_order_relaxed);
	}
}

void bd_worker_latency(const bd_worker_t *w, bd_histo_snap_t *snap)
{
	bd_histo_add_to(&w->lat, snap);
}

int64_t bd_worker_lag(const bd_worker_t *w, int input, int partition)
{
	if (input < 0 || input > 1 || partition < 0 || partition >= w->lag_n)
		return -1;
	return atomic_load_explicit(&((bd_worker_t *)w)->lag[input * w->lag_n + partition],
				    memory_order_relaxed);
}
