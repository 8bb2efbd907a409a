"""Logger and Metrics, made once for every entry point (service name and namespace come from the template).

There is no Tracer: the functions run with Lambda's active tracing alone (``Tracing: Active`` in the
template), which records each invocation and its initialisation without any SDK in the function, so
nothing a handler receives or answers can reach X-Ray (docs/tracing.md argues the choice). Every log
line carries the invocation's X-Ray trace id (``xray_trace_id``, from ``_X_AMZN_TRACE_ID``), so a trace
found in X-Ray leads to its logs, and the logs to the trace.

The logs never carry partner content either: exceptions are logged with their traceback, but a pydantic
``ValidationError`` (whose text quotes the rejected input: a description, a question, a reason) is
logged by the location and type of each error only.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from functools import wraps
from types import TracebackType
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from pydantic import ValidationError

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def safe_text(error: BaseException) -> str:
    """What a log may say about an exception: its text, but a ValidationError without the inputs it quotes."""
    if isinstance(error, ValidationError):
        found = error.errors(include_url=False, include_context=False, include_input=False)
        where = "; ".join(f"{'.'.join(str(part) for part in e['loc']) or '(root)'}: {e['type']}" for e in found)
        return f"{error.error_count()} validation error(s) for {error.title}: {where}"
    return str(error)


class ContentFreeFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON log format, with exception texts from ``safe_text`` (the traceback and its chain kept)."""

    def formatException(self, ei: ExcInfo) -> str:  # type: ignore[override]
        _, error, _ = ei
        if error is None:
            return ""
        chain: list[BaseException] = []
        while error is not None and error not in chain:
            chain.append(error)
            error = error.__cause__ or (None if error.__suppress_context__ else error.__context__)
        parts: list[str] = []
        for depth, link in enumerate(reversed(chain)):
            if depth:
                caused = link.__cause__ is not None
                parts.append(
                    "\nThe above exception was the direct cause of the following exception:\n\n"
                    if caused
                    else "\nDuring handling of the above exception, another exception occurred:\n\n"
                )
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.format_tb(link.__traceback__))
            parts.append(f"{type(link).__module__}.{type(link).__qualname__}: {safe_text(link)}\n")
        return "".join(parts).rstrip("\n")

    def _serialize_stacktrace(self, log_record: logging.LogRecord) -> Any:
        found = super()._serialize_stacktrace(log_record)
        if found is not None and isinstance(log_record.exc_info, tuple) and log_record.exc_info[1] is not None:
            found["value"] = safe_text(log_record.exc_info[1])
        return found


logger = Logger(service="kanal", logger_formatter=ContentFreeFormatter())
metrics = Metrics(namespace="Kanal", service="kanal")


Handler = TypeVar("Handler", bound=Callable[..., Any])


def log_metrics(handler: Handler) -> Handler:
    """Powertools' ``metrics.log_metrics``; and with metrics disabled (tests, ``kanal dev``) the metric set
    is emptied after each invocation: Powertools 3.37 keeps it then, and prints it as soon as one
    metric has 100 values, which the local console would show every hundred reports.
    """
    logged = metrics.log_metrics(handler)

    @wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return logged(*args, **kwargs)
        finally:
            if is_metrics_disabled():
                metrics.clear_metrics()

    return run  # type: ignore[return-value]
