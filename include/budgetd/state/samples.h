/**
 * @file samples.h
 * @brief The bounded training sample log: one joined (features, treatment,
 *        propensity, outcome) record per outcome, per partition, in order.
 *
 * Key: partition (be16) + sequence (be64).  Each partition keeps at most
 * samples.max records; older ones are dropped with one range delete per
 * batch.  The trainer reads it back with bd_sample_unpack().
 *
 * The header's flags byte: bit 0 explored, bit 1 historical (records
 * written before bit 1 existed read as live samples).
 */
#ifndef BUDGETD_SAMPLES_H
#define BUDGETD_SAMPLES_H

#include <stdbool.h>
#include <stdint.h>

#include "budgetd/base/common.h"

typedef struct bd_sample_s {
	int64_t ts_ms, model_version;
	int32_t treatment, cluster, orders;
	bool explored;
	/** a historical sample (an outcome without a decision id): evidence
	 *  for the cells, never traffic; its statistics live at hour 0 */
	bool historical;
	double propensity, value, cost;
	const char *campaign_id;
	int dim;
	const float *features;
} bd_sample_t;

size_t bd_sample_key(uint8_t *buf, uint16_t partition, uint64_t seq);
/** @returns the packed size or -ENOSPC. */
int bd_sample_pack(const bd_sample_t *s, uint8_t *buf, size_t size);
/**
 * Unpacks.  The campaign id points into @p buf; the features are copied into
 * @p fbuf (at least @p fcap floats), since @p buf gives no alignment.
 */
int bd_sample_unpack(bd_sample_t *s, const uint8_t *buf, size_t len,
		     float *fbuf, int fcap) BD_WUR;

#endif
