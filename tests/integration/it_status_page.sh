#!/bin/sh
# The status page (/status): after a short closed-loop day, headless
# Chromium loads it from the daemon, runs its script (which fetches
# /api/status) and (a) its screenshot is a PNG of the full window that is
# not blank, (b) the rendered DOM holds the campaign id -- one with markup
# in it, which must come out as text, not as elements --, every treatment
# name, the spend track as an SVG path, the pace line, a budget change
# (budgetctl set-budget after the day) marked on it, the health status, and
# the holdout's report and the plan against the uniform arm (today and to
# date, with a verdict).
# Also: /status is src/daemon/status.html byte for byte, served as text/html with
# a Content-Security-Policy, and / is the same page.
#   CHROMIUM=/path/to/chromium tests/integration/it_status_page.sh
. "${srcdir:-.}/tests/lib/lib.sh"
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}
[ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ] ||
	{ echo "SKIP: no chromium (set CHROMIUM=/path/to/chromium) for the headless browser"; exit 77; }
CAMPAIGN='page<i>x</i>&"q'

start_broker broker
NAMES=recency,frequency,basket,tenure,visits,device,region,age,coupons_used,cart,hour,weekday
start_daemon d "$WORK/state" $SIM_CLOCK -X features.names=$NAMES
wait_log "$WORK/d.log" "admin endpoint on" 20
PORT=$(sed -n 's/.*admin endpoint on .*(port \([0-9]*\)).*/\1/p' "$WORK/d.log" | head -n 1)
[ -n "$PORT" ] || fail "no admin port in the log"
URL="http://127.0.0.1:$PORT"
"$SIM" run --bootstrap "$BOOTSTRAP" --events 2000 --duration 6 --campaign "$CAMPAIGN" \
	--request-prefix pg --holdout 0.1 --uniform-arm 0.3 -q >"$WORK/sim.out" 2>"$WORK/sim.log" ||
	fail "simulator: $(tail -n 5 "$WORK/sim.out")"
# a budget change late in the day: the spend chart marks it
"$builddir/budgetctl" --admin "127.0.0.1:$PORT" --bootstrap "$BOOTSTRAP" set-budget "$CAMPAIGN" 777 \
	>"$WORK/ctl.out" 2>&1 || fail "budgetctl set-budget: $(cat "$WORK/ctl.out")"

# the page as served; and wait until /api/status has the campaign's plan and track
"$PYTHON" - "$URL" "$srcdir/src/daemon/status.html" "$CAMPAIGN" <<'PY' || fail "/status or /api/status"
import json, sys, time, urllib.request
url, html, campaign = sys.argv[1], open(sys.argv[2], "rb").read(), sys.argv[3]
for path in ("/status", "/"):
    with urllib.request.urlopen(url + path, timeout=5) as r:
        assert r.status == 200, (path, r.status)
        assert r.headers["Content-Type"] == "text/html; charset=utf-8", r.headers["Content-Type"]
        csp = r.headers["Content-Security-Policy"] or ""
        assert "default-src 'self'" in csp and "script-src 'unsafe-inline'" in csp, csp
        assert r.read() == html, path + " is not src/status.html"
for _ in range(100):
    d = json.load(urllib.request.urlopen(url + "/api/status", timeout=5))
    c = [c for c in d["campaigns"] if c["campaign"]["id"] == campaign]
    tr = c[0]["track"] if c else []
    # the track's budget is the one the campaign paces: 777 less the
    # uniform arm's share (the treated users share it by head)
    paced = 777 * (1 - 0.1 - 0.3) / (1 - 0.1)
    if c and c[0]["plan"] and len(tr) >= 2 and abs(tr[-1][2] - paced) < 1e-6 and \
            abs(tr[0][2] - paced) > 1:
        break
    time.sleep(0.2)
else:
    sys.exit("no plan and track for the campaign in /api/status: %s" %
             json.dumps([(c["campaign"]["id"], c["track"], bool(c["plan"])) for c in d["campaigns"]]))
