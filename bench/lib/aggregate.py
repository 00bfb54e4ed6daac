#!/usr/bin/env python3
"""Aggregate run.sh samples into results JSON and print the comparison table
and the "rgate vs peers" summary.

usage: aggregate.py META.json SAMPLES.jsonl OUT.json
Exit status 3 if any measured request failed (socket error or non-2xx/3xx).
"""
import json
import statistics as st
import sys


def med(xs):
    return st.median(xs) if xs else None


def fmt_ms(us):
    return "-" if us is None else f"{us / 1000:.2f}ms"


def fmt_ratio(x):
    return "-" if x is None else f"{x:.2f}"


def us_per_req(r):
    """CPU microseconds the proxy process(es) spent per request in sample r."""
    return r["cpu"]["proxy_pct"] / 100 * r["wall_s"] / r["wrk"]["requests"] * 1e6


def compare(by, size, num, den, metric):
    """Ratio num/den of the median metric ("rps" or "us") at one size, with
    the min and max of the same-round ratios; None if either was not run."""
    a, b = by.get((num, size), {}), by.get((den, size), {})
    if not a or not b:
        return None
    get = (lambda r: r["rps"]) if metric == "rps" else us_per_req
    ma, mb = med([get(r) for r in a.values()]), med([get(r) for r in b.values()])
    paired = [get(a[k]) / get(b[k]) for k in a if k in b and get(b[k])]
    if not mb or not paired:
        return None
    return {"size": size, "metric": "req/s" if metric == "rps" else "us/req", "target": num, "vs": den,
            "ratio": round(ma / mb, 3), "paired_min": round(min(paired), 3), "paired_max": round(max(paired), 3),
            "target_value": round(ma, 2), "vs_value": round(mb, 2)}


# The "rgate vs peers" summary: (metric, numerator, denominator).
RGATE_COMPARISONS = [
    ("us", "rgate", "baseline-go"),
    ("rps", "rgate", "baseline-go"),
    ("rps", "rgate", "caddy"),
    ("rps", "rgate", "traefik"),
    ("us", "rgate-policies", "rgate"),
    ("us", "rgate-rl-cluster", "rgate-rl-local"),
    ("us", "rgate-auth-key", "rgate"),
    ("us", "rgate-auth-jwt", "rgate"),
    ("us", "rgate-tracing0", "rgate"),
    ("us", "rgate-tracing1", "rgate"),
    ("us", "rgate-cluster-idle", "rgate"),
]


def size_label(size):
    return f"{size // 1024}KiB" if size % 1024 == 0 and size else f"{size}B"


