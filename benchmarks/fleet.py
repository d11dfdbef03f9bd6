"""One exporter probing a fleet of real chronyd, against one ``chronyc -c`` per report.

Starts N labs (:class:`pychrony.lab.Lab`: a server and a client chronyd each, 1 source,
polling every 64 s so the fleet itself stays quiet), one ``python -m pychrony.exporter
--probe.only`` pinned to its own CPU, then measures:

* **interval**: N probes spread evenly over one scrape interval, as Prometheus spreads
  its targets: the exporter's CPU over the interval (utime + stime from
  /proc/PID/stat) as a share of one core, each probe's latency as the client sees
  it (HTTP over loopback, one keep-alive connection per target as Prometheus holds),
  whether all N were done within the interval;
* **burst**: N probes at once over the same connections: wall time, latencies, and
  probes per CPU-second of the exporter (probes/s per core);
* the exporter's RSS after both (every target's connection cached);
* **naive**: the same N targets each read by three ``chronyc -c -h 127.0.0.1 -p PORT``
  spawns (tracking, sources, sourcestats: the probe's reports), spread over the
  interval the same way, 16 at most at once, pinned to the same CPU; CPU of the
  chronyc processes from ``getrusage(RUSAGE_CHILDREN)``.

CPU placement: this process (the load generator) and the labs' chronyd on CPU 0
(the daemons inherit its affinity), the exporter and the chronyc spawns on CPU 1
(:data:`EXPORTER_CPU`). ``python benchmarks/fleet.py --sizes 10 100 250`` prints the
figures as JSON; benchmarks/test_bench_fleet.py runs it under pytest-benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

from placement import pin  # beside this file

from pychrony.lab import Lab, ensure_chrony

LOADGEN_CPU = 0
EXPORTER_CPU = 1
COLLECTORS = "tracking,sources,sourcestats"
NAIVE_REPORTS = ("tracking", "sources", "sourcestats")
NAIVE_CONCURRENCY = 16
_TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Figures:
    """One fleet size's measurements (seconds unless named otherwise)."""

    targets: int
    interval: float
    cpu_share: float  # exporter CPU over the interval / the interval (1.0 = one core)
    p50: float
    p99: float
    worst: float
    all_within_interval: bool
    failed: int
    burst_wall: float
    burst_probes_per_cpu_second: float
    burst_p50: float
    burst_p99: float
    rss_mib: float
    naive_cpu_share: float
    naive_p50: float
    naive_p99: float
    naive_all_within_interval: bool
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


@contextlib.contextmanager
def fleet(size: int) -> Iterator[list[Lab]]:
    """``size`` started labs, synchronised; stopped afterwards."""
    labs: list[Lab] = []
    try:
        for _ in range(size):
            lab = Lab(sources=1, refclock=False, poll=6, sync_timeout=120)
            labs.append(lab)
            lab.start(wait=False)
        for lab in labs:
            lab.wait_synced()
        yield labs
    finally:
        for lab in labs:
            lab.stop()


@contextlib.contextmanager
def exporter(*flags: str) -> Iterator[tuple[int, str]]:
    """``(pid, url)`` of a probe-only exporter pinned to :data:`EXPORTER_CPU`."""
    argv = ["taskset", "-c", str(EXPORTER_CPU), sys.executable, "-m", "pychrony.exporter"]
    argv += ["--probe.only", "--web.listen-address=127.0.0.1:0", *flags]
    argv = argv if _has_taskset() else argv[3:]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        port = None
        for line in proc.stderr:
            found = re.search(r'msg="Listening on" address=\S*:(\d+)', line)
            if found:
                port = int(found.group(1))
                break
        if port is None:
            raise RuntimeError("the exporter did not start")
        yield proc.pid, f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stderr.close()


