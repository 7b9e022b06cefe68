#!/usr/bin/env python3
"""make bench: our server and the tutorial's Node.js peer, side by side in one run.

Starts each server on loopback (ours with a fresh SQLite database and 20 agent accounts,
every message committed before it is delivered), drives both with the same load from
target/release/bench, and prints a table of ratios (ours / peer). Absolute numbers depend
on this shared, noisy machine; the ratios are measured side by side.

Scenarios (QUICK=1 shrinks them for a smoke run):
  throughput  closed loop, 4 messages in flight per customer: 20 agents with 100 customers,
              and 10 agents with 200 customers (many customers per agent)
  latency     fixed rate, 20 agents and 100 customers: half the peer's closed-loop
              throughput, and a low rate (200 msg/s), on both servers
              (all: three rounds, alternating between the servers; the median run counts;
              a third server, the relay, takes its turn in these rounds: the tutorial's
              protocol relayed in memory by socketioxide, what the library alone costs)
  storm       1,000 customers log in while 20 agents are online (both), and
              10,000 (ours only: the target is under 10 s)
  idle        500 idle logged-in connections (both, each on a fresh server): server RSS
              per connection; and 19,000 on ours alone (fresh again), from 4 generator
              processes on 127.0.0.2-5
  storage     ours on SQLite (the default: every commit fsynced), on SQLite with
              SQLITE_SYNC=normal (no fsync) and on PostgreSQL (a local server with fsync on,
              from scripts/postgres.sh), throughput and latency as above: what the disk's
              flush and PostgreSQL cost; and this disk's fdatasync time
  cluster     one node against two nodes behind Redis (both on PostgreSQL; customers on
              one node, agents on the other), throughput and latency as above: what the
              cluster costs; then 100,000 idle logged-in customers over six nodes (one
              generator process per node: 20,000 files per process here) while messages
              still cross nodes
ONLY=peer, ONLY=storage or ONLY=cluster runs just that part.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "target/release/bench")
SERVER = os.path.join(ROOT, "target/release/server")
RELAY = os.path.join(ROOT, "target/release/relay")
QUICK = os.environ.get("QUICK") == "1"
# Throughput and latency runs per server, alternating; the median is reported.
ROUNDS = 1 if QUICK else 3
AGENTS = 20
PASSWORD = "bench-password"
OURS_PORT, PEER_PORT, PG_OURS_PORT, RELAY_PORT, NORMAL_PORT = 3300, 3301, 3302, 3303, 3304
# Cluster nodes: ports NODE_PORT, NODE_PORT + 1, ...
NODE_PORT = 3310
# A Redis of the benchmark's own (scripts/redis.sh), apart from the tests' one.
REDIS_ENV = {"CHAT_REDIS_PORT": "56380"}
# A PostgreSQL server for the storage comparison, durable like SQLite's synchronous commits.
PG_ENV = {"CHAT_PG_DURABLE": "1", "CHAT_PG_PORT": "55433", "CHAT_PG_DIR": "/tmp/chat-bench-postgres"}


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def wait_port(port, proc, timeout=30):
    import socket
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listening on {port}")


class Server:
    def __init__(self, name, port, proc, tmp=None, kind=None):
        # `kind` is whose server it is (ours or the node peer), `name` the one shown.
        self.name, self.port, self.proc, self.tmp = name, port, proc, tmp
        self.kind = kind or name
        # A database server in its own processes (PostgreSQL's postmaster), if any.
        self.database_pid = None
        # In a cluster: the node the agents connect to, and every process whose CPU counts.
        self.agent_port = None
        self.also_pids = []

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def postgres_database():
    """A new database on the benchmark's PostgreSQL server (started if needed)."""
    url = subprocess.run([os.path.join(ROOT, "scripts/postgres.sh")], env=dict(os.environ, **PG_ENV),
                         capture_output=True, text=True, check=True).stdout.strip()
    name = f"bench_{os.getpid()}_{int(time.time() * 1000)}"
    subprocess.run(["psql", url, "-qc", f"CREATE DATABASE {name}"], check=True)
    return url.rsplit("/", 1)[0] + "/" + name


