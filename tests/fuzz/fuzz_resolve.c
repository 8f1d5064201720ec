/* Schema resolution (resolve.c) of a ControlCommand written with an evolved
 * schema: fields reordered, one added, optional ones left out, a promotion,
 * an enum with a symbol budgetd lacks, a union with a branch it lacks.
 * Whatever walks as the writer's body must come out walking as budgetd's
 * own (bd_wire_body_check), or be refused with a reason: never a body the
 * decoder would then misread. */
#include <string.h>

#include "fuzz_common.h"
#include "budgetd/base/common.h"
#include "budgetd/wire/resolve.h"
#include "budgetd/wire/schemas.h"
#include "budgetd/wire/wire.h"

static const char writer_json[] =
	"{\"type\":\"record\",\"name\":\"ControlCommand\",\"namespace\":\"acme\",\"fields\":["
	"{\"name\":\"campaign_id\",\"type\":\"string\"},"
	"{\"name\":\"note\",\"type\":[\"null\",\"string\",{\"type\":\"map\",\"values\":\"long\"}]},"
	"{\"name\":\"command_id\",\"type\":\"string\"},"
	"{\"name\":\"ts_ms\",\"type\":\"int\"},"
	"{\"name\":\"action\",\"type\":{\"type\":\"enum\",\"name\":\"Action\",\"symbols\":"
	"[\"SET_BUDGET\",\"UPSERT_CAMPAIGN\",\"ARCHIVE\",\"PAUSE\"]}},"
	"{\"name\":\"daily_budget\",\"type\":[\"null\",\"float\",\"string\"]},"
	"{\"name\":\"treatments\",\"type\":[\"null\",{\"type\":\"array\",\"items\":{\"type\":\"record\","
	"\"name\":\"Treatment\",\"fields\":[{\"name\":\"name\",\"type\":\"bytes\"},"
	"{\"name\":\"id\",\"type\":\"int\"},{\"name\":\"nominal_cost\",\"type\":\"long\"},"
	"{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}]}}]}]}";

static avro_schema_t writer, reader;
static bd_resolve_t *res;
static bd_buf_t out;

static void done(void)
{
	bd_resolve_free(res);
	bd_buf_free(&out);
	avro_schema_decref(writer);
	avro_schema_decref(reader);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[256];
	if (!res) {
		const char *rj = bd_schemas_get("control_command");
		if (avro_schema_from_json_length(writer_json, strlen(writer_json), &writer) ||
		    avro_schema_from_json_length(rj, strlen(rj), &reader) ||
		    bd_resolve_new(writer, reader, rj, &res, why, sizeof(why)))
			abort();
		atexit(done);
	}
	int err = bd_wire_body_check(writer, data, size, why, sizeof(why));
	if (err && err != BD_EENCODING)
		return 0;
	err = bd_resolve_body(res, data, size, &out, why, sizeof(why));
	if (err == BD_ESCHEMA)
		return 0; /* a symbol or branch budgetd lacks: refused, said why */
	if (err)
		abort();
	err = bd_wire_body_check(reader, out.data, out.len, why, sizeof(why));
	if (err && err != BD_EENCODING)
		abort(); /* resolved, yet not budgetd's layout */
	return 0;
}
