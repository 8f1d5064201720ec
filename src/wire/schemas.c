#include "budgetd/wire/schemas.h"

#include <string.h>

const char *bd_schemas_get(const char *name)
{
	for (const bd_schema_text_t *s = bd_schemas_embedded; s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s->json;
	return NULL;
}