def start_ours(database_url=None, port=OURS_PORT, name="ours", redis_url=None, add_agents=True, env=None):
    tmp = tempfile.mkdtemp(prefix="chat-bench-")
    env = dict(os.environ, DATABASE_URL=database_url or f"sqlite://{tmp}/bench.db", RUST_LOG="warn",
               LEPTOS_SITE_ADDR=f"127.0.0.1:{port}", LEPTOS_SITE_ROOT=os.path.join(ROOT, "target/site"),
               LEPTOS_OUTPUT_NAME="chat",
               # The generator is one address sending far faster than people type: the
               # benchmark measures the server, not its abuse limits.
               LIMITS="off", **(env or {}))
    if redis_url:
        env["REDIS_URL"] = redis_url
    for i in range(AGENTS if add_agents else 0):
        subprocess.run([SERVER, "agent", "add", f"agent-{i}"], input=PASSWORD + "\n", text=True, env=env,
                       check=True, stdout=subprocess.DEVNULL)
    proc = subprocess.Popen([SERVER], env=env, stdout=subprocess.DEVNULL, stderr=open(f"{tmp}/server.log", "w"))
    wait_port(port, proc)
    return Server(name, port, proc, tmp, kind="ours")


def start_peer():
    env = dict(os.environ, PORT=str(PEER_PORT))
    proc = subprocess.Popen(["node", "server.js"], cwd=os.path.join(ROOT, "bench/peer"), env=env,
                            stdout=subprocess.DEVNULL)
    wait_port(PEER_PORT, proc)
    return Server("node", PEER_PORT, proc)


def start_relay():
    """The bound: the tutorial's protocol relayed in memory by socketioxide (bench/src/bin/relay.rs)."""
    proc = subprocess.Popen([RELAY, "--addr", f"127.0.0.1:{RELAY_PORT}"], stdout=subprocess.DEVNULL)
    wait_port(RELAY_PORT, proc)
    # It speaks the tutorial's protocol: the generator drives it as it drives the peer.
    return Server("relay", RELAY_PORT, proc, kind="node")


def generator(server, args, prefix, bind=None):
    cmd = [BENCH, "--server", f"127.0.0.1:{server.port}", "--peer", server.kind, "--password", PASSWORD,
           "--prefix", prefix, "--server-pid", str(server.proc.pid)]
    if bind:
        cmd += ["--bind", bind]
    if server.database_pid:
        cmd += ["--database-pid", str(server.database_pid)]
    if server.agent_port:
        cmd += ["--agent-server", f"127.0.0.1:{server.agent_port}"]
    if server.also_pids:
        cmd += ["--also-pid", ",".join(str(p) for p in server.also_pids)]
    return cmd + args


