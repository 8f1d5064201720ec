"""it_memory: the memory gauges exist and move.

budgetd_memory_bytes (the process' RSS, RocksDB's memtables over every
column family, block cache, table readers) and the memtable of each column
family.  3 000 undecodable messages become 3 000 dead letters, each a put
and a delete in the outbox column family: its memtable (bounded to 4 MiB)
grows, and so does the total, which budgetd_rocksdb_memtables_bytes'
cur-size-all-mem-tables now also sums over every family (it used to read
the default family only and stayed flat).
"""

from bdclient import *  # noqa: F401,F403

N = 3000


def need(m, key):
    check(key in m, "no sample %s in /metrics" % key)
    return m[key]


broker = start_broker()
state = tmpdir("memory")
d = start_daemon(broker.bootstrap, state)
passed = False
try:
    url = admin_url(d)
    wait_log(d, r"ready: every worker holds its partitions", 40)
    time.sleep(1.5)
    m0 = metrics(url)
    rss0 = need(m0, 'budgetd_memory_bytes{what="rss"}')
    mt0 = need(m0, 'budgetd_memory_bytes{what="rocksdb_memtables"}')
    ob0 = need(m0, 'budgetd_rocksdb_memtable_bytes{cf="outbox"}')
    for k in ("rocksdb_block_cache", "rocksdb_table_readers"):
        check(need(m0, 'budgetd_memory_bytes{what="%s"}' % k) >= 0, k)
    check(rss0 > 1e6, "RSS %.0f bytes" % rss0)
    p = producer(broker.bootstrap)
    for i in range(N):
        produce(p, "feature_event", b"u%d" % i, b"\x07" + b"x" * 300)
    p.flush(30)
    end = time.time() + 60 * SLOW
    m1 = m0
    while time.time() < end:
        m1 = metrics(url)
        if m1.get('budgetd_dead_letters_total{reason="wire"}', 0) >= N:
            break
        time.sleep(0.5)
    check_eq(need(m1, 'budgetd_dead_letters_total{reason="wire"}'), float(N), "dead letters")
    time.sleep(1.5)
    m1 = metrics(url)
    mt1 = need(m1, 'budgetd_memory_bytes{what="rocksdb_memtables"}')
    ob1 = need(m1, 'budgetd_rocksdb_memtable_bytes{cf="outbox"}')
    rss1 = need(m1, 'budgetd_memory_bytes{what="rss"}')
    cur = need(m1, 'budgetd_rocksdb_memtables_bytes')
    per_cf = sum(v for k, v in m1.items() if k.startswith("budgetd_rocksdb_memtable_bytes{"))
    print("after %d dead letters: RSS %.1f -> %.1f MB, memtables %.2f -> %.2f MiB (outbox %.2f -> "
          "%.2f MiB)" % (N, rss0 / 1e6, rss1 / 1e6, mt0 / 2**20, mt1 / 2**20, ob0 / 2**20,
                         ob1 / 2**20))
    check(ob1 > ob0, "the outbox memtable did not grow: %.0f -> %.0f" % (ob0, ob1))
    check(mt1 > mt0, "the memtables did not grow: %.0f -> %.0f" % (mt0, mt1))
    check(ob1 <= 4 * 2**20 * 2, "the outbox memtable is above its bound: %.0f" % ob1)
    check(rss1 != rss0, "RSS did not move")
    check(abs(cur - mt1) <= 0.05 * mt1 + 65536 and abs(per_cf - mt1) <= 0.05 * mt1 + 65536,
          "cur-size-all-mem-tables %.0f, per family %.0f, total %.0f disagree" % (cur, per_cf, mt1))
    sst = need(m1, 'budgetd_rocksdb_sst_files_bytes')
    sst_cf = [v for k, v in m1.items() if k.startswith("budgetd_rocksdb_sst_bytes{")]
    check(len(sst_cf) >= 5, "SST bytes by family: %d families" % len(sst_cf))
    check(abs(sum(sst_cf) - sst) <= 0.05 * sst + 65536,
          "SST files by family %.0f, total %.0f disagree" % (sum(sst_cf), sst))
    print("PASS: memory gauges present and moving")
    passed = True
finally:
    if not passed:
        d.dump_log(40)
    d.stop()
    broker.stop()
    cleanup(state)
sys.exit(0 if passed else 1)
