"""The dashboard's Prometheus metrics: :mod:`pychrony.exporter`'s collector.

Kept so ``pychrony.dashboard.metrics.ChronyCollector`` and ``METRIC_REPORTS``
go on working; the collector, its builders and the family table live in
:mod:`pychrony.exporter` (which imports without the web stack).
"""

from __future__ import annotations

from ..exporter.collector import METRIC_REPORTS, ChronyCollector

__all__ = ["METRIC_REPORTS", "ChronyCollector"]
