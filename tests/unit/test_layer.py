"""What ships in the Lambda layer is only what runs in Lambda: no CLI, no local stack, no tool they need.

The check itself is .ci/layer_check.py; ``make layer-check`` runs it on what ``sam build`` made.
"""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.support import ROOT


def _checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("layer_check", ROOT / ".ci" / "layer_check.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


layer_check = _checker()


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_the_layer_and_the_functions_import_nothing_of_the_tools() -> None:
    assert layer_check.check([ROOT / "layers" / "kanal" / "kanal", ROOT / "functions"]) == []


def test_the_layer_folder_holds_the_runtime_package_alone() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    content = ROOT / template["Resources"]["KanalLayer"]["Properties"]["ContentUri"]
    packages = {p.name for p in content.iterdir() if (p / "__init__.py").exists()}
    assert packages == {"kanal"}
    assert {p.name for p in content.iterdir() if p.is_file()} == {"requirements.in", "requirements.txt"}
    # the tools live apart, each a package of its own
    assert {p.name for p in (ROOT / "tools").iterdir() if (p / "__init__.py").exists()} == {"kanal_cli", "kanal_local"}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import yaml", ["m.py:1: yaml"]),
        ("import os\nfrom kanal_local.template import load", ["m.py:2: kanal_local"]),
        ("def f():\n    import moto\n    return moto", ["m.py:2: moto"]),
        ("import argparse as a", ["m.py:1: argparse"]),
        ("import importlib\nimportlib.import_module('kanal_cli.cli')", ["m.py:2: kanal_cli"]),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from kanal_cli import cli\n", []),
        ("import typing\nif typing.TYPE_CHECKING:\n    import yaml\nelse:\n    import werkzeug", ["m.py:5: werkzeug"]),
        ("from kanal import models\nfrom . import x\nimport pydantic", []),
    ],
)
def test_the_check_finds_every_import_that_can_run(source: str, expected: list[str]) -> None:
    assert layer_check.offences(textwrap.dedent(source), "m.py") == expected


def test_a_build_with_a_tool_inside_fails_and_an_empty_one_too(tmp_path: Path) -> None:
    layer = tmp_path / "KanalLayer" / "python"
    (layer / "kanal").mkdir(parents=True)
    (layer / "kanal" / "__init__.py").write_text("import pydantic\n")
    (layer / "yaml").mkdir()
    function = tmp_path / "IntakeFunction"
    function.mkdir()
    (function / "app.py").write_text("from kanal_cli.cli import main\n")
    found = layer_check.check_build(tmp_path)
    assert found == [f"{function / 'app.py'}:1: kanal_cli", f"{layer}: yaml is installed in the layer"]
    assert layer_check.check_build(tmp_path / "nothing") == [f"{tmp_path / 'nothing'}: no function was built"]
    assert layer_check.main(["--build", str(tmp_path)]) == 1