# the plan against uniform and control, and its note (a string, maybe empty)
p = c[0]["plan"]
# (numbers absent while not estimated, never null)
# (a plan solved on estimates has them; a warm-up, spent or paused one not)
assert "note" in p, "plan without its note: %s" % sorted(p)
assert "uplift_over_uniform" in p or p["solver"] in ("uniform-warmup", "budget-spent", "paused"), \
    "plan (%s) without its uplift: %s" % (p["solver"], sorted(p))
for k in ("uplift_over_uniform", "uplift_over_uniform_se", "uplift_over_control",
          "uplift_over_control_se", "value_max_spend"):
    assert k not in p or isinstance(p[k], (int, float)), "plan's %s: %r" % (k, p.get(k))
assert isinstance(p["note"], str), p["note"]
PY

# --virtual-time-budget lets the page's fetch and drawing finish before the
# snapshot; the rest keeps Chromium off the network (refused here anyway)
chrome() {
	timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
		--disable-background-networking --disable-component-update --disable-sync \
		--disable-default-apps --user-data-dir="$(mktemp -d "$WORK/chrome.XXXXXX")" \
		--window-size=1280,1600 --virtual-time-budget=5000 "$@" 2>>"$WORK/chrome.err"
}
# (its stderr is mostly complaints about the missing D-Bus: shown only on failure)
chrome_fail() { fail "$1: $(grep -v dbus "$WORK/chrome.err" | tail -n 5)"; }
chrome --screenshot="$WORK/page.png" "$URL/status" >>"$WORK/chrome.err" || chrome_fail "chromium --screenshot"
chrome --dump-dom "$URL/status" >"$WORK/page.dom" || chrome_fail "chromium --dump-dom"

# (a) a 1280x1600 PNG, not blank: many colours (a blank page has one, text
# and charts give thousands) and far bigger than a blank page's few KB
"$PYTHON" - "$WORK/page.png" <<'PY' || fail "screenshot"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, hdr = 8, [], None
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    if typ == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", data[pos + 8:pos + 8 + n])
    elif typ == b"IDAT":
        idat.append(data[pos + 8:pos + 8 + n])
    pos += 12 + n
