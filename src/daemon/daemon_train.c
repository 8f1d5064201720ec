/* Training runs on libuv's thread pool, the carry-over of the workers'
 * statistics to a trained version and its promotion (carry.h),
 * train.on.history, and models stored and published once per version. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/policy/carry.h"
#include "budgetd/base/log.h"

#include "daemon_int.h"

/* @locality libuv's thread pool */
static void train_work(uv_work_t *req)
{
	bd_daemon_t *d = req->data;
	bd_store_thread_init(); /* a pool thread: it rebuilds statistics */
	d->train_err = bd_trainer_run(d->store, &d->train_params, d->train_version,
				      &d->train_res);
}

/* How long the swap waits for partitions no worker holds (a group still
 * settling after a restart; another instance in the group) before it goes
 * ahead: those are carried over when they are assigned. */
#define CARRY_WAIT_NS (60 * 1000000000ULL)

/* The first partition with state that no worker has carried to @p v yet,
 * or -1. */
static int uncarried(const bd_daemon_t *d, int64_t v)
{
	for (int i = 0; i < d->n_carry_parts; i++) {
		int64_t best = -1;
		for (int w = 0; w < d->n_workers; w++) {
			int64_t c = bd_worker_carried(d->workers[w], d->carry_parts[i]);
			best = c > best ? c : best;
		}
		if (best < v)
			return d->carry_parts[i];
	}
	return -1;
}

/* Swaps the trained version in once the workers have carried every
 * partition with state over to it (carry.h): from then on its cells hold
 * the whole day.  @locality the main loop */
void bd_daemon_train_check_carried(bd_daemon_t *d)
{
	bd_cluster_model_t *m = d->next_model;
	int part;

	if (!m || d->stopping)
		return;
	if ((part = uncarried(d, m->version)) >= 0) {
		if (uv_hrtime() - d->carry_t0 < CARRY_WAIT_NS)
			return;
		bd_warn("model %lld: partition %d (and maybe others) not carried over after "
			"%.0f s: no worker holds it; it is carried when it is assigned, and "
			"until then its decisions waiting for outcomes are missing from the "
			"model's statistics", (long long)m->version, part,
			(double)CARRY_WAIT_NS / 1e9);
	}
	bd_info("model %lld promoted: %s; statistics carried over in %.0f ms",
		(long long)m->version, d->next_info,
		(double)(uv_hrtime() - d->carry_t0) / 1e6);
	bd_cluster_model_unref(d->model);
	bd_cluster_model_unref(d->carry);
	d->model = m;
	d->carry = bd_cluster_model_ref(m);
	d->next_model = NULL;
	free(d->carry_parts);
	d->carry_parts = NULL;
	d->n_carry_parts = 0;
	bd_daemon_solve_all(d, "new model", false);
	bd_daemon_solve_publish(d);
}

void bd_daemon_train_on_carried(uv_async_t *a)
{
	bd_daemon_train_check_carried(a->data);
}

/* The outcome of the training run for the RETRAIN commands waiting for it
 * (bd_daemon_train_wait): into the command log, served at once. */
static void train_outcome(bd_daemon_t *d, bd_cmd_status_t st, const char *fmt, ...)
	BD_PRINTF(3, 4);
static void train_outcome(bd_daemon_t *d, bd_cmd_status_t st, const char *fmt, ...)
{
	char detail[320];
	va_list ap;
	if (!d->n_train_cmds)
		return;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	for (int i = 0; i < d->n_train_cmds; i++)
		(void)bd_cmdlog_update(d->cmdlog, d->train_cmds[i], bd_daemon_wall_ms(), st,
				       detail);
	d->n_train_cmds = 0;
	bd_daemon_admin_refresh(d);
}

int bd_daemon_train_wait(bd_daemon_t *d, const char *command_id)
{
	if (d->n_train_cmds == (int)BD_ARRAY_SIZE(d->train_cmds))
		return -1;
	snprintf(d->train_cmds[d->n_train_cmds++], sizeof(d->train_cmds[0]), "%s", command_id);
	return 0;
}

/* @locality the main loop: the trained version is stored and published, then
 * the workers carry their statistics over (carry.h), then it is swapped in */
