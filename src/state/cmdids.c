#include "budgetd/state/cmdids.h"

#include <stdlib.h>
#include <string.h>

#define ID_KEY_MAX (4 + 1024)

static size_t id_key(uint8_t *k, const char *id)
{
	size_t n = strnlen(id, ID_KEY_MAX - 4);
	memcpy(k, "cmdi", 4);
	memcpy(k + 4, id, n);
	return 4 + n;
}

static size_t seq_key(uint8_t *k, uint64_t seq)
{
	memcpy(k, "cmds", 4);
	bd_be64(k + 4, seq);
	return 12;
}

void bd_cmdids_init(bd_cmdids_t *ids, bd_store_t *st)
{
	memset(ids, 0, sizeof(*ids));
	ids->st = st;
}

static int load(bd_cmdids_t *ids)
{
	char *v = NULL;
	size_t vlen = 0;
	int err;

	if (ids->loaded)
		return 0;
	err = bd_store_get(ids->st, BD_CF_META, "cmdq", 4, &v, &vlen);
	if (err < 0)
		return err;
	ids->oldest = ids->next = 0;
	if (err == 0 && vlen == 16) {
		ids->oldest = bd_rd_be64((uint8_t *)v);
		ids->next = bd_rd_be64((uint8_t *)v + 8);
	}
	free(v);
	ids->loaded = 1;
	return 0;
}

int bd_cmdids_seen(bd_cmdids_t *ids, const char *id, uint64_t *seq)
{
	uint8_t k[ID_KEY_MAX];
	char *v = NULL;
	size_t vlen = 0;
	int err = bd_store_get(ids->st, BD_CF_META, k, id_key(k, id), &v, &vlen);
	if (err)
		return err;
	if (seq)
		*seq = vlen == 8 ? bd_rd_be64((uint8_t *)v) : 0;
	free(v);
	return 0;
}

/* Stages the deletes that forget the id of sequence number @p seq. */
static int forget(bd_cmdids_t *ids, bd_store_batch_t *b, uint64_t seq)
{
	uint8_t sk[12], k[ID_KEY_MAX];
	char *v = NULL;
	size_t vlen = 0;
	int err = bd_store_get(ids->st, BD_CF_META, sk, seq_key(sk, seq), &v, &vlen);
	if (err < 0)
		return err;
	if (err == 0) {
		size_t n = vlen < ID_KEY_MAX - 4 ? vlen : ID_KEY_MAX - 4;
		memcpy(k, "cmdi", 4);
		memcpy(k + 4, v, n);
		bd_store_batch_delete(b, BD_CF_META, k, 4 + n);
		bd_store_batch_delete(b, BD_CF_META, sk, 12);
		free(v);
	}
	return 0;
}

int bd_cmdids_remember(bd_cmdids_t *ids, bd_store_batch_t *b, const char *id, int max)
{
	uint8_t k[ID_KEY_MAX], sk[12], q[16], seq[8];
	uint64_t oldest;
	int err;

	if ((err = load(ids)))
		return err;
	/* the deletes first: reads see only written batches, so an id
	 * forgotten and remembered again in this batch ends up remembered */
	for (oldest = ids->oldest; ids->next + 1 - oldest > (uint64_t)(max > 0 ? max : 1);
	     oldest++)
		if ((err = forget(ids, b, oldest)))
			return err;
	bd_be64(seq, ids->next);
	bd_store_batch_put(b, BD_CF_META, k, id_key(k, id), seq, 8);
	bd_store_batch_put(b, BD_CF_META, sk, seq_key(sk, ids->next), id, strlen(id));
	ids->oldest = oldest;
	ids->next++;
	bd_be64(q, ids->oldest);
	bd_be64(q + 8, ids->next);
	bd_store_batch_put(b, BD_CF_META, "cmdq", 4, q, 16);
	return 0;
}
