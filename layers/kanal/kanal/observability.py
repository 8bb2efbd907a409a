"""Logger, Tracer and Metrics, made once for every entry point (service name and namespace come from the template)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="kanal")
tracer = Tracer(service="kanal")
metrics = Metrics(namespace="Kanal", service="kanal")
