"""Review metrics in CloudWatch: decisions by outcome and policy, and time from first report to decision."""

from __future__ import annotations

from typing import Any

from kanal.models import Case

NAMESPACE = "Kanal"


def decision_metrics(case: Case) -> list[dict[str, Any]]:
    """The metric data of one decided case."""
    if case.decision is None:
        return []
    decision = case.decision
    dimensions = [
        {"Name": "outcome", "Value": str(decision.outcome)},
        {"Name": "policy", "Value": str(decision.policy)},
    ]
    seconds = (decision.decided_at - case.first_reported_at).total_seconds()
    return [
        {"MetricName": "Decisions", "Dimensions": dimensions, "Value": 1, "Unit": "Count"},
        {"MetricName": "TimeToDecision", "Value": max(seconds, 0), "Unit": "Seconds"},
    ]


def publish_decision(client: Any, case: Case) -> None:
    """Send a decided case's metrics."""
    data = decision_metrics(case)
    if data:
        client.put_metric_data(Namespace=NAMESPACE, MetricData=data)
