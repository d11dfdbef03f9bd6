"""A real Prometheus server for the tests: Debian's ``prometheus`` (2.42) on loopback.

:class:`PrometheusServer` writes its own configuration (scrape jobs given by the
test, ``rule_files``, a 1 s scrape and evaluation interval), keeps its storage in a
temporary directory, runs the binary directly (no systemd) on a free port and
answers queries through the HTTP API (``/api/v1/query``). ci/test.sh installs the
package and sets PYCHRONY_REQUIRE_PROMETHEUS: without the package the tests skip
locally and fail there.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from programs import require_program

INTERVAL = "1s"


def free_tcp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def probe_job(name: str, exporter: str, targets_file: Path, **params: list[str]) -> dict:
    """A scrape job probing the targets of a file_sd file through ``exporter``'s
    /probe (the relabeling of README's "Monitoring a fleet")."""
    return {
        "job_name": name,
        "metrics_path": "/probe",
        "params": params,
        "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": INTERVAL}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": exporter},
        ],
    }


def write_targets(path: Path, targets: Sequence[str], **labels: str) -> None:
    """A file_sd file (written whole, then renamed: Prometheus never reads half of it)."""
    part = path.with_suffix(".tmp")
    part.write_text(json.dumps([{"targets": list(targets), "labels": labels}]))
    part.replace(path)


class PrometheusServer:
    """``prometheus`` on 127.0.0.1 with ``jobs`` (scrape_configs) and ``rule_files``."""

    def __init__(self, jobs: Sequence[dict], rule_files: Sequence[str] = ()) -> None:
        self.binary = require_program("prometheus")
        self.dir = Path(tempfile.mkdtemp(prefix="pychrony-prometheus-"))
        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {
                "scrape_interval": INTERVAL,
                "scrape_timeout": INTERVAL,
                "evaluation_interval": INTERVAL,
            },
            "rule_files": list(rule_files),
            "scrape_configs": list(jobs),
        }
        # JSON is YAML: no YAML writer needed for Prometheus' configuration.
        self.config = self.dir / "prometheus.yml"
        self.config.write_text(json.dumps(config, indent=1))
        self.log = self.dir / "prometheus.log"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> PrometheusServer:
        with self.log.open("wb") as log:
            self._proc = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        limit = time.monotonic() + timeout
        while time.monotonic() < limit:
            if self._proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"prometheus not ready in {timeout} s: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the HTTP API ---------------------------------------------------------------------

    def api(self, path: str, **params: str) -> Any:
        """``data`` of a successful /api/v1 answer."""
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        """The instant vector (or scalar as one sample) ``expr`` gives now."""
        data = self.api("query", query=expr)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        return list(data["result"])

    def query_range(self, expr: str, seconds: float = 30, step: str = INTERVAL) -> list[dict]:
        """The matrix ``expr`` gives over the last ``seconds``."""
        end = time.time()
        data = self.api(
            "query_range", query=expr, start=str(end - seconds), end=str(end), step=step
        )
        return list(data["result"])

    def wait_for(
        self, expr: str, done: Callable[[list[dict]], bool], timeout: float = 60.0
    ) -> list[dict]:
        """Query ``expr`` until ``done(result)``; fail with the last result otherwise."""
        limit = time.monotonic() + timeout
        result: list[dict] = []
        while time.monotonic() < limit:
            result = self.query(expr)
            if done(result):
                return result
            time.sleep(0.5)
        pytest.fail(f"{expr}: still {result} after {timeout} s")


def by(result: list[dict], label: str) -> dict[str, float]:
    """An instant vector as {value of ``label``: sample value}."""
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}
