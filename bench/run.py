"""`make bench`: every benchmark, printed as a table and written to bench/results.json."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import startup

RESULTS = Path(__file__).resolve().parent / "results.json"


def main() -> None:
    """Run, print, write."""
    results = {"startup": startup.run()}
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"{'benchmark':<12} {'measure':<36} {'median':>8}")
    for name, result in results.items():
        for measure, value in result["median"].items():
            print(f"{name:<12} {measure:<36} {value:>8.3f}")
    print(f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
