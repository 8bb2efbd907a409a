"""DynamoDB stream consumer: partners' events into their feeds and onto the webhook delivery queue."""

from kanal.entrypoints.events_function import lambda_handler

__all__ = ["lambda_handler"]
