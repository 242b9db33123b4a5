"""deploy/prometheus and deploy/grafana: the shipped alert rules, example configs and dashboard.

The rules pass `promtool check rules` and their unit tests (`promtool test rules`), the example
Prometheus and Alertmanager configurations pass promtool and amtool, and every metric the rules
and the dashboard name is one that /metrics serves after a message has gone through.

promtool comes with Debian's prometheus package, amtool with prometheus-alertmanager. Skipped only
where they are missing outside CI; under CI a missing tool fails (.ci/run installs them).
"""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from conftest import ALICE_CHAT, make_due, run_sweep
from relay.splitting import split_message
from relay.tests.helpers import post_text

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "tg-relay-alerts.yml"
RULES_TESTS = PROMETHEUS_DIR / "tg-relay-alerts.test.yml"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTMANAGER_CONFIG = PROMETHEUS_DIR / "alertmanager.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "tg-relay-dashboard.json"

# Series Prometheus makes itself rather than reads from /metrics.
PROMETHEUS_OWN = {"up"}
# PromQL words that look like metric names: operators, modifiers, aggregations.
PROMQL_WORDS = {
    "and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
    "inf", "nan", "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "limitk", "limit_ratio",
}  # fmt: skip
# What Grafana fills in before a query reaches Prometheus.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$job": "tg-relay"}


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing: .ci/run installs it (apt-get install {package}) before the tests.")
    pytest.skip(f"{name} is not installed (apt-get install {package})")


def run(*args: str | Path, cwd: Path = PROMETHEUS_DIR) -> str:
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def dashboard_queries() -> list[str]:
    """Every PromQL query of the dashboard: its panels' and its variables' (the metric of label_values)."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            queries.append(re.fullmatch(r"label_values\((.+),\s*\w+\)", query)[1])
    return queries


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers less functions, keywords and label names."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges and subqueries
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][\w:]*", expr):
        before, after = expr[: match.start()], expr[match.end() :].lstrip()
        if re.search(r"[\d.$]$", before) or after.startswith("(") or match[0] in PROMQL_WORDS:
            continue  # part of a number or a duration, a function, or a keyword
        names.add(match[0])
    return names


def served_metrics(client) -> tuple[set[str], set[str]]:
    """The series names /metrics serves (with _total, _bucket, _sum, _count) and its metric family names."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.content
    families = list(text_string_to_metric_families(response.content.decode()))
    return {sample.name for family in families for sample in family.samples}, {family.name for family in families}


# -- promtool and amtool ---------------------------------------------------------------------------


def test_alert_rules_pass_promtool():
    output = run(tool("promtool", "prometheus"), "check", "rules", RULES.name)

    assert f"SUCCESS: {len(alert_rules())} rules found" in output


def test_alert_rules_unit_tests_pass():
    expected = yaml.safe_load(RULES_TESTS.read_text())
    firing = {case["alertname"] for test in expected["tests"] for case in test["alert_rule_test"] if case["exp_alerts"]}
    assert {"TgRelayDeliveryStalled", "TgRelayFailuresRising"} <= firing

    run(tool("promtool", "prometheus"), "test", "rules", RULES_TESTS.name)


def test_example_prometheus_config_passes_promtool_and_loads_the_rules():
    output = run(tool("promtool", "prometheus"), "check", "config", PROMETHEUS_CONFIG.name)

    assert "SUCCESS: 1 rule files found" in output


def test_example_alertmanager_config_passes_amtool():
    run(tool("amtool", "prometheus-alertmanager"), "check-config", ALERTMANAGER_CONFIG.name)


def test_dashboard_queries_are_valid_promql(tmp_path):
    """promtool has no query checker of its own: each query becomes a recording rule it checks."""
    rules = []
    for number, query in enumerate(dashboard_queries()):
        for variable, value in GRAFANA_VARIABLES.items():
            query = query.replace(variable, value)
        assert "$" not in query, f"a Grafana variable this test does not fill in: {query}"
        rules.append({"record": f"dashboard:query{number}", "expr": query})
    (tmp_path / "dashboard.yml").write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

    output = run(tool("promtool", "prometheus"), "check", "rules", "dashboard.yml", cwd=tmp_path)

    assert f"SUCCESS: {len(rules)} rules found" in output


# -- what the files say ----------------------------------------------------------------------------


def test_every_alert_waits_has_a_severity_and_points_at_the_runbook():
    readme_headings = re.findall(r"^#+ (.+)$", (ROOT / "README.md").read_text(), re.MULTILINE)

    for rule in alert_rules():
        assert rule.get("for"), rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= rule["annotations"].keys(), rule["alert"]
        page, anchor = rule["annotations"]["runbook_url"].split("#")
        assert page == "README.md"
        assert anchor in {heading.lower().replace(" ", "-") for heading in readme_headings}, rule["alert"]


def test_alerts_select_the_job_the_example_config_scrapes():
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    jobs = {scrape["job_name"] for scrape in config["scrape_configs"]}

    selected = set(re.findall(r'job="([^"]+)"', RULES.read_text()))

    assert selected and selected <= jobs
    assert [path for path in config["rule_files"] if (PROMETHEUS_DIR / path).resolve() == RULES] == [RULES.name]


def test_alerts_go_to_tg_relay_and_to_a_channel_that_does_not_need_it():
    config = yaml.safe_load(ALERTMANAGER_CONFIG.read_text())
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}

    receiver = receivers[config["route"]["receiver"]]

    assert [hook["url"] for hook in receiver["webhook_configs"]] == [
        "https://relay.example.com/hooks/<secret>/alertmanager"
    ]
    others = {key for key, value in receiver.items() if key.endswith("_configs") and key != "webhook_configs"}
    assert others, "an alert that tg-relay is down needs a channel other than tg-relay"


# -- the metrics they name are the ones /metrics serves --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_rules_and_dashboard_name_only_metrics_that_metrics_serves(tg, alice_linked, client):
    # A message accepted, retried once, and sent: every counter and the histogram have counted.
    tg.add_fault(kind="502")
    post_text(alice_linked, "Hello")
    make_due()
    run_sweep()
    assert [record["text"] for record in tg.sent(ALICE_CHAT)] == split_message("Alice", "Hello")
    series, families = served_metrics(client)

    in_rules = set().union(*(metric_names(rule["expr"]) for rule in alert_rules()))
    in_dashboard = set().union(*(metric_names(query) for query in dashboard_queries()))

    assert in_rules - series - PROMETHEUS_OWN == set()
    assert in_dashboard - series - PROMETHEUS_OWN == set()
    assert {"up", "tgrelay_queue_depth", "tgrelay_oldest_queued_age_seconds"} <= in_rules
    # And the dashboard shows every metric tg-relay serves.
    shown = {family for family in families if any(re.fullmatch(rf"{family}(_\w+)?", name) for name in in_dashboard)}
    assert {family for family in families if family.startswith("tgrelay_")} - shown == set()
