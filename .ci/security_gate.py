"""Helpers of `make security`, run by the security venv's Python (standard library only).

security_gate.py checkov REPORT.json
    Fails on any checkov finding not skipped in template.yaml, and on any skip written without its reason.
security_gate.py lock PIP_REPORT.json LOCK OSV_URL
    Writes the layer's hashed lock from pip's resolution report, then prints the vulnerability service that
    answers for its first package ("pypi" or "osv"), or nothing, explaining on stderr why neither can be used.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

NO_REASON = ("", "No comment provided")


def checkov(report_path: str) -> int:
    report = json.loads(Path(report_path).read_text())
    results, summary = report["results"], report["summary"]
    for check in results["failed_checks"]:
        lines = "-".join(map(str, check["file_line_range"]))
        print(f"checkov FAILED {check['check_id']} {check['resource']} (template.yaml:{lines}): {check['check_name']}")
    for error in results.get("parsing_errors", []):
        print(f"checkov could not parse {error}")
    bare = [
        f"{check['check_id']} on {check['resource']}"
        for check in results["skipped_checks"]
        if check["check_result"].get("suppress_comment", "No comment provided").strip() in NO_REASON
    ]
    if bare:
        print("checkov skips without a reason (Metadata checkov skip comment) in template.yaml: " + ", ".join(bare))
    print(
        f"checkov {summary['checkov_version']}: {summary['passed']} passed, {summary['failed']} failed, "
        f"{summary['skipped'] - len(bare)} accepted with their reasons in template.yaml"
    )
    return 1 if results["failed_checks"] or results.get("parsing_errors") or bare else 0


def _fetch(request: urllib.request.Request) -> tuple[Any, str]:
    if request.type != "https":
        return None, "not an https URL"
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 # nosec B310 - https only, checked above
            return json.load(response), ""
    except urllib.error.HTTPError as error:
        return None, f"HTTP {error.code}"
    except urllib.error.URLError as error:
        return None, str(error.reason)
    except (OSError, ValueError) as error:
        return None, str(error)


def _answers(request: urllib.request.Request) -> tuple[bool, str]:
    answer, error = _fetch(request)
    return isinstance(answer, dict), error


def latest_release_advisories(pins: list[tuple[str, str, str]]) -> int:
    """PyPI's project JSON lists the advisories (from OSV) of the project's latest release only; for each pin
    that is its project's latest release, those are the pin's advisories. Fails on any that is not withdrawn.
    """
    found, checked, unchecked = [], [], []
    for name, version, _ in pins:
        project, error = _fetch(urllib.request.Request(f"https://pypi.org/pypi/{name}/json"))
        if not isinstance(project, dict) or project.get("info", {}).get("version") != version:
            latest = project.get("info", {}).get("version") if isinstance(project, dict) else error
            unchecked.append(f"{name} {version} (latest {latest})")
            continue
        checked.append(name)
        for advisory in project.get("vulnerabilities") or []:
            if not advisory.get("withdrawn"):
                fixed = ", ".join(advisory.get("fixed_in") or []) or "no fix yet"
                found.append(f"{name} {version}: {advisory.get('id')} (fixed in {fixed}) {advisory.get('link', '')}")
    for line in found:
        print(f"PyPI advisory: {line}", file=sys.stderr)
    print(
        f"PyPI latest-release advisories: {len(checked)} of {len(pins)} pins are their project's latest release, "
        f"{len(found)} advisories among them; not checked (not the latest release): {', '.join(unchecked) or 'none'}",
        file=sys.stderr,
    )
    return 1 if found else 0


def lock(pip_report: str, lock_path: str, osv_url: str) -> int:
    pins = []
    for item in json.loads(Path(pip_report).read_text())["install"]:
        name = item["metadata"]["name"].lower().replace("_", "-").replace(".", "-")
        sha256 = item["download_info"].get("archive_info", {}).get("hashes", {}).get("sha256")
        if not sha256:
            print(f"pip reported no sha256 for {name}; cannot write a hashed lock", file=sys.stderr)
            return 1
        pins.append((name, item["metadata"]["version"], sha256))
    pins.sort()
    lines = ["# layers/kanal/requirements.txt resolved for CPython 3.13 on arm64 Linux by make security."]
    lines += [f"{name}=={version} --hash=sha256:{sha256}" for name, version, sha256 in pins]
    Path(lock_path).write_text("\n".join(lines) + "\n")

    name, version, _ = pins[0]
    pypi_url = f"https://pypi.org/pypi/{name}/{version}/json"
    ok, pypi_error = _answers(urllib.request.Request(pypi_url))
    if ok:
        print("pypi")
        return 0
    query = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version}).encode()
    headers = {"Content-Type": "application/json"}
    osv_request = urllib.request.Request(osv_url, data=query, headers=headers)  # noqa: S310 - _answers takes https only
    ok, osv_error = _answers(osv_request)
    if ok:
        print("osv")
        return 0
    print(
        f"pip-audit: NOT RUN - no vulnerability service answers from here ({pypi_url}: {pypi_error}; "
        f"{osv_url}: {osv_error}); the {len(pins)} pinned layer dependencies in {lock_path} are NOT audited "
        "by pip-audit (docs/security.md)",
        file=sys.stderr,
    )
    return latest_release_advisories(pins)


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    sys.exit(checkov(*args) if command == "checkov" else lock(*args))
