"""Turns the benchmark's JSON lines into docs/performance.md."""
import json, os, platform, subprocess, sys

path, elapsed, duration, groups, members = sys.argv[1:6]
store_table = sys.argv[6] if len(sys.argv) > 6 else None
rows = [json.loads(l) for l in open(path) if l.strip()]

def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"

def mem():
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"

out = []
out.append("# Performance\n")
out.append("Written by `scripts/bench` (the figures below are from its last run; run it again to refresh them).\n")
out.append(f"- Machine: {os.cpu_count()} cores ({cpu()}), {mem()} memory, {platform.system()} {platform.release()}.")
out.append("- Load: wrk from a second process on loopback, 2 threads, 16 connections, "
           f"{duration} s per scenario (the argon2 isolation rows: 1 thread, 8 connections each).")
out.append(f"- Data: the list and member scenarios use a workspace seeded with {groups} groups, one of them with {members} members "
           "(seeded straight into the database by `examples/bench_seed.rs`).")
out.append("- groupd: release build, default settings (SQLite: WAL, synchronous=FULL, group commit; "
           "PostgreSQL: pool of 16; a PostgreSQL 15 cluster from scripts/with-postgres with "
           "its durable defaults, fsync and synchronous_commit on).")
out.append(f"- Command: `scripts/bench` ({elapsed} s in all, build included).\n")
for engine in dict.fromkeys(r["engine"] for r in rows):
    er = [r for r in rows if r["engine"] == engine]
    ceiling = next((r["rps"] for r in er if r["scenario"].startswith("HTTP ceiling")), None)
    out.append(f"## {engine}\n")
    out.append("| scenario | requests/s | ratio to ceiling | p50 ms | p99 ms | non-2xx | errors |")
    out.append("|---|---:|---:|---:|---:|---:|---:|")
    for r in er:
        if "rps" not in r:
            continue
        ratio = f"{r['rps'] / ceiling:.2f}" if ceiling else "-"
        out.append(f"| {r['scenario']} | {r['rps']:.0f} | {ratio} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['non2xx']} | {r['errors']} |")
    q = next((r for r in er if "queue" in r), None)
    if q:
        base = next((r["rps"] for r in er if r["scenario"] == "REST POST /api/v1/groups"), None)
        hooked = next((r["rps"] for r in er if r["scenario"].endswith("one webhook subscribed")), None)
        if base and hooked:
            out.append(f"\nCreates with one webhook subscribed: {hooked / base:.2f} of the creates without "
                       f"(events recorded in both; the difference is the queued delivery and sending it).")
        depth = q["queue"]
        peak = max((n for _, n in depth), default=0)
        drained = next((t for t, n in depth if n <= 0 and t >= q["load_secs"]), None)
        out.append(f"Delivery queue (group.created events not yet received by the sink, sampled each second): peak {peak}; "
                   f"the load ran {q['load_secs']:.0f} s; "
                   + (f"empty again at {drained:.0f} s" if drained is not None else "not empty when sampling stopped")
                   + f"; {q['delivered']} deliveries received by the sink.")
        out.append("Depth over time (s: pending): " + ", ".join(f"{t:.0f}: {n}" for t, n in depth) + "\n")
    anchors = {r["anchor"]: r for r in er if "anchor" in r}
    if anchors:
        out.append("\n**The PostgreSQL anchor** (`../shared/bench/postgres-anchor`: each operation as one "
                   "statement on tables of a fixed shape, pgbench -M prepared at the same 16 connections, "
                   "in the same sitting, on the same cluster):\n")
        out.append("| operation | groupd requests/s | pgbench tps | groupd / anchor | groupd p99 ms | pgbench mean latency ms |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for op, label, scenario in [("create", "create", "REST POST /api/v1/groups"),
                                    ("madd", "member add", "REST member add"),
                                    ("read", "read by id", "REST GET /api/v1/groups/{id}")]:
            a = anchors.get(op)
            g = next((r for r in er if r["scenario"].startswith(scenario) and "rps" in r), None)
            if a and g and a.get("tps"):
                out.append(f"| {label} | {g['rps']:.0f} | {a['tps']:.0f} | {g['rps'] / a['tps']:.2f} | "
                           f"{g['p99_ms']:.2f} | {a['latency_ms'] or 0:.2f} |")
        out.append("")
        split = [(label, next((r for r in er if r["scenario"].startswith(scenario) and "cpu_us" in r), None),
                  anchors.get(op)) for op, label, scenario in
                 [("create", "create", "REST POST /api/v1/groups"), ("madd", "member add", "REST member add"),
                  ("read", "read by id", "REST GET /api/v1/groups/{id}")]]
        if any(g and a and "cpu_us" in a for _, g, a in split):
            out.append("CPU per operation in the same runs, in microseconds of one core (`bench/cpu.py`: "
                       "the machine's busy time, groupd's process, every PostgreSQL process; \"rest\" is the "
                       "load generator, wrk or pgbench, and anything else running). Two cores give "
                       "2,000,000 µs a second, so where the total per operation is near 2,000,000 / rate "
                       "the machine's CPU is what bounds the rate:\n")
            out.append("| operation | groupd: total | groupd process | its PostgreSQL | wrk and rest | "
                       "anchor: total | anchor's PostgreSQL | pgbench and rest |")
            out.append("|---|---:|---:|---:|---:|---:|---:|---:|")
            for label, g, a in split:
                if g and a and "cpu_us" in a:
                    gc, ac = g["cpu_us"], a["cpu_us"]
                    out.append(f"| {label} | {gc['total']:.0f} | {gc['groupd']:.0f} | {gc['postgres']:.0f} | "
                               f"{gc['rest']:.0f} | {ac['total']:.0f} | {ac['postgres']:.0f} | {ac['rest']:.0f} |")
            out.append("")
            out.append("What limits each figure, from these numbers (bench/analysis.md says where the "
                       "microseconds go):\n")
            for label, g, a in split:
                if g and a and "cpu_us" in a and g["cpu_us"]["total"]:
                    gc, ac = g["cpu_us"], a["cpu_us"]
                    bound = 2e6 / gc["total"]
                    out.append(f"- **{label}**: {gc['total']:.0f} µs of CPU per request in all, so two cores "
                               f"allow {bound:.0f}/s and groupd made {g['rps']:.0f}/s "
                               f"({g['rps'] / bound:.0%} of it): CPU-bound. Of that, PostgreSQL "
                               f"{gc['postgres']:.0f} µs ({gc['postgres'] / ac['postgres']:.1f}× the anchor's "
                               f"{ac['postgres']:.0f} µs) and groupd {gc['groupd']:.0f} µs. Even if PostgreSQL "
                               f"spent only the anchor's, groupd's process and wrk would hold the rate to "
                               f"{2e6 / (ac['postgres'] + gc['groupd'] + gc['rest']):.0f}/s, "
                               f"{2e6 / (ac['postgres'] + gc['groupd'] + gc['rest']) / a['tps']:.2f} of the "
                               f"anchor.")
            out.append("")
    rss = next((r["rss_kb"] for r in er if "rss_kb" in r), None)
    if rss:
        out.append(f"\nPeak RSS of groupd for the whole {engine} run: {rss / 1024:.0f} MB.\n")
if store_table and os.path.exists(store_table) and os.path.getsize(store_table) > 0:
    ceiling = next((r["rps"] for r in rows if r["engine"] == "sqlite" and r["scenario"].startswith("HTTP ceiling")), None)
    out.append("\n## SQLite store alone, no HTTP\n")
    out.append("`examples/store_create_cost.rs`: N callers on one thread create groups in a loop through "
               "`Store::insert_group` on a fresh database (synchronous=FULL, group commit), 3 s per line. "
               "CPU is the whole process's (callers and writer), per create. With 16 callers this is what "
               "16 HTTP connections could reach if HTTP cost nothing.\n")
    table = open(store_table).read().strip()
    out.append(table)
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[0] == "16" and ceiling:
            out.append(f"\nAt 16 callers: {float(cells[1]):.0f} creates/s, {float(cells[1]) / ceiling:.2f} of this run's SQLite HTTP ceiling.")
    out.append("")
print("\n".join(out))

analysis = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
if os.path.exists(analysis):
    print()
    print(open(analysis).read())
