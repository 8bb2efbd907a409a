"""EventBridge target: the evidence bucket's "Object Created" events."""

from kanal.entrypoints.evidence_function import lambda_handler

__all__ = ["lambda_handler"]
