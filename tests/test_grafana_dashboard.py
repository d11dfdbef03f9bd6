"""contrib/grafana/chrony.json, checked without Grafana (not packaged here): the structure
Grafana's dashboard import needs, a layout without overlaps, variables defined
before use, and every metric it names one the exporter emits. Every expression run
against a real Prometheus: tests/integration/test_prometheus_lab.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pychrony.exporter import FAMILIES_BY_NAME

DASHBOARD = Path(__file__).resolve().parent.parent / "contrib" / "grafana" / "chrony.json"
#: Grafana's panel types used, and the units (Grafana's unit ids) they may show.
PANEL_TYPES = {"row", "stat", "table", "timeseries"}
UNITS = {"s", "ppm", "none", "percentunit", "pps"}
#: Variables Grafana defines itself.
BUILTIN = {"__rate_interval", "__interval", "__range"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def panels(dashboard: dict) -> list[dict]:
    return list(dashboard["panels"])


def exprs(dashboard: dict) -> list[str]:
    found = [t["expr"] for p in panels(dashboard) for t in p.get("targets", ())]
    found += [v["definition"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    return found


def test_top_level_fields(dashboard):
    assert dashboard["uid"] == "pychrony-chrony"
    assert isinstance(dashboard["schemaVersion"], int)
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["title"]
    assert {"from", "to"} <= set(dashboard["time"])
    assert "id" not in dashboard  # Grafana assigns it on import


def test_panels_have_unique_ids_known_types_and_a_layout_without_overlaps(dashboard):
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        assert panel["type"] in PANEL_TYPES, panel["title"]
        grid = panel["gridPos"]
        assert all(isinstance(grid[k], int) for k in "xywh"), panel["title"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, (panel["title"], cells.get((x, y)))
                cells[(x, y)] = panel["title"]


def test_every_query_panel_has_targets_units_and_the_datasource_variable(dashboard):
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["description"], panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        targets = panel["targets"]
        assert targets, panel["title"]
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in targets:
            assert target["datasource"] == panel["datasource"]
            assert target["expr"].strip()
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert unit is None or unit in UNITS, (panel["title"], unit)
        for override in panel["fieldConfig"]["overrides"]:
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    assert prop["value"] in UNITS


def test_variables_are_defined_before_use(dashboard):
    variables = dashboard["templating"]["list"]
    names = [v["name"] for v in variables]
    assert names == ["datasource", "job", "instance"]
    assert variables[0]["type"] == "datasource"
    assert variables[0]["query"] == "prometheus"
    for i, variable in enumerate(variables[1:], 1):
        used = set(re.findall(r"\$(\w+)", variable["definition"]))
        assert used <= set(names[:i]), variable["name"]
        assert variable["includeAll"]
        assert variable["multi"]
    for expr in exprs(dashboard):
        assert set(re.findall(r"\$(\w+)", expr)) <= set(names) | BUILTIN, expr


def test_the_host_panels_follow_the_instance_variable(dashboard):
    rows = [p for p in panels(dashboard) if p["type"] == "row"]
    host_row = next(r for r in rows if "$instance" in r["title"])
    for panel in panels(dashboard):
        if panel["type"] != "row" and panel["gridPos"]["y"] > host_row["gridPos"]["y"]:
            for target in panel["targets"]:
                assert 'instance=~"$instance"' in target["expr"], panel["title"]


def test_every_metric_is_one_the_exporter_emits(dashboard):
    named = {m for e in exprs(dashboard) for m in re.findall(r"\bchrony_[a-z_]+\b", e)}
    assert named
    assert named <= set(FAMILIES_BY_NAME), named - set(FAMILIES_BY_NAME)


def test_what_the_issue_asks_to_see(dashboard):
    text = " ".join(exprs(dashboard))
    for metric in (
        "chrony_tracking_system_time_seconds",
        "chrony_tracking_root_dispersion_seconds",
        "chrony_sources_reachability_ratio",
        "chrony_sources_state_info",
        "chrony_tracking_frequency_ppms",
        "chrony_serverstats_ntp_packets_received_total",
    ):
        assert metric in text, metric
    fleet_table = [p for p in panels(dashboard) if p["type"] == "table" and "worst" in p["title"]]
    assert fleet_table
    assert "topk(" in fleet_table[0]["targets"][0]["expr"]
