"""Each setting is declared once, on its field: its variable, its stack output, its aliases."""

from __future__ import annotations

from kanal.settings import SETTINGS, Setting, Settings, variables


def test_every_field_says_where_it_comes_from_once() -> None:
    for name, info in Settings.model_fields.items():
        declared = [m for m in info.metadata if isinstance(m, Setting)]
        assert len(declared) == 1, name
    assert [s.field for s in SETTINGS] == list(Settings.model_fields)


def test_variables_and_outputs_are_unique_and_read_back() -> None:
    assert len(variables()) == len(set(variables()))
    outputs = [s.output for s in SETTINGS if s.output]
    assert len(outputs) == len(set(outputs))
    env = {s.variable: "7" if s.field == "retention_days" else f"value-of-{s.field}" for s in SETTINGS}
    read = Settings.from_env(env)
    assert read.retention_days == 7
    assert read.table_name == "value-of-table_name"
    assert read.review_api_url == "value-of-review_api_url"