def run(server, args, prefix, timeout=600):
    out = subprocess.run(generator(server, args, prefix), capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"bench {args} on {server.name} failed: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    log(f"{server.name} {' '.join(args)}: {json.dumps(result)}")
    return result


def paired(ours, peer, args, prefix, key="delivered_per_s", more=()):
    """Runs `args` on both servers (and any `more`) ROUNDS times, alternating (the machine
    is shared and its speed drifts between runs), and returns the run with the median `key`
    of each, in that order."""
    servers = (ours, peer) + tuple(more)
    runs = {server.name: [] for server in servers}
    for i in range(ROUNDS):
        for server in servers:
            runs[server.name].append(run(server, args, f"{prefix}{i}"))
    median = lambda rs: sorted(rs, key=lambda r: r[key])[len(rs) // 2]
    spread = lambda rs: f"{min(r[key] for r in rs):.1f}-{max(r[key] for r in rs):.1f}"
    log(f"{key} over {ROUNDS} rounds: " + ", ".join(f"{s.name} {spread(runs[s.name])}" for s in servers))
    return tuple(median(runs[s.name]) for s in servers)


def settle(server, seconds=60):
    """Waits until the server uses under 5% of a core (what went before is done)."""
    def cpu():
        with open(f"/proc/{server.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    deadline = time.time() + seconds
    last = cpu()
    while time.time() < deadline:
        time.sleep(0.5)
        now = cpu()
        if now - last < 0.025:
            return
        last = now


def idle(server, connections, procs, prefix):
    """RSS per idle logged-in connection: connects `connections` customers from `procs`
    generator processes (each from its own 127.0.0.x), reads RSS once all are in."""
    settle(server)
    before = rss_kib(server.proc.pid)
    per = connections // procs
    gens = []
    for p in range(procs):
        bind = f"127.0.0.{2 + p}" if procs > 1 else None
        cmd = generator(server, ["--concurrency", "128", "idle", "--connections", str(per)], f"{prefix}{p}", bind)
        gens.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    started = time.time()
    ready = 0
    for g in gens:
        line = g.stdout.readline()
        ready += json.loads(line)["ready"] if line else 0
    login_s = time.time() - started
    settle(server)
    after = rss_kib(server.proc.pid)
    for g in gens:
        g.stdin.close()
    for g in gens:
        g.wait(60)
    result = {"connections": ready, "rss_before_kib": before, "rss_after_kib": after,
              "kib_per_connection": (after - before) / max(ready, 1), "login_s": login_s}
    log(f"{server.name} idle {connections}: {json.dumps(result)}")
    return result


def with_relay(row, key, relay, peer, fmt="{:.1f}"):
    """`row` with the relay's figure for `key` and its ratio to the peer's."""
    return row + (fmt.format(relay[key]), ratio(relay[key], peer[key]) if peer else "")


def ratio(ours, peer):
    if ours is None or peer in (None, 0):
        return "–"
    return f"{ours / peer:.2f}"


def main():
    if not all(os.path.exists(p) for p in (BENCH, SERVER, RELAY)):
        sys.exit("build first: cargo build --release -p server -p bench")
    scale = 0.2 if QUICK else 1.0
    secs = "3" if QUICK else "10"
    customers = 20 if QUICK else 100
    if os.environ.get("ONLY") == "storage":
        print_storage(storage(customers, secs))
        return
    if os.environ.get("ONLY") == "cluster":
        print_cluster(*cluster(customers, secs, scale))
        return
    rows = peer_rows(customers, secs, scale)
    if os.environ.get("ONLY") == "peer":
        print_peer(rows)
        return
    storage_rows = storage(customers, secs)
    cluster_rows = cluster(customers, secs, scale)
    print_peer(rows)
    print_storage(storage_rows)
    print_cluster(*cluster_rows)


def peer_rows(customers, secs, scale):
    """Ours against the Node peer (and the relay): throughput, latency, storms, idle memory."""
    rows = []
    ours = peer = relay = None
    try:
        ours, peer, relay = start_ours(), start_peer(), start_relay()
        # Throughput, closed loop: the make-bench shape, then many customers per agent.
        t_peer = None
        for agents, n in ((AGENTS, customers), (AGENTS // 2, customers * 2)):
            tp_args = ["throughput", "--agents", str(agents), "--customers", str(n), "--window", "4",
                       "--warmup-s", "2", "--seconds", secs]
            t_o, t_p, t_r = paired(ours, peer, tp_args, f"t{agents}-", more=[relay])
            shape = f"{agents} agents, {n} customers"
            rows.append(with_relay((f"delivered messages/s (closed loop, {shape})", f"{t_o['delivered_per_s']:.0f}",
                         f"{t_p['delivered_per_s']:.0f}", ratio(t_o["delivered_per_s"], t_p["delivered_per_s"]), "≥ 3"),
                         "delivered_per_s", t_r, t_p, "{:.0f}"))
            rows.append(with_relay((f"server CPU µs per delivered message ({shape})", f"{t_o['cpu_us_per_message']:.1f}",
                         f"{t_p['cpu_us_per_message']:.1f}", ratio(t_o["cpu_us_per_message"], t_p["cpu_us_per_message"]), "≤ 0.33"),
                         "cpu_us_per_message", t_r, t_p))
            rows.append(with_relay((f"generator CPU µs per delivered message ({shape})", f"{t_o['generator_cpu_us_per_message']:.1f}",
                         f"{t_p['generator_cpu_us_per_message']:.1f}", "", ""), "generator_cpu_us_per_message", t_r, None))
            t_peer = t_peer or t_p
        # Latency at the same offered load: half of what the peer managed, then a low rate.
        half = max(100.0, round(t_peer["delivered_per_s"] / 2))
        for rate, targets in ((half, {"p50_ms": "≤ 1", "p99_ms": "≤ 0.5"}), (200.0, {"p50_ms": "≤ 1"})):
            lat_args = ["throughput", "--agents", str(AGENTS), "--customers", str(customers), "--rate", str(rate),
                        "--warmup-s", "2", "--seconds", secs]
            l_ours, l_peer, l_relay = paired(ours, peer, lat_args, f"l{rate:.0f}-", key="p99_ms", more=[relay])
            for p in ("p50_ms", "p99_ms", "p999_ms"):
                rows.append(with_relay((f"latency {p[:-3]} at {rate:.0f} msg/s (ms)", f"{l_ours[p]:.2f}", f"{l_peer[p]:.2f}",
                             ratio(l_ours[p], l_peer[p]), targets.get(p, "")), p, l_relay, l_peer, "{:.2f}"))
            rows.append(with_relay((f"server CPU µs per message at {rate:.0f} msg/s", f"{l_ours['cpu_us_per_message']:.1f}",
                         f"{l_peer['cpu_us_per_message']:.1f}", ratio(l_ours["cpu_us_per_message"], l_peer["cpu_us_per_message"]), ""),
                         "cpu_us_per_message", l_relay, l_peer))
        relay.stop()
        # Login storm.
        n_small = int(1000 * scale)
        storm_args = ["storm", "--agents", str(AGENTS), "--customers", str(n_small), "--timeout-s", "120"]
        settle(ours), settle(peer)
        s_ours = run(ours, storm_args, "s")
        s_peer = run(peer, storm_args, "s")
        fmt = lambda s: f"{s['seconds']:.2f}" + ("" if s["finished"] else f" (only {s['logged_in']})")
        rows.append((f"login storm: {n_small} customers, {AGENTS} agents (s)", fmt(s_ours), fmt(s_peer),
                     ratio(s_ours["seconds"], s_peer["seconds"]), ""))
        n_big = int(10000 * scale)
        settle(ours)
        s_big = run(ours, ["storm", "--agents", str(AGENTS), "--customers", str(n_big), "--timeout-s", "120"], "S")
        rows.append((f"login storm: {n_big} customers, {AGENTS} agents (s)", fmt(s_big), "–", "–", "< 10 s"))
        # Idle connections, each on a freshly started server: memory freed by the runs
        # before would otherwise be reused and hide what a connection costs.
        ours.stop()
        peer.stop()
        ours, peer = start_ours(), start_peer()
        n_idle = int(500 * scale)
        i_ours = idle(ours, n_idle, 1, "i")
        i_peer = idle(peer, n_idle, 1, "i")
        ours.stop()
        ours = start_ours()
        rows.append((f"RSS per idle connection, {n_idle} (KiB)", f"{i_ours['kib_per_connection']:.1f}",
                     f"{i_peer['kib_per_connection']:.1f}", ratio(i_ours["kib_per_connection"], i_peer["kib_per_connection"]), "≤ 10 KiB"))
        n_many = int(19000 * scale)
        i_many = idle(ours, n_many, 4, "I")
        rows.append((f"RSS per idle connection, {i_many['connections']} held (KiB)", f"{i_many['kib_per_connection']:.1f}",
                     "–", "–", "≤ 10 KiB"))
    finally:
        for server in (ours, peer, relay):
            if server:
                server.stop()
    return rows


def print_peer(rows):
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
    print(f"\nours vs the tutorial's Node.js socket.io server (node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}), "
          f"one run on {os.cpu_count()} cores ({cpu}); generator on the same machine\n")
    print_table(None, ("measure", "ours", "node peer", "ours / peer", "target", "relay", "relay / peer"),
                [r if len(r) == 7 else r + ("–", "–") for r in rows])
    print("\n(relay: the same protocol relayed in memory by socketioxide, nothing stored; bench/src/bin/relay.rs)")


def print_cluster(pair_rows, capacity_rows):
    print_table("two nodes behind Redis vs one node (both on PostgreSQL with fsync on), side by side",
                ("measure", "one node", "two nodes", "two / one"), pair_rows)
    print_table("capacity: idle customers held over six nodes on this machine", ("measure", "value"), capacity_rows)


def print_table(title, header, rows):
    if title:
        print(f"\n{title}\n")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


def fdatasync_ms(directory, n=200):
    """How long this disk takes to make 4 KiB durable (os.fdatasync), p50 and p99 in ms:
    the floor under a commit that waits for the disk."""
    path = os.path.join(directory, "fsync-probe")
    took = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for _ in range(n):
            os.write(fd, b"x" * 4096)
            started = time.perf_counter()
            os.fdatasync(fd)
            took.append((time.perf_counter() - started) * 1000)
    finally:
        os.close(fd)
        os.unlink(path)
    took.sort()
    return took[len(took) // 2], took[len(took) * 99 // 100]


def storage(customers, secs):
    """Ours on SQLite (every commit fsynced, the default), on SQLite with SQLITE_SYNC=normal
    (no fsync: what the disk's flush costs) and on PostgreSQL: throughput, then latency at
    half the default's rate and at 200 msg/s, alternating rounds as for the peer."""
    lite = start_ours()
    normal = start_ours(port=NORMAL_PORT, name="sqlite-normal", env={"SQLITE_SYNC": "normal"})
    pg = start_ours(postgres_database(), PG_OURS_PORT, "postgres")
    with open(os.path.join(PG_ENV["CHAT_PG_DIR"], "postmaster.pid")) as f:
        # The database works in its own processes: their CPU is read with the server's.
        pg.database_pid = int(f.readline())
    rows = []
    row = lambda label, values, fmt="{:.1f}": (label, *(fmt.format(v) for v in values),
                                              ratio(values[1], values[0]), ratio(values[2], values[0]))
    try:
        tp_args = ["throughput", "--agents", str(AGENTS), "--customers", str(customers), "--window", "4",
                   "--warmup-s", "2", "--seconds", secs]
        t_lite, t_pg, t_normal = paired(lite, pg, tp_args, "pt", more=[normal])
        for key, label in (("delivered_per_s", "delivered messages/s (closed loop)"),
                           ("cpu_us_per_message", "chat server CPU µs per delivered message")):
            rows.append(row(label, (t_lite[key], t_normal[key], t_pg[key])))
        # SQLite works inside the chat server; PostgreSQL in its own processes.
        rows.append(row("CPU µs per delivered message, database included",
                        (t_lite["cpu_us_per_message"], t_normal["cpu_us_per_message"],
                         t_pg["cpu_us_per_message_with_database"])))
        half = max(100.0, round(t_lite["delivered_per_s"] / 2))
        for rate in (half, 200.0):
            lat_args = ["throughput", "--agents", str(AGENTS), "--customers", str(customers), "--rate", str(rate),
                        "--warmup-s", "2", "--seconds", secs]
            l_lite, l_pg, l_normal = paired(lite, pg, lat_args, f"pl{rate:.0f}-", key="p99_ms", more=[normal])
            for p in ("p50_ms", "p99_ms"):
                rows.append(row(f"latency {p[:-3]} at {rate:.0f} msg/s (ms)", (l_lite[p], l_normal[p], l_pg[p]), "{:.2f}"))
        p50, p99 = fdatasync_ms(lite.tmp)
        rows.append(("this disk: fdatasync of 4 KiB, p50 / p99 (ms)", f"{p50:.2f} / {p99:.2f}", "–", "–", "–", "–"))
    finally:
        for server in (lite, normal, pg):
            server.stop()
        subprocess.run([os.path.join(ROOT, "scripts/postgres.sh"), "stop"], env=dict(os.environ, **PG_ENV), check=False)
    return rows


def print_storage(rows):
    print_table("ours on SQLite (default: every commit fsynced), on SQLite with SQLITE_SYNC=normal (no fsync) "
                "and on PostgreSQL (fsync on), side by side",
                ("measure", "SQLite", "SQLite, normal", "PostgreSQL", "normal / SQLite", "PostgreSQL / SQLite"), rows)


def redis_url():
    """The benchmark's Redis (started if needed), emptied."""
    url = subprocess.run([os.path.join(ROOT, "scripts/redis.sh")], env=dict(os.environ, **REDIS_ENV),
                         capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["redis-cli", "-u", url, "FLUSHALL"], check=True, stdout=subprocess.DEVNULL)
    return url


def redis_pid():
    port = REDIS_ENV["CHAT_REDIS_PORT"]
    with open(f"/tmp/chat-test-redis-{port}/redis.pid") as f:
        return int(f.read().strip())


def start_nodes(n, database_url, redis):
    """`n` nodes of one cluster on ports NODE_PORT.. (agent accounts added once)."""
    nodes = []
    for i in range(n):
        nodes.append(start_ours(database_url, NODE_PORT + i, f"node{i}", redis_url=redis, add_agents=(i == 0)))
    return nodes


def cluster(customers, secs, scale):
    """One node against two behind Redis, then the capacity of six."""
    one = start_ours(postgres_database(), PG_OURS_PORT, "one node")
    redis = redis_url()
    a, b = start_nodes(2, postgres_database(), redis)
    with open(os.path.join(PG_ENV["CHAT_PG_DIR"], "postmaster.pid")) as f:
        pg_pid = int(f.readline())
    one.database_pid = pg_pid
    # Customers on node A, agents on node B; the CPU of both nodes and of Redis counts.
    a.name, a.agent_port, a.database_pid, a.also_pids = "two nodes", b.port, pg_pid, [b.proc.pid, redis_pid()]
    pair_rows = []
    try:
        tp_args = ["throughput", "--agents", str(AGENTS), "--customers", str(customers), "--window", "4",
                   "--warmup-s", "2", "--seconds", secs]
        t_one, t_two = paired(one, a, tp_args, "ct")
        pair_rows.append(("delivered messages/s (closed loop)", f"{t_one['delivered_per_s']:.0f}",
                          f"{t_two['delivered_per_s']:.0f}", ratio(t_two["delivered_per_s"], t_one["delivered_per_s"])))
        pair_rows.append(("CPU µs per message: chat servers (+ Redis)", f"{t_one['cpu_us_per_message']:.1f}",
                          f"{t_two['cpu_us_per_message']:.1f}", ratio(t_two["cpu_us_per_message"], t_one["cpu_us_per_message"])))
        w_one, w_two = t_one["cpu_us_per_message_with_database"], t_two["cpu_us_per_message_with_database"]
        pair_rows.append(("CPU µs per message, PostgreSQL included", f"{w_one:.1f}", f"{w_two:.1f}", ratio(w_two, w_one)))
        rate = max(100.0, round(t_one["delivered_per_s"] / 2))
        lat_args = ["throughput", "--agents", str(AGENTS), "--customers", str(customers), "--rate", str(rate),
                    "--warmup-s", "2", "--seconds", secs]
        l_one, l_two = paired(one, a, lat_args, "cl", key="p99_ms")
        for p in ("p50_ms", "p99_ms"):
            pair_rows.append((f"latency {p[:-3]} at {rate:.0f} msg/s (ms)", f"{l_one[p]:.2f}", f"{l_two[p]:.2f}",
                              ratio(l_two[p], l_one[p])))
    finally:
        for s in (one, a, b):
            s.stop()
    try:
        return pair_rows, capacity(int(100000 * scale), 6, secs)
    finally:
        stop_services()


def stop_services():
    """Stops the benchmark's own PostgreSQL and Redis."""
    for script, env in (("scripts/postgres.sh", PG_ENV), ("scripts/redis.sh", REDIS_ENV)):
        subprocess.run([os.path.join(ROOT, script), "stop"], env=dict(os.environ, **env), check=False)


def capacity(total, n_nodes, secs):
    """`total` idle customers over `n_nodes` nodes, one generator process per node (each
    from its own 127.0.0.x); then a short run of messages from customers on the last node to
    agents on the first, while they are all held."""
    redis = redis_url()
    nodes = start_nodes(n_nodes, postgres_database(), redis)
    rows = []
    gens = []
    try:
        started = time.time()
        for i, node in enumerate(nodes):
            per = total // n_nodes + (1 if i < total % n_nodes else 0)
            cmd = generator(node, ["--concurrency", "64", "idle", "--connections", str(per)], f"cap{i}", f"127.0.0.{2 + i}")
            gens.append(subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
        ready = 0
        for g in gens:
            line = g.stdout.readline()
            ready += json.loads(line)["ready"] if line else 0
        login_s = time.time() - started
        for node in nodes:
            settle(node)
        log(f"capacity: {ready} customers held after {login_s:.1f} s")
        rows.append((f"customers logged in and held ({n_nodes} nodes, {n_nodes} generator processes)", f"{ready} of {total}"))
        rows.append(("time to log them all in (s)", f"{login_s:.1f}"))
        rss = [rss_kib(n.proc.pid) for n in nodes]
        rows.append(("RSS per node (MiB)", ", ".join(f"{r / 1024:.0f}" for r in rss)))
        used = subprocess.run(["redis-cli", "-u", redis, "info", "memory"], capture_output=True, text=True).stdout
        used = next((l.split(":")[1].strip() for l in used.splitlines() if l.startswith("used_memory_human:")), "?")
        rows.append(("Redis memory", used))
        # Messages across nodes while everyone is held: customers on the last node, agents on the first.
        last, first = nodes[-1], nodes[0]
        last.agent_port, last.also_pids = first.port, [n.proc.pid for n in nodes[:-1]] + [redis_pid()]
        t = run(last, ["throughput", "--agents", "4", "--customers", "20", "--rate", "200", "--warmup-s", "2",
                       "--seconds", secs], "capmsg")
        rows.append(("while held: messages across nodes at 200 msg/s, delivered/s",
                     f"{t['delivered_per_s']:.0f} ({t.get('failed_customers', 0)} customers failed)"))
        rows.append(("while held: latency p50 / p99 (ms)", f"{t['p50_ms']:.1f} / {t['p99_ms']:.1f}"))
    finally:
        for g in gens:
            try:
                g.stdin.close()
            except OSError:
                pass
        for g in gens:
            try:
                g.wait(60)
            except subprocess.TimeoutExpired:
                g.kill()
        for n in nodes:
            n.stop()
    return rows


if __name__ == "__main__":
    main()
