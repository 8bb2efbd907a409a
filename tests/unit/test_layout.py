"""The tests' own layout, read from their sources (``ast``, nothing imported or run):

- every test module is at a level: tests/unit, tests/component or tests/integration (tests/conftest.py marks it);
- no test module imports another, nor does a helper or a conftest: what tests share is in tests.support;
- every test module that starts a process (itself, through a tests.support module it imports, or through a
  conftest's fixture above it) runs each of its tests under ``pytest.mark.timeout``, so a hung process fails its
  test instead of holding up the run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.support import ROOT

TESTS = ROOT / "tests"
LEVELS = ("unit", "component", "integration")
#: Calls that start a process, by module (``None``: any attribute of the module).
STARTS = {
    "subprocess": {"run", "Popen", "call", "check_call", "check_output", "getoutput", "getstatusoutput"},
    "os": {"system", "popen", "fork", "forkpty", "posix_spawn", "posix_spawnp"} | {f"spawn{s}" for s in ("l", "v")},
    "pty": {"fork", "spawn"},
    "multiprocessing": None,
}


def collected_modules() -> list[Path]:
    """Every test module (tests/**/test_*.py)."""
    return sorted(TESTS.rglob("test_*.py"))


def python_files() -> list[Path]:
    return sorted(TESTS.rglob("*.py"))


def name(path: Path) -> str:
    """The module's dotted name (tests.unit.test_layout)."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def imports_of(module: ast.Module, package: str) -> Iterator[str]:
    """Every module ``module`` imports, absolute, for a module of ``package`` (``from a import b``: ``a``, ``a.b``)."""
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def imported(path: Path) -> Iterator[str]:
    """Every module the file at ``path`` imports."""
    package = name(path) if path.name == "__init__.py" else name(path).rpartition(".")[0]
    return imports_of(tree(path), package)


def is_test_module(dotted: str) -> bool:
    """A test module, or a conftest (whose fixtures pytest gives; its helpers belong in tests.support)."""
    last = dotted.rpartition(".")[2]
    return dotted.startswith("tests.") and (last.startswith("test_") or last == "conftest")


def test_every_test_module_is_at_a_level() -> None:
    outside = [str(p.relative_to(ROOT)) for p in collected_modules() if p.relative_to(TESTS).parts[0] not in LEVELS]
    assert outside == [], "move each to tests/unit, tests/component or tests/integration"
    assert {p.relative_to(TESTS).parts[0] for p in collected_modules()} == set(LEVELS)


def test_no_test_module_imports_another() -> None:
    """Helpers shared by tests go in tests.support; a test module imported by another runs its tests twice and ties
    the two together."""
    found = {
        str(path.relative_to(ROOT)): sorted({m for m in imported(path) if is_test_module(m)}) for path in python_files()
    }
    assert {path: modules for path, modules in found.items() if modules} == {}


def starts_a_process(path: Path) -> bool:
    """Whether the module's own code calls something that starts a process, or reads ``sys.executable``."""
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Attribute) and ast.unparse(node) == "sys.executable":
            return True
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in STARTS:
            calls = STARTS[func.value.id]
            if calls is None or func.attr in calls:
                return True
        if isinstance(func, ast.Name) and func.id in {"Popen", "check_output", "Process"}:
            return True
    return False


def support_modules(path: Path, seen: frozenset[Path] = frozenset()) -> set[Path]:
    """The tests.support modules ``path`` imports, and those they import."""
    found: set[Path] = set()
    for dotted in imported(path):
        if not dotted.startswith("tests.support"):
            continue
        file = ROOT / Path(*dotted.split("."))
        for candidate in (file.with_suffix(".py"), file / "__init__.py"):
            if candidate.exists() and candidate not in seen and candidate != path:
                found.add(candidate)
    for module in list(found):
        found |= support_modules(module, seen | found | {path})
    return found


def conftests_above(path: Path) -> list[Path]:
    folders = [p for p in path.parents if p == TESTS or TESTS in p.parents]
    return [f / "conftest.py" for f in folders if (f / "conftest.py").exists()]


def process_sources(path: Path) -> list[str]:
    """What starts a process for ``path``'s tests: itself, a support module it uses, a conftest above it."""
    sources = [path, *support_modules(path)]
    for conftest in conftests_above(path):
        sources += [conftest, *support_modules(conftest)]
    return sorted({str(s.relative_to(ROOT)) for s in sources if starts_a_process(s)})


