/* wire.c: CRC-64-AVRO, Parsing Canonical Form, framings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/wire/wire.h"

static void test_crc_vectors(void **state)
{
	(void)state;
	/* the Avro specification's test vector */
	assert_int_equal(bd_wire_crc64("\"null\"", 6), 0x63DD24E7CC258F8AULL);
	/* the empty input leaves the initial value */
	assert_int_equal(bd_wire_crc64("", 0), 0xc15d213aa4d7a795ULL);
	assert_true(bd_wire_crc64("\"int\"", 5) != bd_wire_crc64("\"long\"", 6));
}

static void pcf_is(const char *json, const char *want)
{
	avro_schema_t s;
	char *got = NULL;
	if (avro_schema_from_json_length(json, strlen(json), &s) != 0)
		fail_msg("schema does not parse: %s: %s", json, avro_strerror());
	assert_int_equal(bd_wire_canonical_form(s, &got), 0);
	assert_string_equal(got, want);
	free(got);
	avro_schema_decref(s);
}

static void test_canonical_forms(void **state)
{
	(void)state;
	pcf_is("\"null\"", "\"null\"");
	pcf_is("{\"type\": \"int\"}", "\"int\"");
	pcf_is("{\"type\":\"array\",\"items\":\"float\"}",
	       "{\"type\":\"array\",\"items\":\"float\"}");
	pcf_is("{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"long\"}}",
	       "{\"type\":\"map\",\"values\":{\"type\":\"array\",\"items\":\"long\"}}");
	pcf_is("[\"null\",\"string\",\"double\"]", "[\"null\",\"string\",\"double\"]");
	/* docs, defaults, aliases and logical types go; attribute order is fixed;
	 * the namespace joins the name; a nested named type inherits it and is
	 * referenced by full name the second time */
	pcf_is("{\"doc\":\"d\",\"fields\":["
	       "{\"name\":\"a\",\"type\":\"long\",\"default\":1,\"doc\":\"x\"},"
	       "{\"name\":\"t\",\"type\":{\"type\":\"long\",\"logicalType\":\"timestamp-millis\"}},"
	       "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\",\"symbols\":[\"A\",\"B\"]}},"
	       "{\"name\":\"f\",\"type\":{\"type\":\"fixed\",\"name\":\"F\",\"size\":4,\"aliases\":[\"G\"]}},"
	       "{\"name\":\"e2\",\"type\":\"E\"}],"
	       "\"type\":\"record\",\"name\":\"R\",\"namespace\":\"x.y\",\"aliases\":[\"Q\"]}",
	       "{\"name\":\"x.y.R\",\"type\":\"record\",\"fields\":["
	       "{\"name\":\"a\",\"type\":\"long\"},"
	       "{\"name\":\"t\",\"type\":\"long\"},"
	       "{\"name\":\"e\",\"type\":{\"name\":\"x.y.E\",\"type\":\"enum\",\"symbols\":[\"A\",\"B\"]}},"
	       "{\"name\":\"f\",\"type\":{\"name\":\"x.y.F\",\"type\":\"fixed\",\"size\":4}},"
	       "{\"name\":\"e2\",\"type\":\"x.y.E\"}]}");
	/* a dotted name is already full */
	pcf_is("{\"type\":\"record\",\"name\":\"a.b.C\",\"fields\":[]}",
	       "{\"name\":\"a.b.C\",\"type\":\"record\",\"fields\":[]}");
}

static void test_fingerprint_of_null(void **state)
{
	avro_schema_t s = avro_schema_null();
	uint64_t fp = 0;
	(void)state;
	assert_int_equal(bd_wire_fingerprint(s, &fp), 0);
	assert_int_equal(fp, 0x63DD24E7CC258F8AULL);
	avro_schema_decref(s);
}

static void test_headers(void **state)
{
	uint8_t buf[16];
	bd_wire_header_t h;
	char err[256];
	(void)state;

	assert_int_equal(bd_wire_header_write(BD_WIRE_CONFLUENT, 0x01020304, 0, buf), 5);
	assert_memory_equal(buf, "\x00\x01\x02\x03\x04", 5);
	assert_int_equal(bd_wire_header_parse(buf, 5, &h, err, sizeof(err)), 0);
	assert_int_equal(h.format, BD_WIRE_CONFLUENT);
	assert_int_equal(h.schema_id, 0x01020304);
	assert_int_equal(h.body_offset, 5);

	assert_int_equal(bd_wire_header_write(BD_WIRE_SINGLE_OBJECT, 0,
					      0x1122334455667788ULL, buf), 10);
	assert_memory_equal(buf, "\xc3\x01\x88\x77\x66\x55\x44\x33\x22\x11", 10);
	assert_int_equal(bd_wire_header_parse(buf, 12, &h, err, sizeof(err)), 0);
	assert_int_equal(h.format, BD_WIRE_SINGLE_OBJECT);
	assert_int_equal(h.fingerprint, 0x1122334455667788ULL);
	assert_int_equal(h.body_offset, 10);
}

static void parse_fails(const void *buf, size_t len, const char *why)
{
	bd_wire_header_t h;
	char err[256] = "";
	assert_int_equal(bd_wire_header_parse(buf, len, &h, err, sizeof(err)), BD_EWIRE);
	if (!strstr(err, why))
		fail_msg("error '%s' does not say '%s'", err, why);
}

static void test_header_errors(void **state)
{
	(void)state;
	parse_fails("", 0, "empty");
	parse_fails("\x00\x01\x02", 3, "shorter than the 5-byte Confluent header");
	parse_fails("\xc3\x01\x01\x02", 4, "shorter than the 10-byte single-object");
	parse_fails("{\"a\":1}", 7, "wrong magic byte 0x7b");
	parse_fails("\xc3\x02\x00\x00\x00\x00\x00\x00\x00\x00", 10, "0xc3 0x02");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc_vectors),
		cmocka_unit_test(test_canonical_forms),
		cmocka_unit_test(test_fingerprint_of_null),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_header_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
