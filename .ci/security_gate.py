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


def _answers(request: urllib.request.Request) -> tuple[bool, str]:
    if request.type != "https":
        return False, "not an https URL"
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 # nosec B310 - https only, checked above
            return isinstance(json.load(response), dict), ""
    except urllib.error.HTTPError as error:
        return False, f"HTTP {error.code}"
    except urllib.error.URLError as error:
        return False, str(error.reason)
    except (OSError, ValueError) as error:
        return False, str(error)


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
        "(docs/security.md)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    sys.exit({"checkov": checkov, "lock": lock}[command](*args))
