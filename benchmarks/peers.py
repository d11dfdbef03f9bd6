"""pychrony against its peers, interleaved on the same real chronyd.

Every contender runs in its own process and answers the same small line protocol
(``benchmarks/runner.py`` for the Python ones, ``benchmarks/wire_floor.c`` for
the wire floor). The driver sends each one a batch of calls of one operation in
turn, round after round, in a shuffled order, so that whatever the machine's
load does (a round trip here swings 3x with it) hits all contenders alike. A
sample is one batch's mean time per call; a cell of the table is the median of
the samples, with their min-max.

Contenders (keys): ``floor`` and ``floor8`` (the wire floor, 1 and 8 requests in
flight), ``native`` and ``python`` (pychrony's backends), ``pychrony2`` (pychrony
2.0.3 from PyPI, in its own virtualenv) and ``chronyc`` (``chronyc -c -n`` spawned
per query). The test suite ``test_bench_peers.py`` drives this module; this file
also renders the results as Markdown::

    python benchmarks/peers.py render RESULTS.json [--readme benchmarks/README.md]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes.util
import datetime
import json
import os
import platform
import random
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from placement import CLIENT_CPU, can_pin, pin, placement  # beside this file

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RUNNER = HERE / "runner.py"
WIRE_FLOOR_C = HERE / "wire_floor.c"

#: Operations measured for every contender, in table order.
OPS = ("tracking", "sources", "snapshot")
OP_LABELS = {
    "tracking": "get_tracking()",
    "sources": "get_sources()",
    "snapshot": "snapshot",
}
#: Contender keys in table order, with their labels.
LABELS = {
    "floor": "wire floor (C, 1 in flight)",
    "floor8": "wire floor (C, 8 in flight)",
    "native": "pychrony native",
    "python": "pychrony python",
    "pychrony2": "pychrony 2.0.3 (CFFI)",
    "chronyc": "chronyc -c -n (spawned)",
}
#: The contender the "x floor" ratios divide by.
FLOOR = "floor"
#: Lab sizes (number of NTP sources).
LAB_SIZES = (1, 8, 64)
#: The lab size whose workers are also polled for RSS growth.
GROWTH_LAB = 8
#: En dash, for ranges and empty cells in the tables.
DASH = "\u2013"
README_BEGIN = "<!-- peers:begin -->"
README_END = "<!-- peers:end -->"


class BenchError(RuntimeError):
    """A contender failed or did not answer."""


@dataclass
class Config:
    """How the peer comparison runs."""

    quick: bool = False
    rounds: int = 40
    #: Target length of one batch (seconds): the batch size is calibrated to it.
    batch_seconds: float = 0.02
    growth_polls: int = 100_000
    growth_snapshots: int = 10_000
    import_repeats: int = 7
    wire_floor: str = ""
    chronyc: str = "chronyc"
    #: Interpreter of the python backend (default: the native one, else this one).
    python: str = sys.executable
    #: Interpreter whose pychrony has the native extension over a real libchrony.
    native_python: str = sys.executable
    #: Interpreter of the virtualenv holding pychrony 2.0.3.
    pychrony2_python: str | None = None
    seed: int = 20240601
    worker_timeout: float = 300.0

    @classmethod
    def for_mode(cls, quick: bool, **overrides: Any) -> Config:
        """Defaults for the full run, or tiny ones for the CI quick mode."""
        if quick:
            base: dict[str, Any] = {
                "rounds": 1,
                "growth_polls": 200,
                "growth_snapshots": 10,
                "import_repeats": 1,
            }
            base.update({k: v for k, v in overrides.items() if v is not None})
            return cls(quick=True, **base)
        return cls(**{k: v for k, v in overrides.items() if v is not None})


@dataclass(frozen=True)
class Contender:
    """One contender: how to start its worker process."""

    key: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return LABELS[self.key]

    def command(self, address: str) -> list[str]:
        """The worker's command line for chronyd at ``address``."""
        if self.key.startswith("floor"):
            where = ["--unix", address] if address.startswith("/") else ["--udp", address]
            return [self.argv[0], *where, *self.argv[1:]]
        return [*self.argv, address]


def build_wire_floor(out_dir: Path, cc: str | None = None) -> Path:
    """Compile ``wire_floor.c`` into ``out_dir``; return the executable's path."""
    cc = cc or os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or "cc"
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / "wire_floor"
    flags = ["-std=c11", "-O2", "-Wall", "-Wextra", "-Werror"]
    subprocess.run([cc, *flags, "-o", str(binary), str(WIRE_FLOOR_C)], check=True)
    return binary


