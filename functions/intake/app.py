"""The partner API: POST/GET /v1/reports and the OpenAPI document."""

from kanal.entrypoints.api import lambda_handler

__all__ = ["lambda_handler"]
