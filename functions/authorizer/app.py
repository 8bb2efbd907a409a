"""API Gateway REQUEST authorizer: turns a partner's bearer key into its identity."""

from kanal.entrypoints.authorizer_function import lambda_handler

__all__ = ["lambda_handler"]
