"""Prints "<file>\t<canonical form>\t<fingerprint>" for each schema file with
Apache's python avro library (its canonical_form) and an independent
CRC-64-AVRO.  Run with /usr/bin/python3 (Debian python3-avro)."""
import sys

import avro.schema

TABLE = []
for i in range(256):
    fp = i
    for _ in range(8):
        fp = (fp >> 1) ^ (0xC15D213AA4D7A795 & -(fp & 1))
    TABLE.append(fp & 0xFFFFFFFFFFFFFFFF)


def crc64(data):
    fp = 0xC15D213AA4D7A795
    for b in data:
        fp = (fp >> 8) ^ TABLE[(fp ^ b) & 0xFF]
    return fp


assert crc64(b'"null"') == 0x63DD24E7CC258F8A
for path in sys.argv[1:]:
    pcf = avro.schema.parse(open(path).read()).canonical_form
    print("%s\t%s\t%016x" % (path, pcf, crc64(pcf.encode())))
