/*
 * ModelUpdate decoder.  A model that decodes is also applied to a zero
 * feature vector, as the workers do with every request: a shape the decoder
 * lets through but the layers cannot hold shows up as an ASan report here.
 */
#include "fuzz_common.h"

#include <math.h>

#include "budgetd/wire/cluster.h"

static volatile int fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bd_cluster_model_t *m = NULL;
	char errstr[512];
	float *x;

	if (bd_decode_model(fuzz_codec(), data, size, &m, errstr, sizeof(errstr)))
		return 0;
	/* what the decoder promises (messages.h: numbers are finite) */
	for (int j = 0; j < m->dim; j++)
		if (!isfinite(m->mean[j]) || !isfinite(m->scale[j]) || m->scale[j] == 0)
			abort();
	x = calloc((size_t)m->dim, sizeof(*x));
	if (x)
		fuzz_sink = bd_cluster_assign(m, x);
	free(x);
	bd_cluster_model_unref(m);
	return 0;
}
