"""EventBridge Scheduler target: deadline reminders and daily digests."""

from kanal.entrypoints.reminder_function import lambda_handler

__all__ = ["lambda_handler"]
