"""Summarise bench/edge.sh samples: one row per (mode, target) and the ratios
the edge rows ask for, each as the median of same-round ratios with its
min-max (rounds interleave the targets, so a pair shares the machine's state)."""
import json
import statistics
import sys
from collections import defaultdict

samples_path, out_path, git = sys.argv[1:4]
samples = [json.loads(line) for line in open(samples_path) if line.strip()]
by = defaultdict(list)
for s in samples:
    by[(s["mode"], s["target"])].append(s)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def paired(mode_a, a, mode_b, b, key, invert=False):
    ra = {s["round"]: s[key] for s in by.get((mode_a, a), [])}
    rb = {s["round"]: s[key] for s in by.get((mode_b, b), [])}
    rs = [ra[r] / rb[r] for r in ra if r in rb and rb[r] > 0]
    if invert:
        rs = [1 / x for x in rs]
    return {"median": med(rs), "min": min(rs), "max": max(rs), "n": len(rs)} if rs else None


rows = []
print(f"\n{'mode':<10} {'target':<11} {'req/s':>9} {'us/req':>7} {'spread':>7} {'failed':>6} {'steal%':>6}")
for (mode, t), ss in sorted(by.items()):
    rps = [s["rps"] for s in ss]
    row = {"mode": mode, "target": t, "rps": med(rps), "us_per_req": med([s["us_per_req"] for s in ss]),
           "spread": (max(rps) - min(rps)) / med(rps) if med(rps) else 0, "failed": sum(s["failed"] for s in ss),
           "steal_pct_max": max(s["steal_pct"] for s in ss)}
    rows.append(row)
    print(f"{mode:<10} {t:<11} {row['rps']:>9.0f} {row['us_per_req']:>7.1f} {row['spread']:>7.2f} {row['failed']:>6} {row['steal_pct_max']:>6.0f}")

ratios = {}
for mode in ("h1", "h2", "handshake"):
    for peer in ("traefik", "caddy", "nginx"):
        r = paired(mode, "rgate", mode, peer, "rps")
        if r:
            ratios[f"{mode}: rgate req/s / {peer} req/s"] = r
        r = paired(mode, "rgate", mode, peer, "us_per_req")
        if r:
            ratios[f"{mode}: rgate us/req / {peer} us/req"] = r
r = paired("h1", "rgate", "http", "rgate-http", "us_per_req")
if r:
    ratios["rgate https us/req / rgate plaintext us/req"] = r
print("\nratio (median of same-round ratios [min-max], n rounds)")
for k, v in ratios.items():
    print(f"  {k:<46} {v['median']:.2f} [{v['min']:.2f}-{v['max']:.2f}] n={v['n']}")
failed = sum(r["failed"] for r in rows)
json.dump({"git": git, "rows": rows, "ratios": ratios, "samples": samples}, open(out_path, "w"), indent=1)
print(f"\nwrote {out_path}")
sys.exit(3 if failed else 0)