w, h, depth, ctype, _, _, interlace = hdr
assert (w, h) == (1280, 1600), (w, h)
assert depth == 8 and ctype in (2, 6) and not interlace, hdr
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(b"".join(idat)), w * bpp
prev, colours = bytearray(stride), set()
for y in range(h):
    f, row = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    if f == 1:
        for i in range(bpp, stride):
            row[i] = (row[i] + row[i - bpp]) & 255
    elif f == 2:
        row = bytearray((a + b) & 255 for a, b in zip(row, prev))
    elif f == 3:
        for i in range(stride):
            row[i] = (row[i] + ((row[i - bpp] if i >= bpp else 0) + prev[i]) // 2) & 255
    elif f == 4:
        for i in range(stride):
            a, b = (row[i - bpp] if i >= bpp else 0), prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            row[i] = (row[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    colours.update(bytes(row[i:i + bpp]) for i in range(0, stride, bpp))
    prev = row
print("screenshot: %dx%d, %d bytes, %d colours" % (w, h, len(data), len(colours)))
assert len(colours) >= 200, "only %d colours: blank?" % len(colours)
assert len(data) >= 30000, "only %d bytes: blank?" % len(data)
PY

# (b) the rendered page
"$PYTHON" - "$WORK/page.dom" "$CAMPAIGN" <<'PY' || fail "rendered DOM: $(head -c 3000 "$WORK/page.dom")"
import html, re, sys
dom, campaign = open(sys.argv[1], encoding="utf-8").read(), sys.argv[2]
def need(cond, what):
    if not cond:
        sys.exit("missing: " + what)
need('<section class="campaign">' in dom, "a campaign section (did the script run?)")
need("<h2>" + html.escape(campaign, quote=False) in dom, "the campaign id, as text")
need("<i>" not in dom, "no element from the campaign id's markup")
for name in ("control", "coupon 2", "coupon 4", "coupon 8"):
    need(re.search('<th class="name"[^>]*>%s</th>' % name, dom), "treatment column " + name)
need(re.search(r'<td class="dom">\d+\.\d%</td>', dom), "a dominant treatment highlighted")
# clusters described by the features (features.names) that move users to them
names = "recency|frequency|basket|tenure|visits|device|region|age|coupons_used|cart|hour|weekday"
descs = re.findall(r'<td class="desc">([^<]*)</td>', dom)
need('<th class="desc"' in dom and len(descs) >= 2 and all(
    re.fullmatch(r"(?:(?:%s) [\u2191\u2193])(?:, (?:%s) [\u2191\u2193]){0,2}" % (names, names), d)
    for d in descs), "clusters described by named features: %r" % descs[:3])
need(re.search(r'<svg[^>]*class="spendchart"', dom), "the spend chart <svg>")
need("uplift over uniform" in dom and "uplift over control" in dom, "the plan's uplifts")
m = re.search(r'<path class="spend" d="(M[-\d.,]+(?:L[-\d.,]+)+)"', dom)
need(m, "the spend track path with two or more points")
need(re.search(r'<path class="pace" d="M[-\d.,]+(?:L[-\d.,]+){24}"', dom), "the pace line (25 points)")
need('<line class="budget"' in dom and '<line class="now"' in dom, "the budget and now lines")
need('<line class="bchange"' in dom and
     re.search(r'<text class="bchange"[^>]*>budget [\d.]+ \u2192 518\.00 at \d\d:\d\d</text>', dom),
     "the budget change marked on the spend chart")
need(re.search(r'<span class="badge (ok|degraded)" id="health">(ok|degraded)</span>', dom),
     "the health status")
need(re.search(r"ready <b>yes</b>", dom), "ready")
# for a campaign manager: the day so far by treatment with its total, and
# lambda said in words
# (rendered elements: the page's script, in the DOM too, holds the same words)
need("<h3>Today so far (outcomes reported)</h3>" in dom, "the day so far")
m2 = re.search(r"<td>all</td><td>(\d+)</td><td>(\d+)</td><td>([\d.,]+)</td>", dom)
need(m2 and int(m2.group(1)) > 0, "the day's totals (decisions, orders, value) with decisions")
# one clock: the campaign's time with its zone (budgetd-sim's events run
# hours ahead of this host: said so), the footer's in UTC
m3 = re.search(r"<span>campaign time <b>(\d{4}-\d\d-\d\d \d\d:\d\d UTC[+\u2212]\d\d:\d\d)"
               r"( \(its events' clock, \d+ min (behind|ahead of) the daemon's\))?</b></span>", dom)
need(m3, "the campaign's time with its zone")
need(re.search(r"as of \d{4}-\d\d-\d\d \d\d:\d\d UTC\+00:00 \(the daemon's clock", dom),
     "the page's time in UTC")
need(re.search(r"<span>value of one more unit of budget \(lambda\) <b>-?[\d.]+</b></span>", dom),
     "lambda explained")
# the holdout's report (the simulator's campaign holds out 10% of its users)
need("<h3>Holdout: 10.0% of users get no incentive</h3>" in dom, "the holdout's heading")
ROW = (r"<tr><td>(today|to date)</td><td>(\d+)</td><td>(\d+)</td>.*?"
       r'<td class="verdict">(better|worse|not yet known)[^<]*</td></tr>')
uni, _, held = dom.partition("<h3>Holdout: ")
rows = re.findall(ROW, held)
need(len(rows) == 2 and all(int(r[1]) > 0 and int(r[2]) > 0 for r in rows),
     "the holdout's rows (today, to date) with requests in both arms and a verdict: %r" % rows)
# ... and the plan against the uniform arm (30% of the users)
need("<h3>Uniform arm: 30.0% of users get uniform random coupons at their share of the "
     "budget</h3>" in uni, "the uniform arm's heading")
rows = re.findall(ROW, uni.rpartition("<h3>Uniform arm: ")[2])
need(len(rows) == 2 and all(int(r[1]) > 0 and int(r[2]) > 0 for r in rows),
     "the plan against the uniform arm (today, to date) with requests in both arms and a "
     "verdict: %r" % rows)
print("dom: %d bytes, spend track with %d points" % (len(dom), m.group(1).count("L") + 1))
PY
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || fail "daemon exit code"
echo "PASS: status page renders the campaign in headless Chromium"