def _has_taskset() -> bool:
    return subprocess.run(["sh", "-c", "command -v taskset"], capture_output=True).returncode == 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Scraper:
    """A keep-alive HTTP/1.1 connection per target, as Prometheus holds them (a minimal
    client: httpx's pool, at 100+ concurrent requests, cost the load generator more
    than the exporter spent and hid its latency)."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.host, self.port = host, int(port)
        self._streams: dict[str, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}

    async def probe(self, target: str) -> tuple[float, bool]:
        """(seconds, chrony_up was 1) of one ``GET /probe`` of ``target``."""
        start = time.monotonic()
        query = urlencode({"target": target, "collectors": COLLECTORS})
        request = f"GET /probe?{query} HTTP/1.1\r\nHost: exporter\r\n\r\n".encode()
        for attempt in (1, 2):  # the server may have closed an idle connection: once more
            streams = self._streams.get(target)
            if streams is None:
                streams = await asyncio.open_connection(self.host, self.port)
                self._streams[target] = streams
            reader, writer = streams
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                break
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()
                del self._streams[target]
                if attempt == 2:
                    raise
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
        body = await reader.readexactly(length)
        ok = head.startswith(b"HTTP/1.1 200") and b"\nchrony_up 1.0\n" in body
        return time.monotonic() - start, ok

    def close(self) -> None:
        for _, writer in self._streams.values():
            writer.close()


async def _spread(scraper: Scraper, targets: Sequence[str], interval: float) -> tuple:
    """Probe each target once, the starts spread evenly over ``interval``."""
    begin = time.monotonic()

    async def one(i: int, target: str) -> tuple[float, bool, float]:
        await asyncio.sleep(max(0.0, begin + i * interval / len(targets) - time.monotonic()))
        latency, ok = await scraper.probe(target)
        return latency, ok, time.monotonic() - begin

    return tuple(await asyncio.gather(*(one(i, t) for i, t in enumerate(targets))))


async def _measure_exporter(pid: int, url: str, targets: Sequence[str], interval: float) -> dict:
    scraper = Scraper(url)
    try:
        await _spread(scraper, targets, min(interval, 2.0))  # warm: connections opened
        before = cpu_seconds(pid)
        spread = await _spread(scraper, targets, interval)
        used = cpu_seconds(pid) - before
        wall = max(interval, max(done for _, _, done in spread))
        before = cpu_seconds(pid)
        start = time.monotonic()
        burst = await asyncio.gather(*(scraper.probe(t) for t in targets))
        burst_wall = time.monotonic() - start
        burst_cpu = cpu_seconds(pid) - before
    finally:
        scraper.close()
    latencies = [latency for latency, _, _ in spread]
    return {
        "cpu_share": used / wall,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "worst": max(latencies),
        "all_within_interval": max(done for _, _, done in spread) <= interval,
        "failed": sum(not ok for _, ok, _ in spread) + sum(not ok for _, ok in burst),
        "burst_wall": burst_wall,
        "burst_probes_per_cpu_second": len(targets) / max(burst_cpu, 1 / _TICK),
        "burst_p50": statistics.median([latency for latency, _ in burst]),
        "burst_p99": percentile([latency for latency, _ in burst], 0.99),
        "rss_mib": rss_mib(pid),
    }


async def _naive(chronyc: str, labs: Sequence[Lab], interval: float) -> dict:
    """Three chronyc spawns per target, spread over ``interval``."""
    gate = asyncio.Semaphore(NAIVE_CONCURRENCY)
    begin = time.monotonic()

    def on_exporter_cpu() -> None:
        pin(EXPORTER_CPU)

    async def one(i: int, lab: Lab) -> tuple[float, float]:
        await asyncio.sleep(max(0.0, begin + i * interval / len(labs) - time.monotonic()))
        async with gate:
            start = time.monotonic()
            for report in NAIVE_REPORTS:
                proc = await asyncio.create_subprocess_exec(
                    chronyc,
                    "-c",
                    "-h",
                    lab.udp_host,
                    "-p",
                    str(lab.cmd_port),
                    report,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                    preexec_fn=on_exporter_cpu,
                )
                await proc.wait()
            return time.monotonic() - start, time.monotonic() - begin

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    results = await asyncio.gather(*(one(i, lab) for i, lab in enumerate(labs)))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    wall = max(interval, max(done for _, done in results))
    latencies = [latency for latency, _ in results]
    return {
        "naive_cpu_share": used / wall,
        "naive_p50": statistics.median(latencies),
        "naive_p99": percentile(latencies, 0.99),
        "naive_all_within_interval": max(done for _, done in results) <= interval,
    }


def measure(labs: Sequence[Lab], interval: float, *flags: str) -> Figures:
    """The figures of one fleet (see the module's docstring)."""
    _, chronyc = ensure_chrony()
    load_before = os.getloadavg()
    targets = [lab.udp_address for lab in labs]
    with exporter(*flags) as (pid, url):
        ours = asyncio.run(_measure_exporter(pid, url, targets, interval))
    naive = asyncio.run(_naive(chronyc, labs, interval))
    return Figures(
        targets=len(labs),
        interval=interval,
        load_before=load_before,
        load_after=os.getloadavg(),
        **ours,
        **naive,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 250])
    parser.add_argument("--interval", type=float, default=15.0)
    parser.add_argument("--backend", default="python", choices=("python", "native"))
    args = parser.parse_args(argv)
    pin(LOADGEN_CPU)
    results = []
    with fleet(max(args.sizes)) as labs:
        for size in args.sizes:
            figures = measure(labs[:size], args.interval, f"--chrony.backend={args.backend}")
            results.append(asdict(figures))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print(json.dumps({"backend": args.backend, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
