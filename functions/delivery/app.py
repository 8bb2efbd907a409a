"""SQS consumer: one signed webhook delivery per message."""

from kanal.entrypoints.delivery_function import lambda_handler

__all__ = ["lambda_handler"]
