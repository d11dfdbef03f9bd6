"""Prometheus exporter for chronyd, a drop-in for SuperQ/chrony_exporter.

* :class:`ChronyCollector` (prometheus_client only, no web stack): register it
  in any registry over a :class:`ScrapeReader`;
* :func:`main`: the ``python -m pychrony.exporter`` command with chrony_exporter's
  flags (``pip install 'pychrony[exporter]'`` for the server);
* :data:`FAMILIES`: every metric family with its type, labels and HELP
  (``docs/metrics.md`` is generated from it).
"""

from __future__ import annotations

from .collector import (
    ALL_COLLECTORS,
    COLLECTORS,
    EXPORTER_DEFAULTS,
    METRIC_REPORTS,
    BuildInfoCollector,
    ChronyCollector,
)
from .command import main
from .families import FAMILIES, FAMILIES_BY_NAME, Family
from .scrape import DEFAULT_DEADLINE, ReportSource, ScrapeReader

__all__ = [
    "ALL_COLLECTORS",
    "COLLECTORS",
    "DEFAULT_DEADLINE",
    "EXPORTER_DEFAULTS",
    "FAMILIES",
    "FAMILIES_BY_NAME",
    "METRIC_REPORTS",
    "BuildInfoCollector",
    "ChronyCollector",
    "Family",
    "ReportSource",
    "ScrapeReader",
    "main",
]
