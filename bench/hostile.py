#!/usr/bin/env python3
"""What hostile clients can make a groupd binary hold: memory and connections.

    bench/hostile.py target/release/groupd

Starts the binary on a fresh SQLite directory (default limits) and runs, one after
the other:

  bodies   300 connections send 1 MiB Grupo bodies (no key; Grupo keys travel in
           the body) all but the last byte, then stall: peak RSS while held, RSS
           each second for 30 s after they close.
  held     500 silent connections, 200 slowloris clients (a header byte every 2 s)
           and 50 stalled bodies: how many are still open after 40 s.
  fds      with a file descriptor limit of 1024, 1,100 silent connections, then
           GET /health: whether and how fast it answers.

Loopback only; every loop is bounded in count and time.
"""
import os, resource, socket, subprocess, sys, tempfile, threading, time

BIN = os.path.abspath(sys.argv[1])
CLEANUP = []


def start(nofile=None):
    d = tempfile.mkdtemp()
    CLEANUP.append(d)
    pre = None
    if nofile:
        pre = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    p = subprocess.Popen([BIN, "--data-dir", d, "serve", "--listen", "127.0.0.1:0"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                         preexec_fn=pre, env={**os.environ, "GROUPD_LOG": "error"})
    for line in p.stdout:
        if line.startswith("groupd listening on http://"):
            host, port = line.split()[3][len("http://"):].rsplit(":", 1)
            return p, (host, int(port))
    raise SystemExit("groupd did not start")


def mem(p, field):
    for line in open(f"/proc/{p.pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return -1


def stall_bodies(addr, n, size):
    socks = []
    head = ("POST /api_request/ HTTP/1.1\r\nHost: x\r\nContent-Type: "
            f"application/x-www-form-urlencoded\r\nContent-Length: {size}\r\n\r\n").encode()
    for _ in range(n):
        s = socket.create_connection(addr)
        s.sendall(head)
        s.settimeout(3)
        socks.append(s)
    chunk = b"a" * 65536

    def pump(s):
        left = size - 1
        try:
            while left > 0:
                part = min(left, len(chunk))
                s.sendall(chunk[:part])
                left -= part
        except OSError:
            pass
    threads = [threading.Thread(target=pump, args=(s,)) for s in socks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return socks


def is_open(s):
    """Whether the server still holds the connection (an answer it sent and then
    closed counts as closed)."""
    s.setblocking(False)
    try:
        while True:
            if s.recv(65536) == b"":
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def bodies():
    p, addr = start()
    idle = mem(p, "VmRSS")
    socks = stall_bodies(addr, 300, 1024 * 1024)
    time.sleep(1)
    peak = mem(p, "VmHWM")
    held = mem(p, "VmRSS")
    for s in socks:
        s.close()
    after = []
    for _ in range(30):
        time.sleep(1)
        after.append(mem(p, "VmRSS"))
    peak_all = mem(p, "VmHWM")
    p.kill()
    print(f"bodies: idle RSS {idle} MB; 300 stalled 1 MiB bodies held: RSS {held} MB "
          f"(peak {peak} MB); peak over the whole run {peak_all} MB; RSS each second "
          f"for 30 s after they closed: {after} MB")


def held():
    p, addr = start()
    silent = [socket.create_connection(addr) for _ in range(500)]
    slow = [socket.create_connection(addr) for _ in range(200)]
    for s in slow:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
    stalled = stall_bodies(addr, 50, 100_000)
    stop = time.time() + 40
    while time.time() < stop:
        for s in slow:
            try:
                s.sendall(b"X")
            except OSError:
                pass
        time.sleep(2)
    counts = [sum(is_open(s) for s in group) for group in (silent, slow, stalled)]
    p.kill()
    print(f"held after 40 s: {counts[0]}/500 silent, {counts[1]}/200 slowloris, "
          f"{counts[2]}/50 stalled bodies")


def fds():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    soft = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    p, addr = start(nofile=1024)
    silent = []
    for _ in range(1100):
        try:
            silent.append(socket.create_connection(addr, timeout=2))
        except OSError:
            break
    time.sleep(0.5)
    t = time.time()
    s = socket.create_connection(addr)
    s.settimeout(10)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    try:
        answer = s.recv(64).split(b"\r\n")[0].decode()
    except OSError as e:
        answer = f"no answer ({e})"
    p.kill()
    print(f"fds: 1,100 silent connections with 1,024 descriptors; /health: {answer} "
          f"after {time.time() - t:.2f} s")


if __name__ == "__main__":
    import shutil
    try:
        bodies()
        held()
        fds()
    finally:
        for d in CLEANUP:
            shutil.rmtree(d, ignore_errors=True)
