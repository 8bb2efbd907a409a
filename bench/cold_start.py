"""Cold start: a fresh process that imports a function's handler and makes the AWS clients it uses,
against a fresh process that only imports boto3 and makes the same clients (the floor), in the same run.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Function -> (its directory, the clients it makes, the wiring call that makes them).
FUNCTIONS = {
    "AuthorizerFunction": ("authorizer", ["dynamodb"], "wiring.services().partners"),
    "IntakeFunction": ("intake", ["dynamodb"], "wiring.services().intake"),
    "CaseBuilderFunction": ("case_builder", ["dynamodb", "sqs"], "wiring.services().case_builder()"),
    "ReminderFunction": ("reminder", ["dynamodb", "sns"], "wiring.services().reminders()"),
}
ENV = {
    "AWS_DEFAULT_REGION": "ap-southeast-3",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "TABLE_NAME": "kanal-table",
    "URGENT_QUEUE_URL": "https://sqs.ap-southeast-3.amazonaws.com/123456789012/urgent",
    "NORMAL_QUEUE_URL": "https://sqs.ap-southeast-3.amazonaws.com/123456789012/normal",
    "PARTNER_TOPIC_ARN": "arn:aws:sns:ap-southeast-3:123456789012:partners",
    "LEADS_TOPIC_ARN": "arn:aws:sns:ap-southeast-3:123456789012:leads",
    "POWERTOOLS_SERVICE_NAME": "kanal",
    # What Lambda sets: the X-Ray SDK, for one, takes its cheap Lambda path (no sampling client) when it sees them.
    "LAMBDA_TASK_ROOT": str(ROOT / "functions"),
    "AWS_LAMBDA_FUNCTION_NAME": "kanal-bench",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
}


def _time(code: str, cwd: Path) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | ENV
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # Lambda layers ship bytecode; so do these runs (after a warm-up)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, check=True)  # noqa: S603 - our own code
    return time.perf_counter() - started


def run(repeats: int = 15) -> dict[str, dict[str, float]]:
    """Median seconds per function and for its floor, and their ratio."""
    results: dict[str, dict[str, float]] = {}
    for name, (folder, clients, wiring_call) in FUNCTIONS.items():
        handler = f"import app\nfrom kanal import wiring\n{wiring_call}\n"
        floor = "import boto3\n" + "".join(f"boto3.client({c!r})\n" for c in clients)
        cwd = ROOT / "functions" / folder
        _time(handler, cwd), _time(floor, cwd)  # warm-up: compile bytecode once
        samples = [(_time(handler, cwd), _time(floor, cwd)) for _ in range(repeats)]
        handler_s = statistics.median(s[0] for s in samples)
        floor_s = statistics.median(s[1] for s in samples)
        results[name] = {
            "median_s": round(handler_s, 3),
            "boto3_floor_s": round(floor_s, 3),
            "ratio_vs_boto3": round(handler_s / floor_s, 2),
        }
    return results


#: What the functions import besides botocore, each measured alone in a fresh process (what it adds to
#: a bare interpreter); the sum overstates, as modules share dependencies.
IMPORTS = {
    "boto3 (the floor's import; the functions use botocore alone)": "import boto3",
    "botocore session and client": "import botocore.session, botocore.client",
    "Powertools Logger and Metrics": "from aws_lambda_powertools import Logger, Metrics",
    "X-Ray SDK, as Powertools' Tracer imported it (no longer used)": "import aws_xray_sdk.core",
    "pydantic": "import pydantic",
    "kanal.models (validators built on first use)": "import kanal.models",
    "kanal.entrypoints.routing (the intake's router)": "import kanal.entrypoints.routing",
    "Powertools APIGatewayRestResolver (no longer used)": (
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver"
    ),
    "Powertools resolver with validation (no longer used)": (
        "from aws_lambda_powertools.event_handler import APIGatewayRestResolver\n"
        "APIGatewayRestResolver(enable_validation=True)"
    ),
}


def import_costs(repeats: int = 7) -> dict[str, float]:
    """Median seconds each import adds to a bare interpreter (fresh processes, bytecode cached)."""
    cwd = ROOT / "functions" / "intake"
    _time("pass", cwd)
    bare = statistics.median(_time("pass", cwd) for _ in range(repeats))
    costs: dict[str, float] = {}
    for name, code in IMPORTS.items():
        _time(code, cwd)
        costs[name] = round(max(0.0, statistics.median(_time(code, cwd) for _ in range(repeats)) - bare), 3)
    return costs


#: The functions that had Powertools' Tracer, and what it did at import: the X-Ray SDK, botocore patched.
TRACED = {"IntakeFunction": FUNCTIONS["IntakeFunction"], "CaseBuilderFunction": FUNCTIONS["CaseBuilderFunction"]}
OLD_TRACER = (
    'import os\nos.environ["POWERTOOLS_TRACE_DISABLED"] = "false"\n'
    'from aws_lambda_powertools import Tracer\nTracer(service="kanal", patch_modules=["botocore"])\n'
)


def tracing(repeats: int = 21) -> dict[str, dict[str, float]]:
    """Cold start of each traced function as it is (Lambda's active tracing alone: no SDK in the process)
    and with the Tracer it had (the X-Ray SDK imported and botocore patched, as the decorator did at
    import), each against the boto3 floor: median seconds and ratios, the three interleaved in fresh
    processes, their order rotated each round so that neither gains from the machine's drift.
    """
    results: dict[str, dict[str, float]] = {}
    for name, (folder, clients, wiring_call) in TRACED.items():
        handler = f"import app\nfrom kanal import wiring\n{wiring_call}\n"
        variants = {
            "floor": "import boto3\n" + "".join(f"boto3.client({c!r})\n" for c in clients),
            "active_tracing_only": handler,
            "xray_sdk_tracer": OLD_TRACER + handler,
        }
        cwd = ROOT / "functions" / folder
        for code in variants.values():
            _time(code, cwd)  # warm-up: compile bytecode once
        samples: dict[str, list[float]] = {variant: [] for variant in variants}
        order = list(variants)
        for round_ in range(repeats):
            for variant in order[round_ % 3 :] + order[: round_ % 3]:
                samples[variant].append(_time(variants[variant], cwd))
        median = {variant: statistics.median(found) for variant, found in samples.items()}
        results[name] = {
            "boto3_floor_s": round(median["floor"], 3),
            "active_tracing_only_s": round(median["active_tracing_only"], 3),
            "xray_sdk_tracer_s": round(median["xray_sdk_tracer"], 3),
            "ratio_active_tracing_only": round(median["active_tracing_only"] / median["floor"], 2),
            "ratio_xray_sdk_tracer": round(median["xray_sdk_tracer"] / median["floor"], 2),
            "xray_sdk_tracer_adds_s": round(median["xray_sdk_tracer"] - median["active_tracing_only"], 3),
        }
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(tracing() if sys.argv[1:] == ["--tracing"] else run(5), indent=2))
