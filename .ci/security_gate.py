"""Helpers of `make security`, run by the security venv's Python (standard library only).

security_gate.py checkov REPORT.json
    Fails on any checkov finding not skipped in template.yaml, and on any skip written without its reason.
security_gate.py lock PIP_REPORT.json LOCK
    Writes the layer's hashed lock (layers/kanal/requirements.txt) from pip's resolution report (make lock).
security_gate.py audit-service REQUIREMENTS.in LOCK OSV_URL
    Fails if the lock lacks a pin of requirements.in; then prints the vulnerability service that answers
    for the lock's first package ("pypi" or "osv"), or nothing, explaining on stderr why neither can be
    used, after a partial check of what PyPI's project pages say (latest_release_advisories).
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
    if request.type not in ("https", "http"):  # an OSV mirror may be plain http on a private network
        return None, f"not an http(s) URL: {request.full_url}"
    try:
        with urllib.request.urlopen(request, timeout=15) as response:  # noqa: S310 # nosec B310 - http(s) only, checked above
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


def latest_release_advisories(pins: list[tuple[str, str]]) -> int:
    """PyPI's project JSON lists the advisories (from OSV) of the project's latest release only; for each pin
    that is its project's latest release, those are the pin's advisories. Fails on any that is not withdrawn.
    """
    found, checked, unchecked = [], [], []
    for name, version in pins:
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


LOCK_HEADER = """\
# The Lambda layer's dependencies as pip resolves them for its runtime (CPython 3.13, arm64 Linux), each pinned
# with the sha256 of every release file CPython 3.13 may install: what `sam build` installs and `make security` audits.
# Written by `make lock` from requirements.in; edit that file, then run `make lock`.
"""


def _for_cp313(filename: str, version: str) -> bool:
    """Whether a release file of ``version`` may be what pip installs on CPython 3.13 (any platform)."""
    if filename.endswith((f"-{version}.tar.gz", f"-{version}.zip")):
        return True
    if not filename.endswith(".whl") or f"-{version}-" not in filename:
        return False
    python, abi = filename[: -len(".whl")].split("-")[-3:-1]
    return abi == "abi3" or any(tag in ("cp313", "py3") for tag in python.split("."))


def release_hashes(name: str, version: str) -> list[str]:
    """The sha256 of every file of the release that CPython 3.13 may install, from PyPI's simple index
    (JSON, PEP 691): sam build downloads a package for the build machine first, and for arm64 after, so
    a lock with one wheel's hash fails there.
    """
    index = urllib.request.Request(
        f"https://pypi.org/simple/{name}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    answer, error = _fetch(index)
    if not isinstance(answer, dict):
        raise RuntimeError(f"PyPI's simple index for {name}: {error}")
    return sorted(
        f["hashes"]["sha256"]
        for f in answer.get("files", [])
        if "sha256" in f.get("hashes", {}) and _for_cp313(f["filename"], version)
    )


def lock(pip_report: str, lock_path: str) -> int:
    """Write the hashed lock from pip's resolution report: every package pip chose, with the hashes of
    each of its release's files that CPython 3.13 may install.
    """
    lines = []
    for item in sorted(json.loads(Path(pip_report).read_text())["install"], key=lambda i: _name(i["metadata"]["name"])):
        name, version = _name(item["metadata"]["name"]), item["metadata"]["version"]
        chosen = item["download_info"].get("archive_info", {}).get("hashes", {}).get("sha256")
        hashes = release_hashes(name, version)
        if chosen not in hashes:
            print(f"{name} {version}: the wheel pip chose is not on PyPI's index; no lock written", file=sys.stderr)
            return 1
        lines.append(" \\\n".join([f"{name}=={version}"] + [f"    --hash=sha256:{h}" for h in hashes]))
    Path(lock_path).write_text(LOCK_HEADER + "\n".join(lines) + "\n")
    print(f"{lock_path}: {len(lines)} packages pinned with the hashes of their files")
    return 0


def _name(requirement: str) -> str:
    return requirement.split("[")[0].split("=")[0].strip().lower().replace("_", "-").replace(".", "-")


def read_lock(lock_path: str) -> list[tuple[str, str]]:
    """(name, version) of each pin in the lock."""
    text = Path(lock_path).read_text().replace("\\\n", " ")
    pins = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.split()[0].partition("==")
            pins.append((_name(name), version))
    return pins


def stale(requirements_in: str, pins: list[tuple[str, str]]) -> list[str]:
    """The direct requirements whose pin the lock does not hold (requirements.in changed, lock not rewritten)."""
    locked = set(pins)
    wanted = []
    for line in Path(requirements_in).read_text().splitlines():
        requirement = line.split("#")[0].strip()
        if requirement:
            wanted.append((_name(requirement), requirement.partition("==")[2].strip(), requirement))
    return [text for name, version, text in wanted if (name, version) not in locked]


def audit_service(requirements_in: str, lock_path: str, osv_url: str) -> int:
    """Check the lock holds requirements.in's pins, then print the vulnerability service that answers for
    the lock's first package ("pypi" or "osv"), or nothing (explained on stderr) after the partial check.
    """
    pins = read_lock(lock_path)
    missing = stale(requirements_in, pins)
    if missing:
        print(f"{lock_path} does not hold {', '.join(missing)} from {requirements_in}: run make lock", file=sys.stderr)
        return 1
    name, version = pins[0]
    pypi_url = f"https://pypi.org/pypi/{name}/{version}/json"
    ok, pypi_error = _answers(urllib.request.Request(pypi_url))
    if ok:
        print("pypi")
        return 0
    query = json.dumps({"package": {"name": name, "ecosystem": "PyPI"}, "version": version}).encode()
    headers = {"Content-Type": "application/json"}
    osv_request = urllib.request.Request(osv_url, data=query, headers=headers)  # noqa: S310 - _answers takes http(s) only
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
    if command == "checkov":
        sys.exit(checkov(*args))
    sys.exit(lock(*args) if command == "lock" else audit_service(*args))