def is_timeout(node: ast.expr, marks: set[str]) -> bool:
    """``pytest.mark.timeout(...)``, or a name this module bound to one."""
    if isinstance(node, ast.Name):
        return node.id in marks
    if isinstance(node, ast.Call):
        node = node.func
    return ast.unparse(node) == "pytest.mark.timeout"


def untimed_tests(path: Path) -> list[str]:
    """The module's tests that run under no timeout mark (all of them unless ``pytestmark`` holds one)."""
    module = tree(path)
    marks: set[str] = set()
    for node in module.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
            values = value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value]
            if target == "pytestmark" and any(is_timeout(v, marks) for v in values):
                return []
            if is_timeout(value, marks):
                marks.add(target)
    return [
        node.name
        for node in module.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
        and node.name.startswith(("test_", "Test"))
        and not any(is_timeout(d, marks) for d in node.decorator_list)
    ]


def test_every_test_that_starts_a_process_runs_under_a_timeout() -> None:
    starting = {str(p.relative_to(ROOT)): process_sources(p) for p in collected_modules()}
    starting = {module: sources for module, sources in starting.items() if sources}
    assert "tests/integration/test_local_stack.py" in starting  # the check sees what it is for
    assert "tests/component/test_no_content_in_telemetry.py" in starting
    untimed = {module: untimed_tests(ROOT / module) for module in starting}
    assert {module: tests for module, tests in untimed.items() if tests} == {}, (
        "add `pytestmark = pytest.mark.timeout(seconds)` (or a timeout mark on each test): they start processes in "
        + repr(starting)
    )


@pytest.mark.parametrize(
    ("source", "untimed"),
    [
        ("import pytest\npytestmark = pytest.mark.timeout(60)\ndef test_a(): ...", []),
        ("import pytest\npytestmark = [pytest.mark.unit, pytest.mark.timeout(60)]\ndef test_a(): ...", []),
        ("import pytest\nHANG = pytest.mark.timeout(5)\n@HANG\ndef test_a(): ...\ndef test_b(): ...", ["test_b"]),
        ("import pytest\n@pytest.mark.timeout(5)\ndef test_a(): ...\nclass TestB: ...", ["TestB"]),
        ("import pytest\npytestmark = pytest.mark.slow\ndef test_a(): ...", ["test_a"]),
    ],
)
def test_the_timeout_check_reads_marks_as_pytest_does(tmp_path: Path, source: str, untimed: list[str]) -> None:
    module = tmp_path / "test_probe.py"
    module.write_text(source, encoding="utf-8")
    assert untimed_tests(module) == untimed


@pytest.mark.parametrize(
    ("source", "starts"),
    [
        ("import subprocess\nsubprocess.run(['true'])", True),
        ("from subprocess import Popen\nPopen(['true'])", True),
        ("import sys\ncommand = [sys.executable, '-m', 'x']", True),
        ("import os\nos.fork()", True),
        ("import subprocess\nfrom unittest import mock\nmock.patch.object(subprocess.Popen, '__init__')", False),
        ("import os, pty\nmain, terminal = pty.openpty()\nos.pipe()", False),
    ],
)
def test_the_process_check_sees_calls_not_mentions(tmp_path: Path, source: str, starts: bool) -> None:
    module = tmp_path / "probe.py"
    module.write_text(source, encoding="utf-8")
    assert starts_a_process(module) is starts


@pytest.mark.parametrize(
    ("source", "imports_a_test_module"),
    [
        ("from tests.component.test_api import post", True),
        ("from tests.component import test_api", True),
        ("import tests.unit.test_review", True),
        ("from . import test_review", True),
        ("from .test_review import desk", True),
        ("from ..component.test_review import queue_depth", True),
        ("from tests.conftest import env", True),
        ("from tests.support.reports import post", False),
        ("from tests.support import fakes", False),
        ("import kanal.review", False),
    ],
)
def test_the_import_check_sees_every_way_of_importing_a_test_module(source: str, imports_a_test_module: bool) -> None:
    found = [m for m in imports_of(ast.parse(source), "tests.unit") if is_test_module(m)]
    assert bool(found) is imports_a_test_module, found