def source_tree_env(python: str) -> tuple[tuple[str, str], ...]:
    """PYTHONPATH to this source tree when ``python`` has no pychrony installed."""
    if not python or not os.access(python, os.X_OK):
        return ()
    found = subprocess.run([python, "-c", "import pychrony"], capture_output=True, cwd=HERE)
    if found.returncode == 0:
        return ()
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return (("PYTHONPATH", path),)


def contenders(config: Config) -> list[Contender]:
    """All contenders, in table order."""
    floor = config.wire_floor
    runner = str(RUNNER)
    chronyc = ("--chronyc", config.chronyc)
    native_env = source_tree_env(config.native_python)
    python_env = source_tree_env(config.python)
    out = [
        Contender("floor", (floor, "--window", "1", "--serve")),
        Contender("floor8", (floor, "--window", "8", "--serve")),
        Contender("native", (config.native_python, runner, "native"), native_env),
        Contender("python", (config.python, runner, "python"), python_env),
    ]
    if config.pychrony2_python:
        out.append(Contender("pychrony2", (config.pychrony2_python, runner, "pychrony2")))
    else:
        out.append(Contender("pychrony2", ("", runner, "pychrony2")))
    out.append(Contender("chronyc", (sys.executable, runner, "chronyc", *chronyc)))
    return out


def probe(contender: Contender) -> str | None:
    """Why ``contender`` cannot run here, or None when it can (no chronyd needed)."""
    if contender.key.startswith("floor"):
        return None if os.access(contender.argv[0], os.X_OK) else "wire_floor not built"
    interpreter = contender.argv[0]
    if contender.key == "chronyc":
        return None if shutil.which(contender.argv[-1]) else "chronyc not installed"
    if not interpreter or not os.access(interpreter, os.X_OK):
        return "no virtualenv with pychrony 2.0.3 (ci/bench.sh makes one)"
    checks = {
        "native": (
            "import ctypes; from pychrony import _backend as b\n"
            "assert b.native is not None, 'no native extension: ' + b.NATIVE_UNAVAILABLE_REASON\n"
            "p = b.native.libchrony_path()\n"
            "assert not hasattr(ctypes.CDLL(p), 'pychrony_double_version'), "
            "'the native extension is linked to the test double (' + p + '), "
            "not to a real libchrony'"
        ),
        "python": "import pychrony",
        "pychrony2": (
            "from importlib.metadata import version; v = version('pychrony')\n"
            "assert v.startswith('2.'), 'pychrony ' + v + ' there, not 2.x'"
        ),
    }
    done = subprocess.run(
        [interpreter, "-c", checks[contender.key]],
        capture_output=True,
        text=True,
        cwd=HERE,
        env={**os.environ, **dict(contender.env)},
    )
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return f"{interpreter}: {lines[-1] if lines else 'failed'}"


@dataclass
class PeerSession:
    """The contenders of this run and the results collected from every lab."""

    config: Config
    available: list[Contender]
    skipped: dict[str, str]
    results: dict[str, Any] = field(default_factory=dict)

    def skip_or_fail(self, key: str) -> None:
        """Skip (quick mode) or fail (full run) when contender ``key`` cannot run."""
        import pytest

        reason = self.skipped.get(key)
        if reason is None:
            return
        message = f"{LABELS[key]}: {reason}"
        if self.config.quick:
            pytest.skip(f"{message} (quick mode; ci/bench.sh measures it)")
        pytest.fail(f"{message}; run ci/bench.sh, or pass --bench-quick", pytrace=False)


def _on_client_cpu() -> None:
    pin(CLIENT_CPU)


