"""The command line against the lab's real chronyd, next to chronyc.

The comparison runs chronyc, then pychrony, then chronyc again for each command, in
text and ``-c`` modes, over the Unix socket and UDP. A field equal in chronyc's two
reads does not change between reads: pychrony must print it identically. Every
other number must have chronyc's format: the same decimals and unit, and a sign
where chronyc's format always prints one (reference times: their format only). Lines, CSV fields,
headers and legends must match exactly. Values that legitimately move between the
three reads make a mismatch possible by chance, so a command gets three tries.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from queue import Empty, Queue

import pytest
from labs import start_lab
from perfdata import parse_check

from pychrony.lab import Lab, find_chronyc
from pychrony.registry import REPORTS_BY_NAME

pytestmark = pytest.mark.integration

COMMAND_LINES = [
    "tracking",
    "sources",
    "sources -a",
    "sources -v",
    "sourcestats",
    "sourcestats -v",
    "selectdata -a",
    "selectdata -v",
    "ntpdata",
    "ntpdata 127.0.0.1",
    "serverstats",
    "activity",
    "authdata",
    "authdata -a -v",
    "rtcdata",
    "smoothing",
    "sourcename 127.0.0.1",
    "clients",
]
_NUMBER = re.compile(r"([+-]?)\d+(?:\.(\d+))?(ns|us|ms|s|m|h|d|y)?")
_PYCHRONY = (sys.executable, "-m", "pychrony", "--backend", "python")
_TIMESTAMP = re.compile(r"\d{9,}\.\d{9}")  # -c: seconds.nanoseconds
_CLOCK = re.compile(r"\d\d:\d\d:\d\d")  # text: a date's time of day


def _pychrony(
    *args: str, env: dict[str, str] | None = None, backend: str = "python"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pychrony", "--backend", backend, "--timeout", "1", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


def _chronyc(*args: str) -> subprocess.CompletedProcess[str]:
    chronyc = find_chronyc()
    assert chronyc is not None
    return subprocess.run([chronyc, *args], capture_output=True, text=True, timeout=30, check=False)


def _endpoint(lab: Lab, transport: str) -> list[str]:
    """chronyc's own way to name the endpoint; pychrony takes the same options."""
    if transport == "unix":
        return ["-h", lab.socket_path]
    return ["-h", lab.udp_host, "-p", str(lab.cmd_port)]


def _shape(token: str) -> tuple[str, int, str] | None:
    """(sign class, decimals, unit) of a number, None for anything else."""
    match = _NUMBER.fullmatch(token)
    if match is None:
        return None
    return ("±" if match.group(1) else "", len(match.group(2) or ""), match.group(3) or "")


def _compare_token(ours: str, first: str, second: str) -> str | None:
    """Why ``ours`` does not fit chronyc's two reads ``first``/``second`` (None: it fits)."""
    for moving in (_TIMESTAMP, _CLOCK):
        # Reference times move with each clock update (16 a second in the lab), and
        # pychrony's models hold them as float seconds (~0.24 us at today's epoch):
        # their format must match, not their value.
        if moving.fullmatch(first):
            return None if moving.fullmatch(ours) else f"{ours!r} is not a time like {first!r}"
    if first == second:
        return None if ours == first else f"{ours!r} != chronyc's {first!r} (unchanged)"
    shapes = {_shape(first), _shape(second)}
    mine = _shape(ours)
    if None in shapes:
        return None if ours in (first, second) else f"{ours!r} not {first!r} or {second!r}"
    if mine is None:
        return f"{ours!r} is not a number like chronyc's {first!r}/{second!r}"
    # A "+" shows a format that always has a sign (chronyc's %+): ours must have one.
    if "+" in (first[0], second[0]) and ours[0] not in "+-":
        return f"{ours!r}: no sign, unlike chronyc's {first!r}/{second!r}"
    if mine[1:] not in {s[1:] for s in shapes if s}:
        return f"{ours!r}: decimals/unit unlike chronyc's {first!r}/{second!r}"
    return None


