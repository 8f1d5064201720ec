"""Compares two `budgetd --dump stats` outputs: the same keys and values
(summed over partitions, per kind, campaign, model, cluster, treatment,
day, arm or user group), and EVENTS decisions and outcomes in each.
Usage: statscmp.py A B EVENTS [NAME_A NAME_B]   (exit 1 with the difference)"""
import sys
from collections import defaultdict


def load(path):
    acc = defaultdict(lambda: [0.0] * 19)
    for line in open(path):
        f = line.split()
        if f[0] == "cell":
            key, vals = tuple(f[0:1] + f[2:7]), f[7:]
        elif f[0] == "delay":
            key, vals = tuple(f[0:1] + f[2:3]), f[3:]
        elif f[0] == "experiment":  # campaign, day, arm, user group
            key, vals = tuple(f[0:1] + f[2:6]), f[6:]
        else:
            key, vals = tuple(f[0:1] + f[2:4]), f[4:]
        for i, v in enumerate(vals):
            acc[key][i] += float(v)
    return acc


def main():
    a, b = load(sys.argv[1]), load(sys.argv[2])
    events = int(sys.argv[3])
    name_a, name_b = sys.argv[4:6] if len(sys.argv) > 5 else ("first", "second")
    if set(a) != set(b):
        sys.exit("different keys: %s" % (set(a) ^ set(b)))
    for k in a:
        for i, (x, y) in enumerate(zip(a[k], b[k])):
            if abs(x - y) > 1e-9 * max(1.0, abs(x)):
                sys.exit("%s[%d]: %r %s, %r %s" % (k, i, x, name_a, y, name_b))
    dec = sum(v[0] for k, v in a.items() if k[0] == "cell")
    out = sum(v[1] for k, v in a.items() if k[0] == "cell")
    if dec != events or out != events:
        sys.exit("decisions %r outcomes %r, want %d" % (dec, out, events))
    print("statistics equal over %d keys; %d decisions and %d outcomes" % (len(a), dec, out))


main()
