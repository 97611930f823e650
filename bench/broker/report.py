#!/usr/bin/python3
"""The report of bench/run.sh: reads the raw results of one run (fio, iperf3
and ringlog-perf JSON, NAME.failed files with the reason a workload failed),
prints the table (workload, figure, limit, ratio, target, met/short), writes
bench/results/broker.json and the two plots (gnuplot), and rewrites the
"broker" section of BENCHMARKS.md between its markers (--md).

Standard library only (run with /usr/bin/python3).
"""
import argparse
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys

MIB = 1024 * 1024
HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN = "<!-- broker:begin (written by bench/run.sh; do not edit by hand) -->"
END = "<!-- broker:end -->"
HEADING = "## Broker (ringlog-broker over loopback)"
INTRO = """What it measures: the whole broker as a client sees it, over loopback with
`ringlog-perf` (1 KiB records, 64 KiB batches, `acks=all`, so every
acknowledged batch was fdatasync'd, one connection): durable produce
throughput for 1 to 1,000 partitions against fio writing the same disk the
Kafka way (buffered 1 MiB writes, fdatasync every 8 MiB) just before each
row; consuming from the page cache against iperf3 `-Z` (zero-copy) over
loopback; end-to-end latency (produce to consume) at half the durable
throughput against fio's 4 KiB fdatasync p99; memory and start-up time with
10,000 idle partitions; and the time to serve again after SIGKILL with 4 GiB
written. Targets are issue 6's."""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True, help="bench/run.sh's scratch directory")
    ap.add_argument("--results", required=True, help="where broker.json and the plots go")
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--fio-seq-size", default="1g")
    ap.add_argument("--produce-s", type=float, default=10)
    ap.add_argument("--e2e-s", type=float, default=30)
    ap.add_argument("--e2e-warmup-s", type=float, default=5)
    ap.add_argument("--in-flight", type=int, default=64)
    ap.add_argument("--idle-partitions", type=int, default=10000)
    ap.add_argument("--md", help="BENCHMARKS.md to rewrite")
    a = ap.parse_args()
    raw = a.raw

    def failed(name):
        p = os.path.join(raw, name + ".failed")
        return open(p).read().strip() if os.path.exists(p) else None

    def load(name):
        """(JSON, None) or (None, why it failed)."""
        why = failed(name)
        if why:
            return None, why
        p = os.path.join(raw, name + ".json")
        try:
            return json.load(open(p)), None
        except (OSError, ValueError) as e:
            return None, f"no result ({e.__class__.__name__})"

    # ------------------------------------------------------------ limits
    def fio_seq(name):
        d, why = load(name)
        return (d["jobs"][0]["write"]["bw"] / 1024, None) if d else (None, why)

    def fio_sync_p99_ms(name="fio-sync"):
        d, why = load(name)
        if not d:
            return None, why
        pct = d["jobs"][0]["sync"]["lat_ns"].get("percentile", {})
        v = pct.get("99.000000")
        return (v / 1e6, None) if v else (None, "no sync percentiles in fio's JSON")

    def iperf(name):
        d, why = load(name)
        if not d:
            return None, why
        if "error" in d:
            return None, d["error"]
        return d["end"]["sum_received"]["bits_per_second"] / 8 / MIB, None

    fio0, fio0_why = fio_seq("fio-seq")
    sync_p99, sync_why = fio_sync_p99_ms()
    ip_plain, ip_plain_why = iperf("iperf3-plain")
    ip_zc, ip_zc_why = iperf("iperf3-zerocopy")

    rows = []  # workload, figure, limit, ratio, target, verdict

    def row(workload, figure, limit="", ratio="", target="", verdict=""):
        rows.append([workload, figure, limit, ratio, target, verdict])

    def mibs(v):
        return f"{v:,.0f} MiB/s"

    def fig_or_fail(v, why, fmt):
        return fmt(v) if v is not None else f"failed: {why}"

    row(f"limit: fio sequential write, 1 MiB blocks, fdatasync every 8 MiB, {size_text(a.fio_seq_size)}",
        fig_or_fail(fio0, fio0_why, mibs))
    row("limit: fio 4 KiB write + fdatasync, p99 of fdatasync",
        fig_or_fail(sync_p99, sync_why, lambda v: f"{v:.3f} ms"))
    row("limit: iperf3 over loopback", fig_or_fail(ip_plain, ip_plain_why, mibs))
    row("limit: iperf3 -Z (zero-copy) over loopback", fig_or_fail(ip_zc, ip_zc_why, mibs))

    def ratio_row(workload, value, why, fmt, limit_name, limit, limit_why, target, higher_is_better=True):
        if value is None:
            row(workload, f"failed: {why}", "", "", target_text(target, higher_is_better), "failed")
            return None
        lim = f"{limit_name} {fmt(limit)}" if limit is not None else f"{limit_name} failed: {limit_why}"
        if limit is None or limit <= 0:
            row(workload, fmt(value), lim, "", target_text(target, higher_is_better), "")
            return None
        r = value / limit
        verdict = ""
        if target is not None:
            verdict = "met" if (r >= target if higher_is_better else r <= target) else "short"
        # Three decimals where two would round onto the target and hide the verdict.
        r_text = f"{r:.3f}" if target is not None and f"{r:.2f}" == f"{target:.2f}" else f"{r:.2f}"
        row(workload, fmt(value), lim, r_text, target_text(target, higher_is_better), verdict)
        return r

    def target_text(target, higher_is_better):
        if target is None:
            return ""
        return f"≥ {target:.2f}" if higher_is_better else f"≤ {target:.2f}"

    # ------------------------------------------------------------ produce
    summary = {"command": a.command, "limits": {
        "fio_seq_mib_s": fio0, "fio_fdatasync_p99_ms": sync_p99,
        "iperf3_mib_s": ip_plain, "iperf3_zerocopy_mib_s": ip_zc}, "workloads": {}, "failed": {}}

    def perf(name):
        d, why = load(name)
        if d:
            summary["workloads"][name] = d
        else:
            summary["failed"][name] = why
        return d, why

    sweep = sorted((int(m.group(1)) for f in os.listdir(raw)
                    if (m := re.fullmatch(r"produce-1-if(\d+)\.(json|failed)", f))), key=int)
    sweep = sorted(set(sweep))
    fio1, fio1_why = fio_seq("fio-seq-1")
    summary["limits"]["fio_seq_mib_s_per_row"] = {}
    summary["limits"]["fio_seq_mib_s_per_row"]["1"] = fio1
    sweep_results = {k: perf(f"produce-1-if{k}") for k in sweep}
    ok = {k: d for k, (d, _) in sweep_results.items() if d}
    best = max(ok, key=lambda k: ok[k]["mib_per_s"]) if ok else None
    plot_points = []  # partitions, ringlog MiB/s, fio MiB/s, target ratio or None
    for k in sweep:
        d, why = sweep_results[k]
        label = f"produce, 1 partition, in-flight {k}"
        if k == best and len(sweep) > 1:
            label += f" (best of {', '.join(map(str, sweep))})"
        target = 0.85 if k == best or best is None else None
        ratio_row(label, d["mib_per_s"] if d else None, why, mibs, "fio", fio1, fio1_why, target)
    if best is not None:
        plot_points.append((1, ok[best]["mib_per_s"], fio1, 0.85))

    points = sorted({int(m.group(1)) for f in os.listdir(raw)
                     if (m := re.fullmatch(r"produce-(\d+)\.(json|failed)", f))})
    targets = {64: 0.80, 1000: 0.60}
    for p in points:
        fio_p, fio_p_why = fio_seq(f"fio-seq-{p}")
        summary["limits"]["fio_seq_mib_s_per_row"][str(p)] = fio_p
        d, why = perf(f"produce-{p}")
        ratio_row(f"produce, {p:,} partitions, in-flight {a.in_flight}",
                  d["mib_per_s"] if d else None, why, mibs, "fio", fio_p, fio_p_why, targets.get(p))
        if d:
            plot_points.append((p, d["mib_per_s"], fio_p, targets.get(p)))

    # ------------------------------------------------------------ consume
    d, why = perf("consume-1")
    ratio_row("consume, 1 partition, page cache (what was just produced)",
              d["mib_per_s"] if d else None, why, mibs, "iperf3 -Z", ip_zc, ip_zc_why, 0.70)

    # ------------------------------------------------------------ e2e
    d, why = perf("e2e")
    rate_from = ""
    p = os.path.join(raw, "e2e.rate-from")
    if os.path.exists(p):
        rate_from = open(p).read().strip()
    e2e_label = "e2e p99"
    if d:
        src = {"produce-8": "8-partition", "produce-1-if%d" % a.in_flight: "1-partition"}.get(
            rate_from, rate_from)
        e2e_label = (f"e2e p99, {d.get('partitions', '?')} partitions, {d.get('rate', 0):,.0f} records/s "
                     f"(half the {src} produce rate), {a.e2e_s:g} s after {a.e2e_warmup_s:g} s warm-up")
    ratio_row(e2e_label, d["latency_ms"]["p99"] if d else None, why, lambda v: f"{v:.2f} ms",
              "fio fdatasync p99", sync_p99, sync_why, 3.0, higher_is_better=False)
    if d:
        lat = d["latency_ms"]
        achieved = d.get("records_per_s", 0)
        note = ""
        if d.get("rate") and achieved < 0.95 * d["rate"]:
            note = f"; only {achieved:,.0f} records/s received"
        row("e2e p50 / p99.9 / max",
            f"{lat['p50']:.2f} / {lat['p99_9']:.2f} / {lat['max']:.2f} ms{note}")
        # Where the time goes: the broker's part (a produce request's round
        # trip) and the producer's (a record's enqueue to its ack).
        req = d.get("produce_request_latency_ms")
        prod = d.get("produce_latency_ms")
        if req and prod:
            row("e2e breakdown: produce request round trip p50 / p99; record enqueue to ack p50 / p99",
                f"{req['p50']:.2f} / {req['p99']:.2f}; {prod['p50']:.2f} / {prod['p99']:.2f} ms")
    loaded_p99, loaded_why = fio_sync_p99_ms("fio-e2e")
    summary["limits"]["fio_fdatasync_p99_ms_at_e2e_rate"] = loaded_p99
    row("context: fio 64 KiB write + fdatasync at the e2e byte rate, p99 of fdatasync",
        f"{loaded_p99:.3f} ms" if loaded_p99 is not None else f"failed: {loaded_why}")

    # ------------------------------------------------------------ idle partitions
    d, why = load("idle")
    startup_why = failed("idle-startup")
    n = d["partitions"] if d else a.idle_partitions
    if d:
        summary["idle"] = d
        rss_mib = d["rss_kib"] / 1024
        row(f"{n:,} partitions idle: broker RSS ({d['open_files']:,} open files)",
            f"{rss_mib:,.0f} MiB", "", "", "≤ 1 GiB", "met" if rss_mib <= 1024 else "short")
        if "stop_s" in d:
            row(f"{n:,} partitions: clean stop (SIGTERM until exit)", f"{d['stop_s']:.2f} s")
        if "startup_s" in d:
            row(f"{n:,} partitions: start-up after SIGTERM, until Metadata lists them all",
                f"{d['startup_s']:.2f} s", "", "", "≤ 3 s", "met" if d["startup_s"] <= 3 else "short")
        else:
            row(f"{n:,} partitions: start-up after SIGTERM", f"failed: {startup_why}", "", "", "≤ 3 s",
                "failed")
    else:
        summary["failed"]["idle"] = why
        row(f"{n:,} partitions idle: broker RSS", f"failed: {why}", "", "", "≤ 1 GiB", "failed")
        row(f"{n:,} partitions: start-up after SIGTERM", "failed: (see above)", "", "", "≤ 3 s", "failed")

    # ------------------------------------------------------------ recovery
    d, why = load("recovery")
    if d:
        summary["recovery"] = d
        written = d["written_mib"]
        size = f"{written / 1024:g} GiB" if written >= 1024 else f"{written} MiB"
        row(f"restart after SIGKILL, {size} written with acks=all ({d['partitions']} partitions), "
            "until it serves", f"{d['startup_s']:.2f} s", "", "", "≤ 2 s",
            "met" if d["startup_s"] <= 2 else "short")
    else:
        summary["failed"]["recovery"] = why
        row("restart after SIGKILL, until it serves", f"failed: {why}", "", "", "≤ 2 s", "failed")

    # ------------------------------------------------------------ output
    # Paths in error messages, relative to the broker's log.dirs.
    for r in rows:
        r[1] = r[1].replace(os.path.join(a.data_dir, "broker") + "/", "").replace(
            os.path.join(a.data_dir, "broker"), "log.dirs")
    header = ["workload", "figure", "limit", "ratio", "target", ""]
    align = ["---", "---:", "---", "---:", "---", "---"]
    table = "\n".join(
        ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
        + ["| " + " | ".join(c.replace("|", "/").replace("\n", " ") for c in r) + " |" for r in rows])
    summary["table"] = [dict(zip(["workload", "figure", "limit", "ratio", "target", "verdict"], r))
                        for r in rows]
    summary["machine"] = machine(a.data_dir)

    os.makedirs(a.results, exist_ok=True)
    plots = plot(raw, a.results, plot_points, summary, sync_p99)
    with open(os.path.join(a.results, "broker.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")
    print(table)

    if a.md:
        rel = os.path.relpath(a.results, os.path.dirname(os.path.abspath(a.md)))
        pics = "\n".join(f"![{title}]({rel}/{name})" for name, title in plots)
        section = f"""{BEGIN}
Machine: {summary['machine']}.
Command: `{a.command}`. 1 KiB records, 64 KiB batches, `acks=all`, one
connection; produce rows run {a.produce_s:g} s each, fio ({size_text(a.fio_seq_size)}) just before each.

{table}

{pics}

Raw figures (ringlog-perf's JSON, the limits): [{rel}/broker.json]({rel}/broker.json).
{END}"""
        rewrite_md(a.md, section)
        print(f"rewrote the broker section of {a.md}", file=sys.stderr)


def size_text(fio_size):
    """fio's "1g" as "1 GiB"."""
    return f"{fio_size[:-1]} {fio_size[-1].upper()}iB" if fio_size[-1:].isalpha() else fio_size


def machine(data_dir):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    probe = data_dir
    while not os.path.exists(probe):
        probe = os.path.dirname(probe) or "."
    disk = subprocess.run(["df", "--output=source,fstype", probe], capture_output=True,
                          text=True).stdout.split("\n")[1].strip()
    return (f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, kernel {platform.release()}, "
            f"data on `{disk}`")


def plot(raw, results, points, summary, sync_p99):
    """Writes the PNGs; returns [(file name, title)] of those written."""
    if not shutil.which("gnuplot"):
        print("report: gnuplot not found, no plots", file=sys.stderr)
        return []
    terms = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True)
    term = "pngcairo" if "pngcairo" in terms.stdout + terms.stderr else "png"
    written = []

    def run(script, out_name, alt_text, **vars):
        out = os.path.join(results, out_name)
        defs = "; ".join(f"{k}='{v}'" if isinstance(v, str) else f"{k}={v}" for k, v in vars.items())
        r = subprocess.run(["gnuplot", "-e", f"term='{term}'; outfile='{out}'; {defs}",
                            os.path.join(HERE, script)], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"report: gnuplot {script} failed: {r.stderr.strip()}", file=sys.stderr)
        else:
            written.append((out_name, alt_text))

    if points:
        dat = os.path.join(raw, "produce.dat")
        with open(dat, "w") as f:
            f.write("# partitions ringlog_mib_s fio_mib_s target_mib_s\n")
            for p, ours, fio, target in points:
                fio_s = f"{fio:.1f}" if fio is not None else "NaN"
                target_s = f"{target * fio:.1f}" if fio is not None and target else "NaN"
                f.write(f"{p} {ours:.1f} {fio_s} {target_s}\n")
        run("produce-vs-partitions.gp", "produce-vs-partitions.png",
            "produce throughput vs partitions", datafile=dat)

    e2e = summary["workloads"].get("e2e")
    if e2e and e2e.get("latency_percentiles_ms"):
        dat = os.path.join(raw, "e2e.dat")
        with open(dat, "w") as f:
            f.write("# nines percentile ms\n")
            for p, ms in e2e["latency_percentiles_ms"]:
                if p < 100:
                    f.write(f"{-math.log10(1 - p / 100):.5f} {p} {ms}\n")
        lat = e2e["latency_ms"]
        run("e2e-latency.gp", "e2e-latency.png", "e2e latency percentiles", datafile=dat,
            target_ms=3 * sync_p99 if sync_p99 else "NaN",
            ymin=max(0.001, min([3 * sync_p99 if sync_p99 else 1e9]
                                + [ms for p, ms in e2e["latency_percentiles_ms"] if ms > 0]) / 2),
            title=(f"e2e latency, {e2e.get('partitions', '?')} partitions at "
                   f"{e2e.get('rate', 0):,.0f} records/s (max {lat['max']:.1f} ms)"))
    return written


def rewrite_md(path, section):
    md = open(path).read() if os.path.exists(path) else ""
    pattern = re.compile(re.escape(BEGIN.split(" (")[0]) + r".*?" + re.escape(END), re.S)
    if pattern.search(md):
        md = pattern.sub(lambda _: section, md)
    else:
        block = f"{HEADING}\n\n{INTRO}\n\n{section}\n\n"
        anchor = md.find("## Broker quick check")
        md = md[:anchor] + block + md[anchor:] if anchor >= 0 else md.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(md)


if __name__ == "__main__":
    main()
