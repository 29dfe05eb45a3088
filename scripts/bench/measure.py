"""Shared helpers for Ferry's benchmark scripts: run a command, report wall time and peak RSS."""
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MAKE_CORPUS = os.path.join(ROOT, "scripts", "make-corpus")


def corpus(profile, count=None):
    """Makes (once) and returns a benchmark corpus under .build/bench-corpus."""
    name = profile + (f"-{count}" if count else "")
    out = os.path.join(ROOT, ".build", "bench-corpus", name)
    marker = out + ".complete"  # beside the corpus, so the corpus holds only its files
    if not os.path.exists(marker):
        args = [sys.executable, MAKE_CORPUS, out, "--profile", profile] + (["--count", str(count)] if count else [])
        subprocess.run(args, check=True)
        open(marker, "w").close()
    return out


def files_under(directory):
    out = []
    for root, _, names in os.walk(directory):
        out += [os.path.join(root, n) for n in names]
    return sorted(out)


def warm(paths):
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 20):
                pass


def run(cmd, env=None, stdout=subprocess.DEVNULL):
    """Runs cmd; returns (wall seconds, peak RSS in MiB, exit status)."""
    wall, rss, status, _ = run_with_cpu(cmd, env, stdout)
    return wall, rss, status


def run_with_cpu(cmd, env=None, stdout=subprocess.DEVNULL):
    """Runs cmd; returns (wall seconds, peak RSS in MiB, exit status, CPU seconds, user + system)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_maxrss / 1024.0, os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime


def best_of(n, cmd, env=None):
    """Median wall time and max RSS over n runs."""
    results = [run(cmd, env) for _ in range(n)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results), results[-1][2]


def build_release():
    subprocess.run(["swift", "build", "-c", "release", "--product", "ferry"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return os.path.join(ROOT, ".build", "release", "ferry")


def free_port():
    """A free TCP port on loopback."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, seconds=10):
    """Waits until something accepts connections on 127.0.0.1:port."""
    import socket
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on port {port}")


def ready_corpus(profile):
    """Makes (once) and warms a corpus; returns (directory, files, megabytes)."""
    directory = corpus(profile)
    files = files_under(directory)
    warm(files)
    return directory, files, sum(os.path.getsize(f) for f in files) / 1e6


def network_env():
    """The environment for DCMTK peers: without TCP_NODELAY delayed ACKs make them ~50x slower."""
    return dict(os.environ, TCP_NODELAY="1")


class Peers:
    """Peer processes a benchmark starts (each waited for on its port) and stops at the end."""

    def __init__(self, env):
        self.env = env
        self.running = []

    def start(self, cmd, port):
        p = subprocess.Popen(cmd, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.running.append(p)
        wait_port(port)
        return p

    def stop(self, p):
        p.terminate()
        p.wait()
        self.running.remove(p)

    def stop_all(self):
        for p in list(self.running):
            self.stop(p)
