"""What ships to Lambda imports only what runs in Lambda.

``python .ci/layer_check.py DIR...`` reads every Python module under each DIR (the layer's source,
``layers/kanal/kanal``, or the functions' folders) and fails, listing each offence as ``path:line: module``,
when one imports a tool: the CLI (``kanal_cli``, argparse), the local stack (``kanal_local``, moto, werkzeug,
yaml, aws_croniter) or a test library. Every import counts, at the top of a module or inside a function,
except those under ``if TYPE_CHECKING:`` (they never run).

``python .ci/layer_check.py --build .aws-sam/build`` checks what ``sam build`` made the same way: the layer's
``kanal`` package and every function's folder, and that no package of the tools was installed into the layer.

``make test`` runs it on the sources (tests/unit/test_layer.py) and on ``sam build``'s output (``make layer-check``).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

#: Top-level modules that never run in Lambda: the tools' packages and what only they depend on.
FORBIDDEN = frozenset(
    {
        "argparse",
        "kanal_cli",
        "kanal_local",
        "moto",
        "werkzeug",
        "yaml",
        "aws_croniter",
        "samtranslator",
        "cfnlint",
        "pytest",
        "hypothesis",
        "schemathesis",
        "mypy_boto3_dynamodb",
        "mypy_boto3_dynamodbstreams",
        "mypy_boto3_sqs",
        "mypy_boto3_sns",
        "mypy_boto3_cloudformation",
        "mypy_boto3_s3",
    }
)
#: Folders of a build or a checkout that are not the package (third-party code installed beside it is checked
#: by name: a module of the layer must not import them, whatever they import themselves).
SKIPPED = frozenset({"__pycache__"})


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, top-level module) of every import that can run: all of them but those under TYPE_CHECKING."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name.split(".")[0]) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module.split(".")[0]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in {
            "import_module",
            "__import__",
        }:
            for argument in node.args[:1]:
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    yield node.lineno, argument.value.split(".")[0]
        stack.extend(ast.iter_child_nodes(node))


def offences(source: str, name: str) -> list[str]:
    """``name:line: module`` for each forbidden import in one module's source."""
    return [f"{name}:{line}: {module}" for line, module in sorted(imported(ast.parse(source))) if module in FORBIDDEN]


def modules(root: Path) -> Iterator[Path]:
    """The Python modules of a package folder (the package itself when ``root`` holds ``kanal/``)."""
    for path in sorted(root.rglob("*.py")):
        if not SKIPPED & set(path.relative_to(root).parts):
            yield path


def check(roots: list[Path]) -> list[str]:
    """Every offence under the given folders; an empty or missing folder is an offence too (nothing was checked)."""
    found: list[str] = []
    for root in roots:
        paths = list(modules(root)) if root.is_dir() else []
        if not paths:
            found.append(f"{root}: no Python module to check")
        found.extend(o for path in paths for o in offences(path.read_text(encoding="utf-8"), str(path)))
    return found


def check_build(build: Path) -> list[str]:
    """A ``sam build`` output: the layer's kanal package, each function's code, and nothing of the tools installed."""
    layer = build / "KanalLayer" / "python"
    functions = sorted(p for p in build.glob("*Function") if p.is_dir())
    found = check([layer / "kanal", *functions]) if functions else [f"{build}: no function was built"]
    installed = {p.name.split("-")[0].split(".")[0] for p in layer.iterdir()} if layer.is_dir() else set()
    found.extend(f"{layer}: {name} is installed in the layer" for name in sorted(installed & FORBIDDEN))
    return found


def main(argv: list[str]) -> int:
    found = check_build(Path(argv[1])) if argv[:1] == ["--build"] else check([Path(a) for a in argv])
    for offence in found:
        print(offence, file=sys.stderr)
    if found:
        print(f"layer check: {len(found)} import(s) of tools in what ships to Lambda", file=sys.stderr)
        return 1
    print(f"layer check: {', '.join(argv)}: only runtime imports")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
