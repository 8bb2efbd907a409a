"""Cost per million reports on AWS, from the counted requests and capacity units (``aws_requests``) and
the case mix (``review``), at list prices. Nothing here is timed; the few assumptions are named.
"""

from __future__ import annotations

from typing import Any

#: List prices, US East (N. Virginia), USD, as published on each service's pricing page in 2025
#: (DynamoDB after its November 2024 on-demand cut). Jakarta (ap-southeast-3) lists higher prices for
#: most of these; multiply by the region's ratio, or re-run with its prices, before budgeting.
PRICES = {
    "rest_api_per_million": 3.50,  # first 333 million requests a month
    "http_api_per_million": 1.00,  # first 300 million; for comparison only
    "lambda_per_million_requests": 0.20,
    "lambda_arm64_per_gb_second": 0.0000133334,
    "dynamodb_per_million_write_units": 0.625,  # on demand
    "dynamodb_per_million_read_units": 0.125,  # on demand
    "sqs_per_million_requests": 0.40,  # standard queues
    "cloudwatch_logs_per_gb": 0.50,  # ingestion
    "xray_per_million_traces": 5.00,  # recorded
}
#: What cannot be counted on moto: billed durations and log volume per report, and how sampling traces.
ASSUMPTIONS = {
    "intake_memory_gb": 0.5,  # template Globals MemorySize 512
    "intake_billed_ms": 60,  # two DynamoDB calls and the handler, warm
    "case_builder_billed_ms_per_report": 15,  # one UpdateItem per case per batch of up to 100 records
    "log_kb_per_report": 2.0,  # gateway log line, intake and case builder lines
    "xray_sampled_share": 0.05,  # the default rule: one request a second, then 5 %
}


def per_million_reports(aws_requests: dict[str, Any], cases_per_report: float) -> dict[str, Any]:
    """USD per million reports, by service, with REST API (chosen) and HTTP API (for comparison)."""
    reports = 1_000_000
    cases = reports * cases_per_report
    request_path = aws_requests["new_report_request_path"]
    built = aws_requests["new_report_after_answer"]
    decision = aws_requests["decision"]
    write_units = reports * request_path["dynamodb_write_units"] + cases * (
        built["dynamodb_write_units"] + decision["dynamodb_write_units"]
    )
    read_units = reports * request_path["dynamodb_read_units"] + cases * decision["dynamodb_read_units"]
    sqs_requests = cases * (
        built.get("sqs.SendMessage", 0) + decision.get("sqs.DeleteMessage", 0) + 2  # receive, extend on claim
    )
    gb_seconds = (
        reports
        * ASSUMPTIONS["intake_memory_gb"]
        * (ASSUMPTIONS["intake_billed_ms"] + ASSUMPTIONS["case_builder_billed_ms_per_report"])
        / 1000
    )
    lambda_requests = reports * 2  # intake, and at most one case builder invocation per report
    costs = {
        "api_gateway_rest": reports / 1e6 * PRICES["rest_api_per_million"],
        "lambda": lambda_requests / 1e6 * PRICES["lambda_per_million_requests"]
        + gb_seconds * PRICES["lambda_arm64_per_gb_second"],
        "dynamodb": write_units / 1e6 * PRICES["dynamodb_per_million_write_units"]
        + read_units / 1e6 * PRICES["dynamodb_per_million_read_units"],
        "sqs": sqs_requests / 1e6 * PRICES["sqs_per_million_requests"],
        "cloudwatch_logs": reports * ASSUMPTIONS["log_kb_per_report"] / 1024 / 1024 * PRICES["cloudwatch_logs_per_gb"],
        "xray": reports * ASSUMPTIONS["xray_sampled_share"] / 1e6 * PRICES["xray_per_million_traces"],
    }
    total = sum(costs.values())
    http_total = total - costs["api_gateway_rest"] + reports / 1e6 * PRICES["http_api_per_million"]
    return {
        **{name: round(value, 2) for name, value in costs.items()},
        "total_usd": round(total, 2),
        "total_usd_with_http_api": round(http_total, 2),
        "dynamodb_write_units_per_report": round(write_units / reports, 2),
        "dynamodb_read_units_per_report": round(read_units / reports, 2),
        "cases_per_report": cases_per_report,
    }
