"""CPU time on this machine, split by who spent it, for the benchmark's
PostgreSQL rows: `snap [GROUPD_PID]` prints a JSON snapshot (clock ticks: all
cores busy, the groupd process, every postgres process with the children the
postmaster has reaped); `split BEFORE AFTER OPS` prints microseconds of CPU per
operation for groupd, PostgreSQL and the rest (the load generator, mostly)."""
import json, os, sys

TICK = os.sysconf("SC_CLK_TCK")

def stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    name = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    # utime, stime, cutime, cstime are fields 14-17 (1-based), 12-15 here.
    return name, [int(x) for x in fields[11:15]], int(fields[1])

def snap(groupd):
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    busy = sum(cpu) - cpu[3] - cpu[4]  # all but idle and iowait
    g = pg = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            name, t, ppid = stat(entry)
        except (OSError, ValueError):
            continue
        if groupd and entry == groupd:
            g = t[0] + t[1]
        elif name == "postgres":
            pg += t[0] + t[1]
            try:
                parent = stat(str(ppid))[0]
            except (OSError, ValueError):
                parent = None
            if parent != "postgres":
                pg += t[2] + t[3]  # the postmaster: backends that have exited
    return {"busy": busy, "groupd": g, "postgres": pg}

if sys.argv[1] == "snap":
    print(json.dumps(snap(sys.argv[2] if len(sys.argv) > 2 else None)))
else:
    a, b, ops = json.loads(sys.argv[2]), json.loads(sys.argv[3]), float(sys.argv[4])
    us = lambda k: round((b[k] - a[k]) / TICK * 1e6 / ops, 1) if ops else None
    total = us("busy")
    g, p = us("groupd"), us("postgres")
    print(json.dumps({"cpu_us": {"total": total, "groupd": g, "postgres": p,
                                 "rest": round(total - g - p, 1) if total is not None else None}}))