static void train_done(uv_work_t *req, int status)
{
	bd_daemon_t *d = req->data;
	bd_trainer_result_t *r = &d->train_res;

	d->training = 0;
	bd_cluster_model_unref(d->train_cur);
	d->train_cur = NULL;
	if (status == UV_ECANCELED || d->stopping) {
		train_outcome(d, BD_CMD_REFUSED, "the daemon stopped before model %lld was "
			      "trained", (long long)d->train_version);
		goto out;
	}
	if (d->train_err) {
		bd_error("training failed: %s", bd_strerror(d->train_err));
		train_outcome(d, BD_CMD_REFUSED, "training model %lld failed: %s",
			      (long long)d->train_version, bd_strerror(d->train_err));
		goto out;
	}
	if (!r->accepted) {
		bd_warn("model %lld not promoted: %s (%d samples, %.1f s); version %lld stays",
			(long long)d->train_version, r->why, r->samples, r->seconds,
			(long long)d->model->version);
		train_outcome(d, BD_CMD_REFUSED, "model %lld not promoted: %s (%d samples, "
			      "%.1f s); model %lld stays", (long long)d->train_version, r->why,
			      r->samples, r->seconds, (long long)d->model->version);
		goto out;
	}
	r->model->agreement = r->student.agreement;
	/* stored with the model: after a restart its version is the one whose
	 * statistics the workers keep complete */
	bd_carry_put_target(d->batch, r->model->version);
	if (bd_daemon_train_publish_model(d, r->model, r) != 0) {
		bd_error("model %lld could not be stored; not promoted",
			 (long long)r->model->version);
		train_outcome(d, BD_CMD_REFUSED, "model %lld could not be stored; not promoted",
			      (long long)r->model->version);
		goto out;
	}
	char ope[96] = "";
	if (r->compared)
		snprintf(ope, sizeof(ope), ", plans valued %+.4f per request against the last "
			 "model's (se %.4f)", r->ope.diff, r->ope.se);
	snprintf(d->next_info, sizeof(d->next_info),
		 "%d samples, held-out losses conversion %.4f value %.4f cost %.4f, student "
		 "agreement %.3f, clusters %d..%d users (floor %d, %d re-seeded), %d samples "
		 "in its statistics%s, trained in %.1f s",
		 r->samples, r->rep.holdout_conv, r->rep.holdout_value, r->rep.holdout_cost,
		 r->student.agreement, r->min_cluster, r->max_cluster, r->floor, r->reseeded,
		 r->rebuilt, ope, r->seconds);
	if (r->reseeded)
		bd_info("model %lld: %d small clusters re-seeded from the largest (floor %d "
			"users on the training set)", (long long)r->model->version, r->reseeded,
			r->floor);
	bd_info("model %lld trained (%s); the workers carry the statistics over",
		(long long)r->model->version, d->next_info);
	train_outcome(d, BD_CMD_APPLIED, "model %lld accepted (%d samples, student agreement "
		      "%.3f, trained in %.1f s); it decides once the statistics are carried "
		      "over", (long long)r->model->version, r->samples, r->student.agreement,
		      r->seconds);
	d->next_model = r->model; /* the old version decides until the swap */
	r->model = NULL;
	d->carry_parts = r->parts;
	d->n_carry_parts = r->n_parts;
	r->parts = NULL;
	d->carry_t0 = uv_hrtime();
	bd_daemon_solve_publish(d);
	bd_daemon_train_check_carried(d); /* (nothing to carry: at once) */
out:
	bd_trainer_result_free(r);
}

const char *bd_daemon_train_start(bd_daemon_t *d, const char *why)
{
	const bd_config_t *cfg = d->cfg;
	if (d->training)
		return "a training run is going";
	if (d->stopping)
		return "the daemon is stopping";
	if (!d->active)
		return "this instance stands by (the active instance trains)";
	if (d->next_model) {
		bd_info("not training (%s): model %lld is being carried over", why,
			(long long)d->next_model->version);
		return "the last model trained is still being carried over; try again once "
		       "it is promoted";
	}
	/* a number no run used before, recorded first: a run that wrote
	 * statistics and died never shares its version with the next one */
	d->train_version = bd_carry_next_version(d->store, d->batch, d->model->version);
	if (bd_daemon_write(d) != 0) {
		bd_error("not training (%s): the version number could not be stored", why);
		return "the version number could not be stored";
	}
	d->train_params = (bd_trainer_params_t){
		.k = cfg->clusters, .dim = cfg->features_dim, .epochs = cfg->train_epochs,
		.min_samples = cfg->train_min_samples, .max_samples = cfg->train_max_samples,
		.student_hidden = cfg->train_student_hidden,
		.hidden = cfg->train_hidden, .rep_dim = cfg->train_rep_dim,
		.w_conv = cfg->train_w_conv, .w_value = cfg->train_w_value,
		.w_cost = cfg->train_w_cost, .huber = cfg->train_huber,
		.min_agreement = cfg->train_min_agreement,
		.clip = cfg->train_feature_clip,
		.min_cluster_share = cfg->train_min_cluster_share,
		.min_cluster_users = cfg->train_min_cluster_users,
		/* the seed is the version: runs are reproducible per version */
		.seed = (uint64_t)d->train_version,
		.current = d->train_cur = bd_cluster_model_ref(d->model),
		.promote_z = cfg->train_promote_z,
		.shrinkage = cfg->solve_shrinkage,
	};
	d->train_req.data = d;
	if (uv_queue_work(&d->loop, &d->train_req, train_work, train_done) != 0)
		return "cannot start the training thread";
	d->training = 1;
	d->hist_at_run = d->hist_seen; /* this run trains on them */
	bd_info("training model %lld (%s)", (long long)d->train_version, why);
	return NULL;
}

