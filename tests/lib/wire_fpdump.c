/* Prints "<file>\t<canonical form>\t<fingerprint>" for each schema file,
 * with budgetd's own implementation (compare: tests/lib/wire_fingerprints.py). */
#include <stdio.h>
#include <stdlib.h>

#include "budgetd/wire/wire.h"

int main(int argc, char **argv)
{
	int rc = 0;
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "r");
		char buf[65536], *pcf = NULL;
		size_t n;
		avro_schema_t s;
		uint64_t fp;
		if (!f) {
			perror(argv[i]);
			return 1;
		}
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		if (avro_schema_from_json_length(buf, n, &s) != 0) {
			fprintf(stderr, "%s: %s\n", argv[i], avro_strerror());
			rc = 1;
			continue;
		}
		if (bd_wire_canonical_form(s, &pcf) != 0 || bd_wire_fingerprint(s, &fp) != 0) {
			fprintf(stderr, "%s: no canonical form\n", argv[i]);
			rc = 1;
		} else {
			printf("%s\t%s\t%016llx\n", argv[i], pcf, (unsigned long long)fp);
		}
		free(pcf);
		avro_schema_decref(s);
	}
	return rc;
}
