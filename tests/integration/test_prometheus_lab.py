"""A real Prometheus (Debian's 2.42) scraping the exporter and a probe job over real chronyd.

Prometheus runs on loopback with its own configuration and storage
(:mod:`prometheus_server`): a ``chrony`` job scrapes the exporter's /metrics (the
shared lab over its Unix socket), a ``chrony_probe`` job probes the targets of a
file_sd file through /probe with README's relabeling (three labs over UDP and a
dead address), the shipped alert rules are loaded. The tests read what Prometheus
stored through /api/v1, and run every expression of the Grafana dashboard.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from labs import start_lab
from prometheus_server import PrometheusServer, by, free_tcp_port, probe_job, write_targets
from test_exporter_lab import exporter

from pychrony.lab import Lab

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "contrib" / "prometheus" / "chrony.rules.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "chrony.json"
PROBED = "tracking,sources,sourcestats"


class Stack:
    def __init__(self, prometheus: PrometheusServer, labs: list[Lab], dead: str, sd: Path):
        self.prometheus = prometheus
        self.labs = labs
        self.dead = dead
        self.targets_file = sd


@pytest.fixture(scope="module")
def stack(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    own = [start_lab(sources=s, refclock=False) for s in (1, 2)]
    labs = [lab, *own]
    dead = f"127.0.0.1:{free_tcp_port()}"  # nothing answers UDP there
    sd = tmp_path_factory.mktemp("file_sd") / "chrony.json"
    write_targets(sd, [x.udp_address for x in labs] + [dead], fleet="lab")
    flags = ["--probe.enabled", "--collector.sources", "--collector.sourcestats"]
    flags.append("--collector.serverstats")
    try:
        with exporter(lab.socket_path, *flags) as running:
            address = running.url.removeprefix("http://")
            jobs = [
                {"job_name": "chrony", "static_configs": [{"targets": [address]}]},
                # params as README shows them: a YAML list, one collectors= each
                probe_job("chrony_probe", address, sd, collectors=PROBED.split(",")),
            ]
            with PrometheusServer(jobs, rule_files=[str(RULES)]) as prometheus:
                prometheus.wait_for(
                    'count(up{job=~"chrony|chrony_probe"} == 1)',
                    lambda r: bool(r) and float(r[0]["value"][1]) == len(labs) + 2,
                )
                yield Stack(prometheus, labs, dead, sd)
    finally:
        for started in own:
            started.stop()


def sources_of(lab: Lab) -> int:
    return len([row for row in lab.chronyc("sources").splitlines() if row])


def test_the_probe_job_has_each_targets_chronyd(stack):
    prom = stack.prometheus
    ups = by(prom.query('chrony_up{job="chrony_probe"}'), "instance")
    assert ups == {**{x.udp_address: 1.0 for x in stack.labs}, stack.dead: 0.0}
    # Prometheus' own view: every probe was a good scrape, the dead one too, on time
    assert set(by(prom.query('up{job="chrony_probe"}'), "instance").values()) == {1.0}
    duration = by(prom.query('scrape_duration_seconds{job="chrony_probe"}'), "instance")
    assert duration[stack.dead] < 1.0
    counts = by(
        prom.query('count by (instance) (chrony_sources_state_info{job="chrony_probe"})'),
        "instance",
    )
    assert counts == {x.udp_address: float(sources_of(x)) for x in stack.labs}
    # the file_sd file's labels are on every series
    assert {r["metric"]["fleet"] for r in prom.query('chrony_up{job="chrony_probe"}')} == {"lab"}


def test_the_exporters_own_chronyd_on_metrics(stack):
    prom = stack.prometheus
    lab = stack.labs[0]
    assert [float(r["value"][1]) for r in prom.query('chrony_up{job="chrony"}')] == [1.0]
    (stratum,) = prom.query('chrony_tracking_stratum{job="chrony"}')
    assert float(stratum["value"][1]) == float(lab.chronyc("tracking").split(",")[2])
    # serverstats answer over the Unix socket: a rate over real counters
    prom.wait_for(
        'rate(chrony_serverstats_command_packets_received_total{job="chrony"}[10s])',
        lambda r: bool(r) and float(r[0]["value"][1]) > 0,
    )


def test_a_target_added_to_file_sd_is_probed(stack):
    socket_target = f"unix://{stack.labs[1].socket_path}"
    targets = [x.udp_address for x in stack.labs] + [stack.dead, socket_target]
    write_targets(stack.targets_file, targets, fleet="lab")
    result = stack.prometheus.wait_for(
        f'chrony_up{{job="chrony_probe",instance="{socket_target}"}}',
        lambda r: bool(r) and float(r[0]["value"][1]) == 1.0,
    )
    assert result[0]["metric"]["fleet"] == "lab"


def test_the_alert_rules_load_and_chronyd_down_is_pending_for_the_dead_target(stack):
    prom = stack.prometheus
    groups = prom.api("rules")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert len(rules) == 10
    assert {rule["health"] for rule in rules} == {"ok"}, [r.get("lastError") for r in rules]

    def dead_down(alerts: list[dict]) -> list[dict]:
        return [
            a
            for a in alerts
            if a["labels"]["alertname"] == "ChronydDown"
            and a["labels"].get("instance") == stack.dead
        ]

    prom.wait_for('ALERTS{alertname="ChronydDown"}', bool)
    alerts = prom.api("alerts")["alerts"]
    (down,) = dead_down(alerts)
    assert down["state"] == "pending"  # for: 2m
    assert down["labels"]["severity"] == "critical"
    assert stack.dead in down["annotations"]["summary"]
    # the live labs raise none of the critical alerts
    critical = [a for a in alerts if a["labels"]["severity"] == "critical"]
    assert {a["labels"].get("instance") for a in critical} == {stack.dead}


# -- the Grafana dashboard: every expression returns data -----------------------------------

#: What Grafana puts in for its variables when "All" is chosen.
VARIABLES = {"$job": ".+", "$instance": ".+", "$__rate_interval": "10s"}


def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, expression) of every target of the dashboard."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [
        (panel["title"], target["expr"])
        for panel in dashboard["panels"]
        for target in panel.get("targets", ())
    ]


def expand(expr: str) -> str:
    return re.sub(r"\$\w+", lambda m: VARIABLES[m.group(0)], expr)


@pytest.mark.parametrize(
    ("title", "expr"), dashboard_queries(), ids=[f"{t}:{e[:40]}" for t, e in dashboard_queries()]
)
def test_every_dashboard_expression_returns_data(stack, title, expr):
    result = stack.prometheus.wait_for(expand(expr), bool, timeout=30)
    assert all(r["value"][1] not in ("NaN", "+Inf", "-Inf") for r in result), (title, result)


def test_the_dashboards_variables_list_the_fleet(stack):
    dashboard = json.loads(DASHBOARD.read_text())
    queries = {v["name"]: v.get("definition") for v in dashboard["templating"]["list"]}
    metric, label = re.fullmatch(r"label_values\((\w+), (\w+)\)", queries["job"]).groups()
    jobs = stack.prometheus.api(f"label/{label}/values", **{"match[]": metric})
    assert {"chrony", "chrony_probe"} <= set(jobs)
    match = re.fullmatch(r"label_values\((.+), (\w+)\)", queries["instance"])
    selector, label = match.groups()
    instances = stack.prometheus.api(f"label/{label}/values", **{"match[]": expand(selector)})
    assert {x.udp_address for x in stack.labs} | {stack.dead} <= set(instances)
