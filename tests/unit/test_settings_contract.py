"""The settings' one declaration (kanal.settings.SETTINGS) against the template: names, variables, outputs."""

from __future__ import annotations

from kanal.settings import POWERTOOLS_VARIABLES, SETTINGS, Settings, variables
from kanal_local.template import load


def function_environments() -> dict[str, set[str]]:
    template = load()
    globals_ = set(template["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    return {
        name: globals_ | set(resource["Properties"].get("Environment", {}).get("Variables", {}))
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }


def test_every_variable_the_template_gives_a_function_is_a_declared_setting() -> None:
    known = {s.variable for s in SETTINGS} | set(POWERTOOLS_VARIABLES)
    for function, names in function_environments().items():
        assert names <= known, (function, names - known)


def test_every_declared_setting_is_a_field_and_every_field_is_declared_once() -> None:
    fields = [s.field for s in SETTINGS]
    assert sorted(fields) == sorted(Settings.model_fields)
    assert len(set(variables())) == len(variables())


def test_every_output_the_cli_reads_exists_and_every_setting_a_function_gets_is_given_by_some_function() -> None:
    outputs = set(load()["Outputs"])
    assert {s.output for s in SETTINGS if s.output} <= outputs
    given = set().union(*function_environments().values())
    # Settings no function is given are the CLI's own (where the local stack is, the reviewer API).
    cli_only = {s.variable for s in SETTINGS} - given
    assert cli_only == {"AWS_ENDPOINT_URL", "KANAL_REVIEW_API_URL", "KANAL_API_URL"}
