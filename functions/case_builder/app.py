"""DynamoDB stream consumer: groups new reports into cases and queues cases for review."""

from kanal.entrypoints.case_builder_function import lambda_handler

__all__ = ["lambda_handler"]
