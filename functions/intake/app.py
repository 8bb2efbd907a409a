"""The partner API: reports, answers to reviewers' questions, reminders and the OpenAPI document."""

from kanal.entrypoints.intake_function import lambda_handler

__all__ = ["lambda_handler"]