class Worker:
    """A contender's process, spoken to line by line."""

    def __init__(self, contender: Contender, address: str, timeout: float) -> None:
        self.contender = contender
        self.timeout = timeout
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        env = dict(os.environ)
        env.pop("PYCHRONY_NO_EXTENSIONS", None)
        env.update(contender.env)
        self._proc = subprocess.Popen(
            contender.command(address),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
            cwd=HERE,  # never the repo root: the runner must import pychrony as installed
            # every contender on the CPU chronyd is not pinned to (placement.py)
            preexec_fn=_on_client_cpu if can_pin() else None,
        )
        self._buf = b""
        self.hello = self._read()

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-2000:]

    def _read(self) -> dict[str, Any]:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise BenchError(f"{self.contender.label}: no answer in {self.timeout:.0f} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                self._proc.wait()
                raise BenchError(
                    f"{self.contender.label} exited ({self._proc.returncode}): "
                    f"{self._stderr_tail()}"
                )
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        if not reply.get("ok"):
            raise BenchError(f"{self.contender.label}: {reply.get('error')}")
        return reply

    def call(self, command: str) -> dict[str, Any]:
        """Send one command line; return the JSON answer."""
        assert self._proc.stdin is not None
        self._proc.stdin.write(command.encode() + b"\n")
        self._proc.stdin.flush()
        return self._read()

    def run(self, op: str, n: int) -> tuple[float, int]:
        """``n`` calls of ``op``: (seconds per call, records of the last call)."""
        reply = self.call(f"run {op} {n}")
        return reply["ns"] / 1e9 / n, reply["records"]

    def memory(self) -> dict[str, int]:
        """VmHWM and VmRSS of the worker (KiB)."""
        reply = self.call("rss")
        return {"hwm_kib": reply["hwm_kib"], "rss_kib": reply["rss_kib"]}

    def close(self) -> None:
        if self._proc.poll() is None:
            with contextlib.suppress(BenchError, OSError):
                self.call("quit")
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        for pipe in (self._proc.stdin, self._proc.stdout, self._stderr):
            if pipe is not None:
                pipe.close()


@dataclass
class LabBench:
    """The interleaved measurement of all contenders on one lab chronyd."""

    address: str
    sources: int
    contenders: Sequence[Contender]
    config: Config
    workers: dict[str, Worker] = field(default_factory=dict)
    batch: dict[str, dict[str, int]] = field(default_factory=dict)
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    records: dict[str, dict[str, int]] = field(default_factory=dict)
    rounds_done: int = 0

    def start(self) -> None:
        """Start the workers and size each one's batches."""
        try:
            for contender in self.contenders:
                self.workers[contender.key] = Worker(
                    contender, self.address, self.config.worker_timeout
                )
            for key, worker in self.workers.items():
                self.batch[key] = {}
                self.samples[key] = {op: [] for op in OPS}
                self.records[key] = {}
                for op in OPS:
                    per_call = min(worker.run(op, 1)[0] for _ in range(3))
                    n = round(self.config.batch_seconds / max(per_call, 1e-7))
                    self.batch[key][op] = 1 if self.config.quick else max(1, min(n, 20_000))
        except BaseException:
            self.close()
            raise

    def round(self) -> None:
        """One batch of every operation from every contender, in a shuffled order."""
        rng = random.Random(self.config.seed + 1000 * self.sources + self.rounds_done)
        for op in OPS:
            order = list(self.workers)
            rng.shuffle(order)
            for key in order:
                per_call, records = self.workers[key].run(op, self.batch[key][op])
                self.samples[key][op].append(per_call)
                self.records[key][op] = records
        self.rounds_done += 1

    def growth(self) -> dict[str, dict[str, int]]:
        """RSS growth of each long-lived worker over many polls (KiB)."""
        out = {}
        polls, snapshots = self.config.growth_polls, self.config.growth_snapshots
        for key, worker in self.workers.items():
            if key == "chronyc":
                continue  # a new process per query: nothing accumulates
            worker.run("tracking", min(2000, polls))
            before = worker.memory()["rss_kib"]
            worker.run("tracking", polls)
            after = worker.memory()["rss_kib"]
            worker.run("snapshot", min(200, snapshots))
            before_snap = worker.memory()["rss_kib"]
            worker.run("snapshot", snapshots)
            after_snap = worker.memory()["rss_kib"]
            out[key] = {
                "tracking_polls": polls,
                "tracking_growth_kib": after - before,
                "snapshot_polls": snapshots,
                "snapshot_growth_kib": after_snap - before_snap,
            }
        return out

    def chronyc_peak_kib(self) -> int | None:
        """Peak RSS of one chronyc process over the queries of a snapshot (KiB)."""
        if "chronyc" not in self.workers or not self.config.wire_floor:
            return None
        where = ["-h", self.address]
        if not self.address.startswith("/"):
            host, _, port = self.address.rpartition(":")
            where = ["-h", host.strip("[]"), "-p", port]
        peak = 0
        for command in ("tracking", "sources", "sourcestats"):
            chronyc = [self.config.chronyc, "-c", "-n", *where, command]
            done = subprocess.run(
                [self.config.wire_floor, "--rss-of", *chronyc],
                capture_output=True,
                text=True,
                check=True,
            )
            peak = max(peak, json.loads(done.stdout)["maxrss_kib"])
        return peak

    def result(self, growth: bool) -> dict[str, Any]:
        """Statistics of everything measured so far, plus memory."""
        grown = self.growth() if growth else {}
        out: dict[str, Any] = {"sources": self.sources, "rounds": self.rounds_done}
        per: dict[str, Any] = {}
        for key, worker in self.workers.items():
            ops = {}
            for op in OPS:
                samples = self.samples[key][op]
                if not samples:
                    continue
                ops[op] = {
                    "median_us": statistics.median(samples) * 1e6,
                    "min_us": min(samples) * 1e6,
                    "max_us": max(samples) * 1e6,
                    "batch": self.batch[key][op],
                    "records": self.records[key].get(op),
                    "samples_us": [round(s * 1e6, 3) for s in samples],
                }
            entry: dict[str, Any] = {"info": worker.hello, "ops": ops}
            entry["memory"] = worker.memory()
            if key == "chronyc":
                entry["memory"] = {"hwm_kib": self.chronyc_peak_kib(), "rss_kib": None}
                entry["memory"]["runner_hwm_kib"] = worker.memory()["hwm_kib"]
            if key in grown:
                entry["growth"] = grown[key]
            per[key] = entry
        out["contenders"] = per
        return out

    def close(self) -> None:
        for worker in self.workers.values():
            worker.close()


# -- import cost ------------------------------------------------------------------

_IMPORT_CODE = (
    "import time\n"
    "t = time.perf_counter()\n"
    "{stmt}\n"
    "t = time.perf_counter() - t\n"
    "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]\n"
    "print(rss, t)\n"
)


def _import_once(python: str, stmt: str, env: dict[str, str]) -> tuple[int, float]:
    done = subprocess.run(
        [python, "-c", _IMPORT_CODE.format(stmt=stmt)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=HERE,
    )
    rss, seconds = done.stdout.split()
    return int(rss), float(seconds)


def import_cost(
    python: str, repeats: int, extra_env: dict[str, str] | None = None
) -> dict[str, float]:
    """RSS of a bare interpreter vs one that imported pychrony (medians, KiB)."""
    env = dict(os.environ)
    env.pop("PYCHRONY_NO_EXTENSIONS", None)
    env.update(source_tree_env(python))
    env.update(extra_env or {})
    bare, loaded, seconds = [], [], []
    for _ in range(repeats):
        bare.append(_import_once(python, "pass", env)[0])
        rss, took = _import_once(python, "import pychrony", env)
        loaded.append(rss)
        seconds.append(took)
    return {
        "bare_kib": statistics.median(bare),
        "import_kib": statistics.median(loaded),
        "added_kib": statistics.median(loaded) - statistics.median(bare),
        "import_ms": statistics.median(seconds) * 1e3,
    }


# -- machine --------------------------------------------------------------------


def _first_line(command: Sequence[str]) -> str:
    """First line of ``command``'s output, or "?" when it fails."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    except OSError:
        return "?"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if out.returncode == 0 and text else "?"


def machine_info(chronyd: str | None) -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "chronyd": _first_line([chronyd, "--version"]) if chronyd else "?",
        "commit": os.environ.get("PYCHRONY_BENCH_COMMIT")
        or _first_line(["git", "describe", "--always", "--dirty"]),
        "loadavg_start": Path("/proc/loadavg").read_text().split()[:3],
        "placement": placement(),
        "libc": ctypes.util.find_library("c"),
    }


# -- rendering ------------------------------------------------------------------


def _us(value: float) -> str:
    return f"{value:,.0f}" if value >= 1000 else f"{value:.1f}"


def _mib(kib: float | None) -> str:
    return DASH if kib is None else f"{kib / 1024:.1f}"


def _cell(stats: dict[str, Any] | None) -> str:
    if not stats:
        return DASH
    return f"{_us(stats['median_us'])} ({_us(stats['min_us'])}{DASH}{_us(stats['max_us'])})"


def paired_ratio(stats: dict[str, Any] | None, ref: dict[str, Any] | None) -> float | None:
    """Median over rounds of ``stats``' sample divided by ``ref``'s from the same round.

    Both ran within a fraction of a second of each other in every round, so the
    ratio cancels most of the machine's load swings between rounds.
    """
    if not stats or not ref:
        return None
    pairs = zip(stats["samples_us"], ref["samples_us"], strict=False)
    ratios = [a / b for a, b in pairs if b > 0]
    return statistics.median(ratios) if ratios else None


def _ratio(stats: dict[str, Any] | None, floor: dict[str, Any] | None) -> str:
    ratio = paired_ratio(stats, floor)
    return DASH if ratio is None else f"{ratio:.2f}x"


def _lab_table(lab: dict[str, Any]) -> list[str]:
    per = lab["contenders"]
    head = ["contender"]
    for op in OPS:
        head += [f"{OP_LABELS[op]} µs", "x floor"]
    head.append("peak RSS MiB")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    floor = per.get(FLOOR, {}).get("ops", {})
    for key in LABELS:
        if key not in per:
            continue
        ops = per[key]["ops"]
        row = [LABELS[key]]
        for op in OPS:
            row += [_cell(ops.get(op)), _ratio(ops.get(op), floor.get(op))]
        row.append(_mib(per[key]["memory"].get("hwm_kib")))
        lines.append("| " + " | ".join(row) + " |")
    return lines


def _stats(results: dict[str, Any], size: int, key: str, op: str) -> dict[str, Any] | None:
    lab = results["labs"].get(str(size))
    if not lab:
        return None
    stats: dict[str, Any] | None = lab["contenders"].get(key, {}).get("ops", {}).get(op)
    return stats


def _paired(results: dict[str, Any], size: int, key: str, ref: str, op: str) -> float | None:
    """Paired ratio of ``key`` to ``ref`` for ``op`` in the ``size`` lab."""
    return paired_ratio(_stats(results, size, key, op), _stats(results, size, ref, op))


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, what was measured, met?) for each of the issue's targets."""
    out: list[tuple[str, str, bool | None]] = []
    sizes = [int(s) for s in results["labs"]]
    for key, limit in (("native", 1.2), ("python", 1.6)):
        ratios = []
        for size in sizes:
            ratio = _paired(results, size, key, FLOOR, "tracking")
            if ratio is not None:
                ratios.append((size, ratio))
        text = ", ".join(f"{r:.2f}x ({s} src)" for s, r in ratios) or "not measured"
        met = all(r <= limit for _, r in ratios) if ratios else None
        out.append((f"get_tracking() {key} ≤ {limit}x wire floor", text, met))
    floors = [
        (f"{ratio:.2f}x {how}")
        for key, how in ((FLOOR, "1 in flight"), ("floor8", "8 in flight"))
        if (ratio := _paired(results, 64, "pychrony2", key, "sources")) is not None
    ]
    for key in ("native", "python"):
        faster = _paired(results, 64, "pychrony2", key, "sources")
        text = DASH if faster is None else f"{faster:.2f}x faster"
        if faster is not None and floors:
            text += f" (the wire floor: {', '.join(floors)})"
        out.append(
            (
                f"get_sources() {key}, 64 sources: ≥ 4x faster than pychrony 2.0.3",
                text,
                None if faster is None else faster >= 4,
            )
        )
    for key in ("native", "python", FLOOR):
        worst_by_lab: list[tuple[int, float, str]] = []
        for size in sizes:
            by_op = [(r, op) for op in OPS if (r := _paired(results, size, "chronyc", key, op))]
            if by_op:
                ratio, op = min(by_op)
                worst_by_lab.append((size, ratio, OP_LABELS[op]))
        text = ", ".join(f"{s} src: {r:.1f}x ({op})" for s, r, op in worst_by_lab) or DASH
        met = all(r >= 20 for _, r, _ in worst_by_lab) if worst_by_lab else None
        if key == FLOOR:
            out.append(("(for scale) the wire floor vs chronyc -c, slowest op per lab", text, None))
        else:
            out.append((f"{key} ≥ 20x faster than chronyc -c (every op, every lab)", text, met))
    for label, entry in results.get("imports", {}).items():
        if label.startswith("pychrony 2"):
            continue
        added = entry["added_kib"]
        met = added < 5 * 1024
        out.append((f"import pychrony ({label}) adds < 5 MiB RSS", f"{added / 1024:.2f} MiB", met))
    growth_lab = results["labs"].get(str(GROWTH_LAB), {}).get("contenders", {})
    for key in ("native", "python"):
        grown = growth_lab.get(key, {}).get("growth")
        if grown:
            polls = grown["tracking_polls"]
            kib = grown["tracking_growth_kib"]
            out.append(
                (
                    f"{key}: {polls:,} get_tracking() polls grow RSS < 1 MiB",
                    f"{kib / 1024:+.2f} MiB ({grown['snapshot_growth_kib'] / 1024:+.2f} MiB over "
                    f"{grown['snapshot_polls']:,} snapshots)",
                    kib < 1024 and polls >= 100_000,
                )
            )
    return out


def render(results: dict[str, Any]) -> str:
    """The results as Markdown (the README's table section)."""
    m = results["machine"]
    lines = [
        f"Measured {m['date']} on {m['nproc']} CPUs ({m['cpu']}), Linux {m['kernel']}, "
        f"{m['chronyd']}, Python {m['python']}, pychrony at `{m['commit']}`"
        + (" — **quick mode: not a measurement**" if results["config"]["quick"] else "")
        + ".",
        "",
        f"Command: `{results['command']}`",
        "",
    ]
    if "placement" in m:
        lines += [f"Placement: {m['placement']}.", ""]
    native_info = None
    for lab in results["labs"].values():
        native_info = lab["contenders"].get("native", {}).get("info") or native_info
    if native_info:
        lines += [f"Native backend linked to `{native_info.get('libchrony', '?')}`.", ""]
    skipped = results.get("skipped", {})
    if skipped:
        lines += [f"Skipped: {k} ({v})" for k, v in skipped.items()] + [""]
    for size, lab in sorted(results["labs"].items(), key=lambda kv: int(kv[0])):
        lines += [
            f"**{size} source{'s' if int(size) != 1 else ''}** — µs per call, median "
            f"(min{DASH}max) of {lab['rounds']} interleaved rounds:",
            "",
            *_lab_table(lab),
            "",
        ]
    growth_lab = results["labs"].get(str(GROWTH_LAB), {}).get("contenders", {})
    if any("growth" in c for c in growth_lab.values()):
        lines += [
            f"**Memory** — RSS growth over many polls ({GROWTH_LAB}-source lab, after a warm-up):",
            "",
            "| contender | get_tracking() polls | RSS growth KiB | snapshots | RSS growth KiB |",
            "|---|---|---|---|---|",
        ]
        for key in LABELS:
            grown = growth_lab.get(key, {}).get("growth")
            if grown:
                lines.append(
                    f"| {LABELS[key]} | {grown['tracking_polls']:,} | "
                    f"{grown['tracking_growth_kib']:+d} | {grown['snapshot_polls']:,} | "
                    f"{grown['snapshot_growth_kib']:+d} |"
                )
        lines.append("")
    imports = results.get("imports", {})
    if imports:
        lines += [
            "**Import cost** — RSS of `python -c 'import pychrony'` vs a bare interpreter "
            "(medians):",
            "",
            "| interpreter | bare MiB | after import MiB | added MiB | import ms |",
            "|---|---|---|---|---|",
        ]
        for label, e in imports.items():
            lines.append(
                f"| {label} | {_mib(e['bare_kib'])} | {_mib(e['import_kib'])} | "
                f"{e['added_kib'] / 1024:.2f} | {e['import_ms']:.1f} |"
            )
        lines.append("")
    lines += ["**Targets**:", "", "| target | measured | met |", "|---|---|---|"]
    for target, measured, met in targets(results):
        mark = DASH if met is None else ("yes" if met else "**no**")
        lines.append(f"| {target} | {measured} | {mark} |")
    return "\n".join(lines) + "\n"


def update_readme(readme: Path, section: str) -> None:
    """Replace the text between the README's peers markers with ``section``."""
    text = readme.read_text()
    pattern = re.compile(re.escape(README_BEGIN) + ".*?" + re.escape(README_END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: no {README_BEGIN} ... {README_END} section")
    readme.write_text(pattern.sub(lambda _: f"{README_BEGIN}\n{section}{README_END}", text))


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render the peer comparison's results.")
    sub = parser.add_subparsers(dest="command", required=True)
    rend = sub.add_parser("render", help="print the results as Markdown")
    rend.add_argument("results", type=Path)
    rend.add_argument("--readme", type=Path, help="also write them into this README")
    args = parser.parse_args(list(argv) if argv is not None else None)
    results = json.loads(args.results.read_text())
    section = render(results)
    sys.stdout.write(section)
    if args.readme:
        update_readme(args.readme, section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