static void on_train_timer(uv_timer_t *t)
{
	bd_daemon_train_start(t->data, "schedule");
}

void bd_daemon_train_start_timer(bd_daemon_t *d)
{
	bd_daemon_timer_every(&d->train_timer, on_train_timer,
			      (uint64_t)d->cfg->train_interval_s * 1000);
}

/* train.on.history: a log of earlier decisions fed on the outcomes topic
 * (historical samples) is trained on as soon as it has been fed, so that a
 * campaign bootstrapped from it decides with a model from its first
 * request instead of waiting for the schedule.  Trains once at least
 * train.min.samples historical samples arrived since the last run started
 * and none for train.history.quiet.ms (the log is fed, and the workers
 * have written it to the sample log the trainer reads).  The count is the
 * workers' since this start: a log fed before a restart was trained on
 * then, or is left to RETRAIN and the schedule.  @locality the main loop */
void bd_daemon_train_check_history(bd_daemon_t *d)
{
	const bd_config_t *cfg = d->cfg;
	bd_worker_counters_t sum;
	uint64_t now = uv_hrtime();
	char why[96];

	bd_daemon_admin_counters_sum(d, &sum);
	if (sum.historical != d->hist_seen) {
		d->hist_seen = sum.historical;
		d->hist_moved_ns = now;
	}
	if (!cfg->train_on_history || d->training || d->next_model || d->stopping ||
	    d->hist_seen - d->hist_at_run < (uint64_t)cfg->train_min_samples ||
	    now - d->hist_moved_ns < (uint64_t)cfg->train_history_quiet_ms * 1000000ULL)
		return;
	snprintf(why, sizeof(why), "history: %llu historical samples since the last run",
		 (unsigned long long)(d->hist_seen - d->hist_at_run));
	bd_daemon_train_start(d, why);
}

/* Publishes @p m on the models topic once per version: the record in the
 * models column family says it was (outbox: delivered at least once). */
int bd_daemon_train_publish_model(bd_daemon_t *d, const bd_cluster_model_t *m,
				  const bd_trainer_result_t *r)
{
	static const char *const names[] = {
		"samples", "holdout_conversion_loss", "holdout_value_loss", "holdout_cost_loss",
		"epochs", "inertia", "student_train_agreement", "min_cluster", "max_cluster",
		"seconds", "cluster_floor", "reseeded_clusters", "statistics_samples",
	};
	double values[BD_ARRAY_SIZE(names)];
	if (r)
		memcpy(values, (double[]){r->samples, r->rep.holdout_conv, r->rep.holdout_value,
					  r->rep.holdout_cost, r->rep.epochs, r->inertia,
					  r->student.train_agreement, r->min_cluster,
					  r->max_cluster, r->seconds, r->floor, r->reseeded,
					  r->rebuilt},
		       sizeof(values));
	uint8_t key[8];
	char *val = NULL;
	size_t vlen = 0;
	bd_model_layer_msg_t layers[BD_CLUSTER_MAX_LAYERS];
	int err;

	bd_be64(key, (uint64_t)m->version);
	if (bd_store_get(d->store, BD_CF_MODELS, key, sizeof(key), &val, &vlen) == 0) {
		free(val);
		return 0;
	}
	for (int l = 0; l < m->n_layers; l++)
		layers[l] = (bd_model_layer_msg_t){
			m->layer[l].rows, m->layer[l].cols,
			m->layer[l].act == BD_ACT_RELU ? "relu" : "none",
			m->layer[l].w, m->layer[l].b};
	bd_model_msg_t msg = {
		.model_version = m->version, .ts_ms = bd_daemon_wall_ms(), .kind = m->kind,
		.clusters = m->k, .dim = m->dim, .feature_mean = m->mean,
		.feature_scale = m->scale, .n_layers = m->n_layers, .layers = layers,
		.agreement = m->agreement,
		.n_metrics = r ? (int)BD_ARRAY_SIZE(names) : 0,
		.metric_names = names,
		.metric_values = values,
	};
	if ((err = bd_encode_model(d->codec, &msg, &d->out)))
		return err;
	bd_store_batch_put(d->batch, BD_CF_MODELS, key, sizeof(key), d->out.data, d->out.len);
	if ((err = bd_outbox_add(d->outbox, d->batch, BD_OUTBOX_GLOBAL, BD_MSG_MODEL, "model",
				 5, d->out.data, d->out.len)))
		return err;
	bd_info("model %lld (%s, K=%d) published on %s", (long long)m->version, m->kind,
		m->k, d->cfg->topic[BD_MSG_MODEL]);
	d->n_models_out++;
	return bd_daemon_write(d);
}
