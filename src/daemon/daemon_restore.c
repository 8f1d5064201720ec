/*
 * The restore from the changelog when this instance takes the instance
 * lock (daemon_int.h, bd_daemon_restore_run).
 *
 * Why: a standby that takes over must not decide from its own stale
 * offsets: it would decide again, perhaps with another treatment, every
 * request the last holder decided since, and pace a budget whose spend it
 * does not know.  The last holder's worker batches are in topic.changelog
 * (changelog.enabled); this instance applies what its store lacks before
 * its workers read any input, and they start from the input offsets the
 * restored state holds.
 *
 * What the store lacks, per partition p: the records after its position
 * (bd_clog_position_get: the changelog offset up to which it holds every
 * record, set when it was last restored, built or stopped cleanly) that
 * are not of a batch it holds (its stamp of p: the last batch it wrote or
 * applied, kept with the batch itself, so a checkpoint is exact too) and
 * not a zombie's (an epoch below the fence).
 * The position and a new owner epoch are written after the last partition,
 * so a restore cut short is made again wholly the next time.  A store with
 * state of a partition but no position (it decided before it had one) is
 * refused when the changelog holds records of that partition: nothing says
 * which of them it holds.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budgetd/base/log.h"
#include "budgetd/daemon/clog_apply.h"
#include "budgetd/daemon/notify.h"
#include "budgetd/policy/carry.h"
#include "budgetd/state/changelog.h"

#include "daemon_int.h"

/* Whether the store holds input offsets of partition @p p. */
static bool has_offsets(bd_daemon_t *d, int p)
{
	return bd_store_offset_get(d->store, d->cfg->topic[BD_MSG_FEATURE], p) >= 0 ||
	       bd_store_offset_get(d->store, d->cfg->topic[BD_MSG_OUTCOME], p) >= 0;
}

/* Partition @p p from the store's position; *@p end the offset reached,
 * *@p fence the highest epoch applied (records below it are a zombie's). */
static int restore_partition(bd_daemon_t *d, bd_clog_applier_t *a, int p, int64_t own,
			     int64_t *fence, int64_t *end, char *errstr, size_t errstr_size)
{
	int64_t from = bd_clog_position_get(d->store, (uint16_t)p);
	if (from < 0 && has_offsets(d, p)) {
		/* decided here before positions existed: which records it holds
		 * is not known, unless the log has none */
		int64_t lo, hi;
		int err = bd_clog_applier_watermarks(a, p, &lo, &hi, errstr, errstr_size);
		*end = hi;
		if (err || hi <= lo)
			return err;
		snprintf(errstr, errstr_size,
			 "%s/%d holds records (offsets %lld to %lld) and this store holds state "
			 "of partition %d but no changelog position (it decided before it had "
			 "one): which records it holds is not known; start on an empty state.dir "
			 "(it is restored from the changelog) or on one built by --apply-changelog",
			 d->cfg->topic[BD_MSG_CHANGELOG], p, (long long)lo, (long long)hi, p);
		return BD_EINVAL;
	}
	bd_clog_stamp_t held = bd_clog_stamp_get(d->store, (uint16_t)p);
	*fence = bd_clog_fence_get(d->store, (uint16_t)p);
	if (*fence < own)
		*fence = own;
	if (*fence < held.epoch)
		*fence = held.epoch;
	return bd_clog_applier_partition(a, p, from < 0 ? 0 : from, &held, fence, end, errstr,
					 errstr_size);
}

/* The position of every partition, the new epoch and the model versions
 * the restored cells use, in one batch.  @returns 0 or an error. */
static int restore_mark(bd_daemon_t *d, const int64_t *end, const int64_t *fence,
			int nparts, int64_t epoch, int64_t max_version, char *errstr,
			size_t errstr_size)
{
	bd_store_batch_t *b = bd_store_batch_new(d->store);
	int err;
	if (!b) {
		snprintf(errstr, errstr_size, "out of memory");
		return BD_ESTORE;
	}
	for (int p = 0; p < nparts; p++) {
		bd_clog_position_put(b, (uint16_t)p, end[p]);
		bd_clog_fence_put(b, (uint16_t)p, fence[p]);
	}
	bd_clog_epoch_put(b, epoch);
	if (max_version > 0)
		bd_carry_reserve_version(d->store, b, max_version);
	err = bd_store_batch_write(d->store, b, errstr, errstr_size);
	bd_store_batch_destroy(b);
	return err;
}