def _differences(ours: str, first: str, second: str, csv: bool) -> list[str]:
    mine, one, two = (text.splitlines() for text in (ours, first, second))
    if not len(mine) == len(one) == len(two):
        return [f"{len(mine)} lines, chronyc {len(one)}/{len(two)}"]
    problems = []
    for n, (a, b, c) in enumerate(zip(mine, one, two, strict=True), 1):
        if b == c and not (_TIMESTAMP.search(b) or _CLOCK.search(b)) and a != b:
            problems.append(f"line {n}: {a!r} != chronyc's {b!r}")
            continue
        if csv:
            tokens = [line.split(",") for line in (a, b, c)]
        else:
            tokens = [re.findall(r"[^\s\[\]]+", line) for line in (a, b, c)]
            if len(b) == len(c) and len(a) != len(b) and "  " in b:
                problems.append(f"line {n}: width {len(a)} != chronyc's {len(b)}: {a!r}")
        if not len(tokens[0]) == len(tokens[1]) == len(tokens[2]):
            problems.append(f"line {n}: {len(tokens[0])} fields, chronyc {len(tokens[1])}")
            continue
        for x, y, z in zip(*tokens, strict=True):
            why = _compare_token(x, y, z)
            if why:
                problems.append(f"line {n}: {why}")
    return problems


def _compare(
    lab: Lab, transport: str, line: str, options: list[str], backend: str = "python"
) -> None:
    args = [*options, *_endpoint(lab, transport), *line.split()]
    # Ages such as smoothing's "Last update" (0-0.06 s in the lab) can round to 0.0 in
    # both chronyc reads and to 0.1 in ours on a loaded machine: read again.
    for _ in range(6):
        first = _chronyc(*args)
        ours = _pychrony(*args, backend=backend)
        second = _chronyc(*args)
        if first.returncode != 0:
            # chronyc prints its error (501 Not authorised, 513 RTC ...) on stdout,
            # after the header when a table's records are refused; pychrony reads
            # the whole report first: nothing on stdout, the same words on stderr.
            assert ours.returncode != 0, ours.stdout
            assert ours.stdout == ""
            words = first.stdout.strip().splitlines()[-1].split(" ", 1)[1].lower()
            assert words in ours.stderr.lower(), (first.stdout, ours.stderr)
            return
        assert ours.returncode == 0, ours.stderr
        problems = _differences(ours.stdout, first.stdout, second.stdout, "-c" in options)
        if not problems:
            return
    pytest.fail(
        f"pychrony {' '.join(args)} differs from chronyc:\n  "
        + "\n  ".join(problems)
        + f"\n--- chronyc\n{first.stdout}--- pychrony\n{ours.stdout}"
    )


@pytest.mark.parametrize("line", COMMAND_LINES)
@pytest.mark.parametrize("mode", ["text", "csv"])
def test_prints_what_chronyc_prints(
    lab: Lab, transport: str, mode: str, line: str, backend: str
) -> None:
    _compare(lab, transport, line, ["-n", "-c"] if mode == "csv" else ["-n"], backend)


@pytest.mark.parametrize("line", ["tracking", "sources", "sourcestats", "selectdata"])
def test_names_as_chronyc_names_them(lab: Lab, line: str, backend: str) -> None:
    """Without -n both resolve addresses (127.0.0.1 is localhost); -N: configured names
    (the native backend asks them over a python connection: libchrony cannot)."""
    _compare(lab, "unix", line, [], backend)
    _compare(lab, "unix", line, ["-N"], backend)


def test_several_commands_as_chronyc_m(lab: Lab) -> None:
    _compare(lab, "unix", "tracking activity", ["-n", "-m"])
    _compare(lab, "unix", "tracking activity", ["-n", "-c", "-m"])


