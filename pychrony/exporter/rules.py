"""The Prometheus alerting rules shipped with the exporter (package data).

``alerts/chrony.rules.yml`` is the one copy: contrib/prometheus/ links to it and
``docs/alerts.md`` is generated from it. ``pychrony exporter --print.alert-rules``
writes it out for a Prometheus ``rule_files`` directory.
"""

from __future__ import annotations

from importlib import resources

__all__ = ["ALERT_RULES_FILE", "alert_rules"]

#: The rules' path inside the ``pychrony.exporter`` package.
ALERT_RULES_FILE = "alerts/chrony.rules.yml"


def alert_rules() -> str:
    """The text of the alerting rules file (YAML, Prometheus' rule_files format)."""
    return resources.files(__package__).joinpath(ALERT_RULES_FILE).read_text(encoding="utf-8")
