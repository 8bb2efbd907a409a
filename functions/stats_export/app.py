"""EventBridge Scheduler target: the weekly and election-window exports of the national figures."""

from kanal.entrypoints.stats_export_function import lambda_handler

__all__ = ["lambda_handler"]