/* The log line and the counters of a restore. */
static void restore_tell(bd_daemon_t *d, const bd_clog_tally_t *t, int nparts, double s)
{
	bd_daemon_restore_t *r = &d->restore;
	r->runs++;
	r->records += (uint64_t)t->records;
	r->batches += (uint64_t)t->batches;
	r->skipped += (uint64_t)t->skipped;
	r->incomplete += (uint64_t)t->incomplete;
	r->fenced += (uint64_t)t->fenced;
	r->last_seconds = s;
	bd_info("restored from %s in %.2f s: %d partitions, %ld records read, %ld batches "
		"applied (%ld operations), %ld records of batches held already, %ld records of a fenced "
		"epoch and %ld batches cut short not applied; owner epoch %lld",
		d->cfg->topic[BD_MSG_CHANGELOG], s, nparts, t->records, t->batches, t->ops,
		t->skipped, t->fenced, t->incomplete, (long long)r->epoch);
	r->newer_model = 0;
	if (t->max_model_version > d->model->version) {
		r->newer_model = t->max_model_version;
		bd_warn("the restored statistics hold cells of model %lld, newer than the model "
			"this instance decides with (%lld): models are not restored from the "
			"changelog; it decides with its own and trains one from the restored "
			"samples now", (long long)t->max_model_version,
			(long long)d->model->version);
	}
}

int bd_daemon_restore_run(bd_daemon_t *d, int nparts, int64_t *epoch, char *errstr,
			  size_t errstr_size)
{
	int64_t own = bd_clog_epoch_get(d->store), *end = calloc((size_t)nparts * 2, sizeof(*end));
	int64_t *fence = end ? end + nparts : NULL;
	uint64_t t0 = uv_hrtime();
	bd_clog_applier_t *a = NULL;
	int err = BD_ESTORE;

	if (!end) {
		snprintf(errstr, errstr_size, "out of memory");
		goto out;
	}
	err = BD_EKAFKA;
	if (!(a = bd_clog_applier_new(d->cfg, d->codec, d->store, errstr, errstr_size)))
		goto out;
	for (int p = 0; p < nparts; p++) {
		bd_notify_status("restoring state from %s: partition %d of %d",
				 d->cfg->topic[BD_MSG_CHANGELOG], p + 1, nparts);
		if ((err = restore_partition(d, a, p, own, &fence[p], &end[p], errstr,
					     errstr_size)))
			goto out;
	}
	/* above every epoch this store wrote and every epoch read: the
	 * host's clock when it took the lock, or one more */
	const bd_clog_tally_t *t = bd_clog_applier_tally(a);
	*epoch = bd_daemon_wall_ms();
	if (*epoch <= own)
		*epoch = own + 1;
	if (*epoch <= t->max_epoch) /* another host's clock ahead of this one's */
		*epoch = t->max_epoch + 1;
	if ((err = restore_mark(d, end, fence, nparts, *epoch, t->max_model_version, errstr,
				errstr_size)) ||
	    (err = bd_clocks_load(&d->clocks, d->store)))
		goto out;
	d->restore.epoch = *epoch;
	free((void *)d->restore.end);
	if (!(d->restore.end = calloc((size_t)nparts, sizeof(*d->restore.end)))) {
		err = -ENOMEM;
		goto out;
	}
	for (int p = 0; p < nparts; p++)
		atomic_store(&d->restore.end[p], end[p]);
	d->restore.nparts = nparts;
	d->restore.failures_at = d->joined.clog_failures;
	restore_tell(d, t, nparts, (double)(uv_hrtime() - t0) / 1e9);
out:
	if (err && !errstr[0])
		snprintf(errstr, errstr_size, "%s", bd_strerror(err));
	bd_clog_applier_free(a);
	free(end);
	return err;
}

void bd_daemon_restore_stopped(bd_daemon_t *d)
{
	char errstr[256];

	if (!d->active || !d->restore.nparts || !d->restore.end)
		return;
	if (d->joined.clog_failures != d->restore.failures_at) {
		bd_warn("changelog records were lost while this instance decided: its position "
			"stays where the restore left it");
		return;
	}
	/* the logs' ends as this instance knows them: nobody else wrote since
	 * it took the lock (a zombie's records after them are fenced anyway),
	 * and asking the brokers could wait on a broker that is gone */
	bd_store_batch_t *b = bd_store_batch_new(d->store);
	if (!b)
		return;
	for (int p = 0; p < d->restore.nparts; p++)
		bd_clog_position_put(b, (uint16_t)p, atomic_load(&d->restore.end[p]));
	if (bd_store_batch_write(d->store, b, errstr, sizeof(errstr)) == 0)
		bd_info("changelog position moved to the end of %s: a restart reads nothing back",
			d->cfg->topic[BD_MSG_CHANGELOG]);
	bd_store_batch_destroy(b);
}
