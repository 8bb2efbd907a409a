"""The reviewer API: claim, read a case, keep, decide, ask and release, as the caller's verified IAM principal."""

from kanal.entrypoints.review_function import lambda_handler

__all__ = ["lambda_handler"]
