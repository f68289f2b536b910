#!/usr/bin/env python3
"""Checks conf/grafana/sluice.json and docker/prometheus/ against the metrics the gateway exports.

    python3 conf/grafana/check.py        (from anywhere; exits 1 and lists the problems if there are any)

- the dashboard is valid JSON, schemaVersion 39, panel ids unique, every gridPos inside 24 columns and no two panels
  overlapping;
- every panel and query uses the datasource variable ${DS_PROMETHEUS}, and every $variable is one the dashboard
  defines or one of Grafana's own;
- every sluice_* name in a query of the dashboard or in docker/prometheus/alerts.yml is one that
  core/src/main/java/sluice/core/metrics/SluiceMetrics.java exports: a counter as <name>_total, a histogram as
  <name>_bucket, _sum and _count, a gauge as its name; a _bucket series only inside histogram_quantile(... by (le ...));
- with promtool on the PATH, the PromQL of every query and alert parses, prometheus.yml is a valid config and the
  alerts pass their unit tests (docker/prometheus/alerts.test.yml).
Only the standard library is needed.
"""
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "conf/grafana/sluice.json"
METRICS_JAVA = ROOT / "core/src/main/java/sluice/core/metrics/SluiceMetrics.java"
PROMETHEUS_YML = ROOT / "docker/prometheus/prometheus.yml"
ALERTS_YML = ROOT / "docker/prometheus/alerts.yml"
ALERTS_TEST_YML = ROOT / "docker/prometheus/alerts.test.yml"

DATASOURCE = "${DS_PROMETHEUS}"
GRAFANA_VARIABLES = {"__range", "__rate_interval", "__interval", "__range_s", "__interval_ms", "__all"}
# What Grafana puts in place of its variables, so that promtool can parse a dashboard query.
PROMTOOL_VALUES = {"__range": "1h", "__rate_interval": "1m", "__interval": "15s"}
NAME = re.compile(r"\bsluice_[a-z0-9_]+")
BUILDER = re.compile(r'\b(Counter|Gauge|Histogram)\.builder\(\)\s*\.name\("([a-z0-9_]+)"\)')
VARIABLE = re.compile(r"\$\{?(\w+)")


def exported_names(java_source):
    """The series names of every metric family SluiceMetrics registers, as Prometheus scrapes them."""
    names = set()
    for kind, name in BUILDER.findall(java_source):
        if kind == "Counter":
            names.add(re.sub(r"_total$", "", name) + "_total")
        elif kind == "Histogram":
            names.update(name + suffix for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(name)
    return names


def all_panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])   # a collapsed row keeps its panels inside


def check_layout(panels, problems):
    ids = [p.get("id") for p in panels]
    for dup in sorted({i for i in ids if ids.count(i) > 1}, key=str):
        problems.append(f"panel id {dup} is used more than once")
    boxes = []
    for p in panels:
        g = p.get("gridPos", {})
        x, y, w, h = (g.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(v, int) for v in (x, y, w, h)) or x < 0 or y < 0 or w < 1 or h < 1 or x + w > 24:
            problems.append(f"panel {p.get('id')} {p.get('title')!r}: bad gridPos {g}")
            continue
        for other, (ox, oy, ow, oh) in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                problems.append(f"panel {p.get('id')} {p.get('title')!r} overlaps panel {other}")
        boxes.append((p.get("id"), (x, y, w, h)))


def check_names(where, text, exported, problems):
    for name in sorted(set(NAME.findall(text)) - exported):
        problems.append(f"{where}: {name} is not exported by SluiceMetrics.java")


def queries(dashboard):
    """(where, expression) of every query of a panel or a variable."""
    for p in all_panels(dashboard):
        for t in p.get("targets", []):
            yield f"panel {p.get('id')} {p.get('title')!r} query {t.get('refId')}", t.get("expr", "")
    for v in dashboard.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            yield f"variable {v.get('name')}", q if isinstance(q, str) else q.get("query", "")


def check_dashboard(dashboard, exported, problems):
    if dashboard.get("schemaVersion") != 39:
        problems.append(f"schemaVersion is {dashboard.get('schemaVersion')}, not 39")
    panels = list(all_panels(dashboard))
    check_layout(panels, problems)
    variables = {v.get("name") for v in dashboard.get("templating", {}).get("list", [])}
    if "DS_PROMETHEUS" not in variables:
        problems.append("no datasource variable DS_PROMETHEUS")
    for p in panels:
        sources = [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]
        if p.get("type") != "row" and any((s or {}).get("uid") != DATASOURCE for s in sources):
            problems.append(f"panel {p.get('id')} {p.get('title')!r}: datasource is not {DATASOURCE}")
    for where, expr in queries(dashboard):
        if not expr.strip():
            problems.append(f"{where}: empty query")
        check_names(where, expr, exported, problems)
        if "_bucket" in expr and not re.search(r"histogram_quantile\(.*\bby \(le\b", expr):
            problems.append(f"{where}: a _bucket series outside histogram_quantile(..., sum by (le, ...))")
        for var in set(VARIABLE.findall(expr)) - variables - GRAFANA_VARIABLES:
            problems.append(f"{where}: ${var} is not a variable of the dashboard")


def promtool(dashboard, problems):
    """PromQL syntax of the dashboard and the alerts, and the Prometheus config, if promtool is installed."""
    tool = shutil.which("promtool")
    if tool is None:
        print("promtool not found: PromQL syntax, prometheus.yml and the alerts' unit tests not checked")
        return
    rules = []
    for n, (where, expr) in enumerate(queries(dashboard)):
        if expr.startswith("label_values("):
            continue   # Grafana's own function, not PromQL
        for var, value in PROMTOOL_VALUES.items():
            expr = expr.replace("$" + var, value)
        rules.append({"record": f"dashboard:query_{n}", "expr": VARIABLE.sub(".*", expr),
                      "labels": {"where": where}})
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)   # JSON is YAML
        f.flush()
        runs = [("dashboard queries", [tool, "check", "rules", f.name]),
                ("alerts.yml", [tool, "check", "rules", str(ALERTS_YML)]),
                ("alerts.test.yml", [tool, "test", "rules", str(ALERTS_TEST_YML)]),
                ("prometheus.yml", [tool, "check", "config", str(PROMETHEUS_YML)])]
        for what, cmd in runs:
            run = subprocess.run(cmd, capture_output=True, text=True)
            if run.returncode != 0:
                problems.append(f"promtool on {what}: {(run.stdout + run.stderr).strip()}")


def main():
    problems = []
    exported = exported_names(METRICS_JAVA.read_text())
    if not exported:
        problems.append(f"no metric found in {METRICS_JAVA}")
    try:
        dashboard = json.loads(DASHBOARD.read_text())
    except ValueError as e:
        print(f"{DASHBOARD}: not valid JSON: {e}")
        return 1
    check_dashboard(dashboard, exported, problems)
    check_names(ALERTS_YML.name, ALERTS_YML.read_text(), exported, problems)
    promtool(dashboard, problems)
    for p in problems:
        print(p)
    panels = sum(1 for p in all_panels(dashboard) if p.get("type") != "row")
    print(f"{'FAILED' if problems else 'ok'}: {panels} panels, {sum(1 for _ in queries(dashboard))} queries, "
          f"{len(exported)} exported sluice series names, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
