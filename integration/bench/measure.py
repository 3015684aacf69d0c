"""Times hull, runc and crun in interleaved rounds (one container of each per round, the
order rotating), so that load drifting on the host hits all three alike. Prints medians
in ms and hull's ratios. Called by run.sh inside its private mount namespace."""

import os
import statistics
import sys
import time

work, n, hull = sys.argv[1], int(sys.argv[2]), sys.argv[3]
runtimes = {"hull": hull, "runc": "/usr/sbin/runc", "crun": "/usr/bin/crun"}
bundle = f"{work}/bundle"
devnull = os.open(os.devnull, os.O_RDWR)


def spawn(argv):
    """Runs argv with stdio on /dev/null; returns (seconds, exit status)."""
    fa = [(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)]
    t = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=fa)
    _, status = os.waitpid(pid, 0)
    return time.perf_counter() - t, os.waitstatus_to_exitcode(status)


def one_run(rt, binary, i):
    root = f"{work}/root-{rt}"
    dt, rc = spawn([binary, "--root", root, "run", "--bundle", bundle, f"r{i}"])
    if rc != 0:
        sys.exit(f"{rt} run failed: {rc}")
    return dt


def one_lifecycle(rt, binary, i):
    root = f"{work}/root-{rt}"
    total = 0.0
    for args in (["create", "--bundle", bundle, f"l{i}"], ["start", f"l{i}"], ["delete", "-f", f"l{i}"]):
        dt, rc = spawn([binary, "--root", root] + args)
        if rc != 0:
            sys.exit(f"{rt} {args[0]} failed: {rc}")
        total += dt
    return total


def one_exec(rt, binary, i):
    root = f"{work}/root-{rt}"
    dt, rc = spawn([binary, "--root", root, "exec", f"sleeper-{rt}", "true"])
    if rc != 0:
        sys.exit(f"{rt} exec failed: {rc}")
    return dt


names = list(runtimes)
for rt in names:
    os.makedirs(f"{work}/root-{rt}", exist_ok=True)
results = {}
# exec goes into one long-running container per runtime.
for rt in names:
    _, rc = spawn([runtimes[rt], "--root", f"{work}/root-{rt}", "run", "-d", "--bundle", f"{work}/sleeper", f"sleeper-{rt}"])
    if rc != 0:
        sys.exit(f"{rt} run -d failed: {rc}")
for kind, fn in (("run", one_run), ("create+start+delete", one_lifecycle), ("exec", one_exec)):
    times = {rt: [] for rt in names}
    for i in range(-3, n):  # three warm-up rounds
        order = names[i % 3:] + names[: i % 3]
        for rt in order:
            dt = fn(rt, runtimes[rt], i + 3)
            if i >= 0:
                times[rt].append(dt)
    results[kind] = {rt: statistics.median(ts) * 1000 for rt, ts in times.items()}

for rt in names:
    spawn([runtimes[rt], "--root", f"{work}/root-{rt}", "delete", "-f", f"sleeper-{rt}"])

print(f"hull benchmark: {n} interleaved rounds, medians in ms (busybox bundle, /bin/true)")
print(f"{'':22}{'hull':>8}{'runc':>8}{'crun':>8}{'hull/runc':>11}{'hull/crun':>11}")
for kind, m in results.items():
    h, r, c = m["hull"], m["runc"], m["crun"]
    print(f"{kind:22}{h:8.2f}{r:8.2f}{c:8.2f}{h / r:11.2f}{h / c:11.2f}")
print(f"hull binary: {os.stat(hull).st_size / 1e6:.2f} MB")
