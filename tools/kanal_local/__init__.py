"""The local stack: the template's resources on moto, in-process, for ``kanal dev`` and the tests.

A package of its own, installed with the CLI by pyproject.toml and never part of the Lambda layer.
"""

#: The header naming the reviewer on the local stack: ``kanal review`` sends it there instead of signing, and
#: only the local gateway reads it (API Gateway takes the caller from the signature).
LOCAL_CALLER_HEADER = "X-Kanal-Local-Reviewer"
