"""docs/grafana-dashboard.json asks only for metrics /metrics serves, with their labels."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from bot.metrics import Metrics
from store.db import Database

DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana-dashboard.json"
METRIC = re.compile(r"\breviewops_[a-z_]+\b")
GROUPED = re.compile(r"\bby \(([^)]*)\)")
SUFFIXES = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
# Labels of the gauges read from the database at scrape time (bot/metrics.py's collectors).
SCRAPED_LABELS = {
    "reviewops_messages": {"status"},
    "reviewops_sender_queued": {"sender"},
    "reviewops_sender_rate": {"sender"},
    "reviewops_sender_lag_seconds": {"sender"},
}


def _expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def _served(database_url: str) -> dict[str, set[str]]:
    """Every sample name the registry serves, with the labels it may carry."""
    db = Database(database_url)
    try:
        metrics = Metrics(db)
        names: dict[str, set[str]] = {}
        for family in metrics.registry.collect():
            for suffix in SUFFIXES.get(family.type, [""]):
                names[family.name + suffix] = set(SCRAPED_LABELS.get(family.name, set()))
        for metric in vars(metrics).values():
            if isinstance(metric, MetricWrapperBase):
                for name in [n for n in names if n.startswith(metric._name)]:
                    names[name] |= set(metric._labelnames) | {"le"}
        return names
    finally:
        db.dispose()


def test_every_expression_names_a_metric_that_is_served(database_url: str) -> None:
    served = _served(database_url)
    expressions = _expressions()
    assert expressions
    wanted = {name for expr in expressions for name in METRIC.findall(expr)}
    assert wanted - served.keys() == set()
    # The dashboard shows the four: queue age, send latency, outbox lag, apply lag.
    assert {
        "reviewops_queue_oldest_due_seconds",
        "reviewops_send_seconds_bucket",
        "reviewops_slack_outbox_lag_seconds",
        "reviewops_webhook_apply_lag_seconds",
    } <= wanted


def test_every_grouping_uses_labels_its_metrics_have(database_url: str) -> None:
    served = _served(database_url)
    for expr in _expressions():
        labels = served.keys() & set(METRIC.findall(expr))
        known = set().union(*(served[name] for name in labels))
        for group in GROUPED.findall(expr):
            grouped = {label.strip() for label in group.split(",")}
            assert grouped <= known, expr