@pytest.mark.parametrize("report", REPORTS_BY_NAME)
def test_json_validates_against_the_shipped_schema(lab: Lab, report: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from pychrony.cli.schema import shipped

    result = _pychrony("--json", "-h", lab.socket_path, report)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    jsonschema.validate(data, json.loads(shipped(report)))
    if report == "sources":
        assert [s["state"] for s in data].count("SELECTED") == 1
        assert any(s["last_sample_ago"] is None for s in data)  # never sampled: null


@pytest.mark.parametrize(
    "env", [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C"}], ids=["ascii", "C"]
)
def test_any_output_encoding(lab: Lab, env: dict[str, str]) -> None:
    environment = {**os.environ, **env}
    for line in COMMAND_LINES:
        if line == "rtcdata":
            continue
        result = _pychrony("-h", lab.socket_path, *line.split(), env=environment)
        assert result.returncode == 0, (line, result.stderr)
        assert result.stdout.isascii()
    with tempfile.TemporaryDirectory(suffix="-µs") as empty:
        result = _pychrony("-h", os.path.join(empty, "sock"), "tracking", env=environment)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    # The path's µ: escaped on an ASCII stream; Python reads LC_ALL=C as UTF-8 (PEP 538).
    assert ("\\xb5s" if "PYTHONIOENCODING" in env else "µs") in result.stderr


def test_unreachable_exits_1() -> None:
    with tempfile.TemporaryDirectory() as empty:
        result = _pychrony("-h", os.path.join(empty, "chronyd.sock"), "tracking")
    assert result.returncode == 1
    assert "Is chronyd running" in result.stderr


def test_command_refused_over_udp_exits_3(lab: Lab) -> None:
    result = _pychrony("-h", lab.udp_address, "serverstats")
    assert result.returncode == 3
    assert "Unix socket" in result.stderr


def test_reader_closing_the_pipe_is_not_an_error(lab: Lab) -> None:
    """`pychrony --watch 0.05 sources | head -1`: ends quietly when head exits."""
    proc = subprocess.Popen(
        [*_PYCHRONY, "-h", lab.socket_path, "--watch", "0.05", "sources"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    assert proc.wait(timeout=30) == 0
    assert proc.stderr.read() == b""
    proc.stderr.close()


# -- --watch through failures ----------------------------------------------------


def _lines(stream: object, into: Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def _wait_for(queue: Queue[str], match: Callable[[str], bool], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = queue.get(timeout=max(0.01, deadline - time.monotonic()))
        except Empty:
            pytest.fail("no such line in time")
        if match(line):
            return line


def test_watch_survives_a_stopped_and_a_restarted_chronyd(own_lab: Lab, backend: str) -> None:
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "pychrony", "--backend", backend),
            *("-h", own_lab.socket_path, "--timeout", "0.2", "--attempts", "1"),
            "--watch",
            "0.2",
            "-c",
            "tracking",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: Queue[str] = Queue()
    err: Queue[str] = Queue()
    readers = [
        threading.Thread(target=_lines, args=(stream, queue), daemon=True)
        for stream, queue in ((proc.stdout, out), (proc.stderr, err))
    ]
    for reader in readers:
        reader.start()
    try:
        _wait_for(out, lambda line: line.startswith("7F000001,"))
        with own_lab.paused():
            failure = _wait_for(err, lambda line: "did not answer" in line)
            assert re.match(r"pychrony: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ ", failure)
            while not out.empty():
                out.get()
        _wait_for(out, lambda line: line.startswith("7F000001,"))  # back after SIGCONT
        own_lab.restart_client()
        _wait_for(out, lambda line: line.count(",") == 13)  # a new chronyd, reconnected
        assert proc.poll() is None
        proc.send_signal(2)  # Ctrl-C
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for reader in readers:
            reader.join(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_watch_exit_on_error_stops_at_the_first_failure(own_lab: Lab, backend: str) -> None:
    with own_lab.paused():
        result = _pychrony(
            "-h",
            own_lab.socket_path,
            "--timeout",
            "0.2",
            "--attempts",
            "1",
            "--watch",
            "0.2",
            "--exit-on-error",
            "tracking",
            backend=backend,
        )
    assert result.returncode == 1
    assert "did not answer" in result.stderr


# -- pychrony check ---------------------------------------------------------------


def _check(
    lab: Lab, *args: str, transport: str = "unix", backend: str = "python"
) -> tuple[int, object]:
    endpoint = _endpoint(lab, transport)
    result = _pychrony(*endpoint, "--timeout", "0.3", "check", *args, backend=backend)
    return result.returncode, parse_check(result.stdout)


def test_check_ok_on_a_synchronised_lab(lab: Lab, transport: str, backend: str) -> None:
    code, check = _check(lab, transport=transport, backend=backend)
    assert code == 0, check
    assert check.state == "OK"  # type: ignore[attr-defined]
    perf = check.perf  # type: ignore[attr-defined]
    assert perf["offset"].uom == "s"
    assert (perf["offset"].warn, perf["offset"].crit) == ("60", "120")
    assert abs(perf["offset"].value) < 0.01
    assert perf["stratum"].value == 9  # the lab's server is stratum 8
    assert perf["sources_reachable"].value == 1
    assert perf["sources_reachable"].high == 5  # 4 NTP sources and the refclock
    assert perf["root_distance"].uom == "s"


def test_check_warning_with_too_few_reachable_sources(lab: Lab) -> None:
    code, check = _check(lab, "--reachable-warning", "2:")
    assert code == 1
    assert check.state == "WARNING"  # type: ignore[attr-defined]
    assert "reachable sources 1 outside 2:" in check.text  # type: ignore[attr-defined]
    assert check.perf["sources_reachable"].warn == "2:"  # type: ignore[attr-defined]


def test_check_critical_when_the_only_source_is_unreachable() -> None:
    lab = start_lab(sources=1, refclock=False)
    server = lab.server_pid
    assert server is not None
    try:
        os.kill(server, 19)  # SIGSTOP: the source stops answering
        deadline = time.monotonic() + 30
        while True:
            code, check = _check(lab)
            reach = check.perf.get("sources_reachable")  # type: ignore[attr-defined]
            if (reach is not None and reach.value == 0) or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert code == 2, check
        assert check.state == "CRITICAL"  # type: ignore[attr-defined]
        assert "reachable sources 0 outside 1:" in check.text  # type: ignore[attr-defined]
    finally:
        os.kill(server, 18)  # SIGCONT
        lab.stop()


def test_check_of_a_stopped_chronyd_is_critical_or_unknown(own_lab: Lab, backend: str) -> None:
    with own_lab.paused():
        code, check = _check(own_lab, backend=backend)
        assert (code, check.state) == (2, "CRITICAL")  # type: ignore[attr-defined]
        assert "did not answer" in check.text  # type: ignore[attr-defined]
        code, check = _check(own_lab, "--unreachable-unknown", backend=backend)
        assert (code, check.state) == (3, "UNKNOWN")  # type: ignore[attr-defined]
        start = time.monotonic()
        sock = own_lab.socket_path
        result = _pychrony("-h", sock, "--timeout", "5", "check", "-t", "1", backend=backend)
        elapsed = time.monotonic() - start
    assert result.returncode == 2
    assert "did not answer within 1 s" in result.stdout
    assert elapsed < 15  # the check's own deadline, not 3 attempts of 5 s


def test_lab_subcommand_prints_every_report() -> None:
    result = _pychrony("-n", "lab", "--sources", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Reference ID    : 7F000001 (127.0.0.1)\n")
    assert "^* 127.0.0.1 " in result.stdout
    assert "Active         : Yes (leap second only)" in result.stdout  # the lab smooths
    assert "rtcdata: 513 RTC driver not running" in result.stderr  # and goes on past it
