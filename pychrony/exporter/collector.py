"""``ChronyCollector``: a prometheus_client collector reading chronyd on every scrape.

Needs prometheus_client only (no web stack), so an agent registers it in its own
registry::

    from prometheus_client import CollectorRegistry
    from pychrony.exporter import ChronyCollector, ScrapeReader

    registry = CollectorRegistry()
    registry.register(ChronyCollector(ScrapeReader("/run/chrony/chronyd.sock")))

One report failing (serverstats refused over UDP, an old chronyd without
selectdata …) drops only its collector's metrics and shows as 0 in
``chrony_scrape_collector_success``; ``chrony_up`` is 0 only when nothing answered.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .._version import __version__
from ..exceptions import ChronyError
from . import builders
from .families import FAMILIES, empty_family, new_family
from .scrape import Reading, ReportSource

__all__ = [
    "ALL_COLLECTORS",
    "COLLECTORS",
    "EXPORTER_DEFAULTS",
    "METRIC_REPORTS",
    "BuildInfoCollector",
    "ChronyCollector",
    "build_metrics",
    "describe_families",
    "plan_reports",
]

#: Collector name → the report it reads. Names are chrony_exporter's where it has the
#: collector (``ntpdata`` is its ``--collector.sources.with-ntpdata``).
COLLECTORS: dict[str, str] = {
    "tracking": "tracking",
    "sources": "sources",
    "ntpdata": "ntpdata",
    "sourcestats": "sourcestats",
    "selectdata": "selectdata",
    "serverstats": "serverstats",
    "activity": "activity",
    "smoothing": "smoothing",
    "rtcdata": "rtcdata",
    "clients": "clients",
}
#: Every collector but the opt-in ntpdata and clients (which need the Unix socket):
#: the dashboard's /metrics and a bare ``ChronyCollector(reader)``.
ALL_COLLECTORS = tuple(name for name in COLLECTORS if name not in ("ntpdata", "clients"))
#: chrony_exporter's defaults: tracking only.
EXPORTER_DEFAULTS = ("tracking",)
#: Reports read by ``ChronyCollector(reader)`` with the default collectors.
METRIC_REPORTS = tuple(COLLECTORS[name] for name in ALL_COLLECTORS)

# Collectors whose labels name sources: they read "sources" too for the names.
_NAMED = ("tracking", "ntpdata", "sourcestats", "selectdata")


def plan_reports(collectors: Sequence[str], source_names: bool = True) -> tuple[str, ...]:
    """The reports to read, in order, for ``collectors`` (names of :data:`COLLECTORS`):
    "sources" first when another collector labels sources by name."""
    unknown = [c for c in collectors if c not in COLLECTORS]
    if unknown:
        raise ChronyError(f"unknown collectors {unknown}; known: {', '.join(COLLECTORS)}")
    reports = [COLLECTORS[c] for c in collectors]
    named = any(c in _NAMED for c in collectors)
    if source_names and named and "sources" not in reports:
        reports.insert(0, "sources")
    if "ntpdata" in reports and "sources" in reports:  # sources first: they name peers
        reports.remove("ntpdata")
        reports.insert(reports.index("sources") + 1, "ntpdata")
    return tuple(reports)


def build_metrics(
    reading: Reading, collectors: Sequence[str], source_names: bool = True
) -> Iterator[Metric]:
    """``chrony_up``, the enabled collectors' families and their success, from one
    reading of :func:`plan_reports`' reports (however it was read: the collector
    reads in a thread, the probe on asyncio)."""
    values = reading.values
    names = builders.source_names(values.get("sources") or (), source_names)
    build: dict[str, Callable[[Any], Iterator[Metric]]] = {
        "tracking": lambda v: builders.tracking(v, names),
        "sources": lambda v: builders.sources(v, names),
        "ntpdata": lambda v: builders.ntpdata(v, names),
        "sourcestats": lambda v: builders.sourcestats(v, names),
        "selectdata": lambda v: builders.selectdata(v, names),
        "serverstats": builders.serverstats,
        "activity": builders.activity,
        "smoothing": builders.smoothing,
        "rtcdata": builders.rtcdata,
        "clients": builders.clients,
    }
    up = new_family("chrony_up")
    up.add_metric([], float(bool(values)))
    yield up
    success = new_family("chrony_scrape_collector_success")
    for collector in collectors:
        report = COLLECTORS[collector]
        answered = report in values
        success.add_metric([collector], float(answered))
        if answered:
            yield from build[collector](values[report])
    yield success


def describe_families(collectors: Sequence[str]) -> list[Metric]:
    """Every family ``collectors`` may emit (empty), the scrape's own included."""
    groups = ("scrape", *collectors)
    return [empty_family(f.name) for f in FAMILIES if f.collector in groups]


class ChronyCollector(Collector):
    """Reads chronyd through ``source`` on each ``collect()`` and yields the metrics
    of the enabled ``collectors`` (names of :data:`COLLECTORS`).

    ``source_names``: label sources with the name they were configured with
    (chronyc -N) rather than their address (chrony_exporter's dns-lookups).
    """

    def __init__(
        self,
        source: ReportSource,
        collectors: Iterable[str] = ALL_COLLECTORS,
        *,
        source_names: bool = True,
    ) -> None:
        self.source = source
        self.collectors = tuple(collectors)
        self.source_names = source_names
        self.reports = plan_reports(self.collectors, source_names)

    def describe(self) -> list[Metric]:
        """Every family the enabled collectors may emit (empty), so a registry knows
        the names: ``name[]`` then reads chronyd only when one of ours is asked for."""
        return describe_families(self.collectors)

    def collect(self) -> Iterator[Metric]:
        """Read chronyd once and yield every metric it allowed."""
        reading = self.source.read(self.reports)
        return build_metrics(reading, self.collectors, self.source_names)


class BuildInfoCollector(Collector):
    """``pychrony_exporter_build_info``: the version and backend serving the metrics
    (chrony_exporter's ``chrony_exporter_build_info``)."""

    def __init__(self, backend: str) -> None:
        import platform

        self.labels = {
            "version": __version__,
            "backend": backend,
            "python_implementation": platform.python_implementation(),
            "python_version": platform.python_version(),
        }

    def describe(self) -> list[Metric]:
        """The one family, always present."""
        return list(self.collect())

    def collect(self) -> Iterator[Metric]:
        """The build-info gauge, value 1."""
        info = GaugeMetricFamily(
            "pychrony_exporter_build_info",
            "Version of pychrony serving these metrics, its backend and Python, value 1.",
            labels=list(self.labels),
        )
        info.add_metric(list(self.labels.values()), 1.0)
        yield info