def main():
    meta_path, samples_path, out_path = sys.argv[1:4]
    meta = json.load(open(meta_path))
    samples = [json.loads(l) for l in open(samples_path) if l.strip()]
    targets = [t["name"] for t in meta["targets"]]
    sizes = []
    for s in samples:
        w = s["wrk"]
        s["rps"] = w["requests"] / (w["duration_us"] / 1e6)
        s["errors"] = sum(w[k] for k in ("err_connect", "err_read", "err_write", "err_status", "err_timeout"))
        if s["size"] not in sizes:
            sizes.append(s["size"])

    # per-round rps, for paired (same-round) ratios
    by = {}
    for s in samples:
        by.setdefault((s["target"], s["size"]), {})[s["round"]] = s

    summary = []
    total_errors = 0
    for size in sizes:
        for t in targets:
            runs = by.get((t, size), {})
            if not runs:
                continue
            rps = [r["rps"] for r in runs.values()]
            m = med(rps)
            row = {
                "target": t,
                "size": size,
                "n": len(rps),
                "rps_median": round(m, 1),
                "rps_min": round(min(rps), 1),
                "rps_max": round(max(rps), 1),
                "rps_spread_pct": round(100 * (max(rps) - min(rps)) / m, 2) if m else None,
                "rps_cv_pct": round(100 * st.stdev(rps) / st.mean(rps), 2) if len(rps) > 1 else None,
                "p50_us_median": med([r["wrk"]["p50_us"] for r in runs.values()]),
                "p99_us_median": med([r["wrk"]["p99_us"] for r in runs.values()]),
                "p999_us_median": med([r["wrk"]["p999_us"] for r in runs.values()]),
                "wrk_cpu_pct_median": med([r["cpu"]["wrk_pct"] for r in runs.values()]),
                "proxy_cpu_pct_median": med([r["cpu"]["proxy_pct"] for r in runs.values()]),
                "backend_cpu_pct_median": med([r["cpu"]["backend_pct"] for r in runs.values()]),
                "foreign_cpu_pct_max": max(r["cpu"]["foreign_pct"] for r in runs.values()),
                # CPU the hypervisor gave to other guests (all cpus): slows everything down.
                "steal_cpu_pct_median": med([r["cpu"].get("steal_pct", 0) for r in runs.values()]),
                # CPU time the proxy process(es) spent per request, in microseconds:
                # robust against other tenants stealing CPU, unlike req/s.
                "proxy_cpu_us_per_req_median": round(med([
                    r["cpu"]["proxy_pct"] / 100 * r["wall_s"] / r["wrk"]["requests"] * 1e6
                    for r in runs.values()]), 2),
                "backend_cpu_us_per_req_median": round(med([
                    r["cpu"]["backend_pct"] / 100 * r["wall_s"] / r["wrk"]["requests"] * 1e6
                    for r in runs.values()]), 2),
                "noisy_runs": sum(1 for r in runs.values() if r.get("noisy")),
                "errors": sum(r["errors"] for r in runs.values()),
            }
            total_errors += row["errors"]
            for ref in ("direct", "nginx"):
                refruns = by.get((ref, size), {})
                if not refruns:
                    row[f"ratio_vs_{ref}"] = None
                    continue
                row[f"ratio_vs_{ref}"] = round(m / med([r["rps"] for r in refruns.values()]), 3)
                paired = [runs[k]["rps"] / refruns[k]["rps"] for k in runs if k in refruns]
                row[f"ratio_vs_{ref}_paired_min"] = round(min(paired), 3)
                row[f"ratio_vs_{ref}_paired_max"] = round(max(paired), 3)
            summary.append(row)

    rgate_vs = []
    for size in sizes:
        for metric, num, den in RGATE_COMPARISONS:
            c = compare(by, size, num, den, metric)
            if c:
                rgate_vs.append(c)

    out = {"meta": meta, "summary": summary, "rgate_vs_peers": rgate_vs, "samples": samples}
    with open(out_path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")

    hdr = (f"{'size':>6} {'target':<14} {'req/s':>9} {'spread':>7} {'p50':>8} {'p99':>8} "
           f"{'vs direct':>16} {'vs nginx':>16} {'us/req':>6} {'cpu% wrk/prx/bk/oth':>19}")
    print()
    print(f"layout={meta['layout']} order={meta['order']} wrk -t{meta['wrk']['threads']} "
          f"-c{meta['wrk']['connections']} -d{meta['wrk']['duration_s']}s (+{meta['wrk']['warmup_s']}s warm-up) "
          f"x{meta['wrk']['reps']}; req/s, p50, p99 = median of runs; spread = (max-min)/median; "
          f"ratios = ratio of medians [min-max of same-round ratios];\n"
          f"us/req = proxy CPU microseconds per request (backend's for direct); "
          f"cpu% = % of one core: wrk, proxy, backend (medians), other processes (max)")
    print(hdr)
    print("-" * len(hdr))
    for row in summary:
        def rr(ref):
            r = row.get(f"ratio_vs_{ref}")
            if r is None:
                return "-"
            lo, hi = row[f"ratio_vs_{ref}_paired_min"], row[f"ratio_vs_{ref}_paired_max"]
            return f"{r:.2f} [{lo:.2f}-{hi:.2f}]"
        size_s = size_label(row["size"])
        err = f"  ERRORS={row['errors']}" if row["errors"] else ""
        print(f"{size_s:>6} {row['target']:<14} {row['rps_median']:>9.0f} "
              f"{row['rps_spread_pct']:>6.1f}% {fmt_ms(row['p50_us_median']):>8} {fmt_ms(row['p99_us_median']):>8} "
              f"{rr('direct'):>16} {rr('nginx'):>16} "
              f"{row['proxy_cpu_us_per_req_median'] or row['backend_cpu_us_per_req_median']:>6.1f} "
              f"{row['wrk_cpu_pct_median']:>7.0f}/{row['proxy_cpu_pct_median']:.0f}/"
              f"{row['backend_cpu_pct_median']:.0f}/{row['foreign_cpu_pct_max']:.0f}"
              + (f"  noisy={row['noisy_runs']}" if row["noisy_runs"] else "") + err)
    print()
    if any(t in targets for t in ("rgate", "rgate-policies")):
        print("rgate vs peers: ratio of medians [min-max of same-round ratios]; "
              "us/req = proxy CPU per request, lower is better; req/s higher is better")
        for size in sizes:
            label = size_label(size)
            for metric, num, den in RGATE_COMPARISONS:
                name = f"{'us/req' if metric == 'us' else 'req/s':<7}{num} / {den}"
                c = next((c for c in rgate_vs if c["size"] == size and c["target"] == num
                          and c["vs"] == den and c["metric"] == ("us/req" if metric == "us" else "req/s")), None)
                if c is None:
                    missing = [t for t in (num, den) if t not in targets]
                    print(f"{label:>6}  {name:<36} {'-':>5}  ({', '.join(missing) or 'no data'} not run)")
                else:
                    fmt = (lambda v: f"{v:.1f} us") if metric == "us" else (lambda v: f"{v:.0f} req/s")
                    print(f"{label:>6}  {name:<36} {c['ratio']:>5.2f}  [{c['paired_min']:.2f}-{c['paired_max']:.2f}]"
                          f"  {fmt(c['target_value'])} vs {fmt(c['vs_value'])}")
                label = ""
        pol = meta.get("rgate_policies")
        if pol:
            m = pol.get("metrics", {})
            print(f"rgate-policies after the run: {pol.get('access_log_lines', 0)} access-log lines, "
                  f"{m.get('rgate_rate_limited_total', 0):.0f} rate-limited, "
                  f"breaker trips {m.get('rgate_backend_breaker_trips_total', 0):.0f}")
        rl = meta.get("rgate_rl_cluster")
        if rl:
            per = rl.get("redis_commands_per_admitted")
            print(f"rgate-rl-cluster after the run: {per if per is not None else '-'} Redis commands per admitted request "
                  f"({rl.get('redis_client_commands', 0)} EVALSHA/EVAL for {rl.get('admitted_2xx', 0):.0f} admitted), "
                  f"{rl.get('fallback_decisions', 0):.0f} fallback decisions, {rl.get('store_errors', 0):.0f} store errors")
        print()
    steal = max((row["steal_cpu_pct_median"] for row in summary), default=0)
    if steal > 10:
        print(f"note: the hypervisor stole up to {steal:.0f}% of a core (median per target) during this run: "
              "absolute req/s and us/req are worse than on a quiet host; compare ratios within the run")
        print()
    if meta.get("skipped"):
        print("skipped: " + "; ".join(f"{k} ({v})" for k, v in sorted(meta["skipped"].items())))
        print()
    if total_errors:
        print(f"WARNING: {total_errors} failed requests (socket errors or non-2xx/3xx); results are suspect",
              file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
