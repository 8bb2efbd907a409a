"""Logger, Metrics and Tracer, made once for every entry point (service name and namespace come from the template).

The Tracer is made on first use: it imports the X-Ray SDK (about 0.1 s of cold start), which the
authorizer, on the request path of every uncached key, does without.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

logger = Logger(service="kanal")
metrics = Metrics(namespace="Kanal", service="kanal")


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
