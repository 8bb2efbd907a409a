"""What the tests share, in one place: no test module imports another (tests/unit/test_layout.py checks it).

- ``fakes``: the ports in memory (reports, cases, trail, partners, review queues that behave as SQS does,
  reminder timers, delivery, digests), and ``Desk``, kanal's rules wired over them, for the unit tests.
- ``lambdas``: the functions as Lambda runs them on the moto stack: handlers loaded as SAM loads them, their
  context, the events in events/, the table's stream, injected AWS faults, and the reviewer API in-process.
- ``reports``: what partners send and read back (the intake's events and bodies, a reported case), with the
  fixed moments and texts the tests share.
- ``console``: the reviewer's prompts scripted, and the characters a terminal must never get raw.
- ``local_stack``: ``kanal dev`` in a subprocess, as the integration tests start it.
- ``iam``: the AWS calls of the tests recorded and checked against the translated template's statements.
- ``stats``: ``GET /v1/stats``'s answers (the seeds' figures, or drawn by hypothesis with hostile and personal-looking
  fields), the report's marked figures read back, and a stand-in partner API on 127.0.0.1.
- ``trace_probe``: every handler run once with active tracing on, as ``python -m tests.support.trace_probe``.

The fixtures over them are in tests/conftest.py (tests/integration/conftest.py: the running local stack).
"""

from pathlib import Path

#: The repository.
ROOT = Path(__file__).resolve().parents[2]
