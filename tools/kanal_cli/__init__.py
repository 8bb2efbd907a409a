"""The ``kanal`` command: operators, reviewers and partners' staff, on a workstation.

A package of its own, installed by pyproject.toml and never part of the Lambda layer: it may use argparse and
talk to the stack from outside; the runtime package ``kanal`` never imports it.
"""
