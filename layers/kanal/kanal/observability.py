"""Logger, Metrics and Tracer, made once for every entry point (service name and namespace come from the template).

The Tracer is made on first use: it imports the X-Ray SDK (about 0.1 s of cold start), which the
authorizer, on the request path of every uncached key, does without.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, wraps
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger(service="kanal")
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


@cache
def _tracer() -> Tracer:
    from aws_lambda_powertools import Tracer

    # Only botocore is patched: the default, every library the X-Ray SDK knows, imports requests and
    # more at cold start for calls these functions never make.
    return Tracer(service="kanal", patch_modules=["botocore"])


def __getattr__(name: str) -> Any:
    if name == "tracer":
        return _tracer()
    raise AttributeError(name)
