"""The figures (kanal.stats): a replay of the seeds' window at 1/100, and what a read and a decision cost.

Replay: a synthetic Pemilu 2024 window, 28 November 2023 to 15 February 2024 (80 days), at one hundredth of the
seeds' scale: removals in the seeds' proportions (misinformation 17,195; civic and election integrity 38,002;
synthetic and manipulated media 3,529: 172, 380 and 35), plus cases decided ``no_violation``, on days drawn with a
peak around the quiet period (11-13 February). Each report goes through IntakeFunction at its own time (the clock
is a parameter), the stream through CaseBuilderFunction (filtered as the template filters it), each case is
decided through ``Review`` (claim, decide) at its own time, the decisions' stream records through the case
builder again; then GET /v1/stats (national, by policy) as an election agency. Fixed seeds: the same run gives
the same figures.

Read cost: the requests and items the national read of the window takes after the replay's decisions (measured
on moto, which cuts Query pages at 1 MB as DynamoDB does), and after 1,000,000 decisions of the same mix. For the
large size the counter cells are computed instead of decided one by one: each decision adds to exactly one cell
per scope (``stats.Notice.cell``), so the cells after 1,000,000 decisions are the distinct cells of 1,000,000
draws from the replay's mix, and a read's pages follow from their sizes (1 MB per page per ISO-week partition).
The same computation on the replay's own cells is checked against what moto measured.

Write cost: the write units the decisions' counting added (transactional writes, by item size, as
``counts.Requests`` computes them), per decision.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time as time_module
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from counts import REGION, Requests, api_event, aws_stack, item_size

WIB = timezone(timedelta(hours=7))
FIRST, LAST = date(2023, 11, 28), date(2024, 2, 15)
#: The seeds' removals by policy (28 November 2023 to 15 February 2024).
SEEDS = {"misinformation": 17_195, "civic_election_integrity": 38_002, "synthetic_media": 3_529}
SCALE = 100
#: Cases decided no_violation in the replay, besides the removals (by policy, as a reviewer would cite it).
NO_VIOLATION = {"misinformation": 160, "civic_election_integrity": 190, "synthetic_media": 50}
#: A few restricted or labelled among the synthetic media (labelled) and civic (restricted) cases.
OTHER_OUTCOMES = {("synthetic_media", "labelled"): 20, ("civic_election_integrity", "restricted"): 15}
CATEGORY_OF = {
    "misinformation": [("misinformation", 0.85), ("other", 0.15)],
    "civic_election_integrity": [("election_integrity", 0.65), ("campaign_violation", 0.35)],
    "synthetic_media": [("synthetic_media", 0.9), ("misinformation", 0.1)],
}
PARTNERS = [
    ("Bawaslu RI", "election_agency"),
    ("KPU RI", "election_agency"),
    ("Mafindo", "civil_society"),
    ("Perludem", "civil_society"),
    ("Kominfo", "government"),
]
SEED = 2024


def day_weights() -> tuple[list[date], list[float]]:
    """The days of the window and their cumulative weights: a slow rise through the campaign, the peak in the
    quiet period."""
    found = []
    day = FIRST
    while day <= LAST:
        weight = 1.0 + (day - FIRST).days / 40
        if date(2024, 2, 11) <= day <= date(2024, 2, 13):
            weight = 9.0
        elif day == date(2024, 2, 14):
            weight = 6.0
        elif day in (date(2024, 2, 9), date(2024, 2, 10), date(2024, 2, 15)):
            weight = 4.5
        found.append((day, weight))
        day += timedelta(days=1)
    cumulative, total = [], 0.0
    for _, weight in found:
        total += weight
        cumulative.append(total)
    return [d for d, _ in found], cumulative


def provinces() -> list[str]:
    """The province codes of the official list."""
    import csv
    from importlib import resources

    with (resources.files("kanal") / "data" / "regions" / "provinces.csv").open(encoding="utf-8") as rows:
        return [row["code"] for row in csv.DictReader(rows)]


def plan(rng: random.Random) -> list[dict[str, Any]]:
    """The replay's cases: policy, outcome, category, province, when reported, how long to decide, who reported."""
    wanted: list[tuple[str, str]] = []
    for policy, count in SEEDS.items():
        wanted += [(policy, "removed")] * round(count / SCALE)
    for policy, count in NO_VIOLATION.items():
        wanted += [(policy, "no_violation")] * count
    for (policy, outcome), count in OTHER_OUTCOMES.items():
        wanted += [(policy, outcome)] * count
    rng.shuffle(wanted)
    days = day_weights()
    codes = provinces()
    cases = []
    for i, (policy, outcome) in enumerate(wanted):
        cases.append(draw(rng, i, policy, outcome, days, codes))
    return sorted(cases, key=lambda c: c["received_at"])


def draw(
    rng: random.Random, i: int, policy: str, outcome: str, days: tuple[list[date], list[float]], codes: list[str]
) -> dict[str, Any]:
    """One case of the mix (``days``: the days and their cumulative weights)."""
    day = rng.choices(days[0], cum_weights=days[1])[0]
    at = datetime.combine(day, time(rng.randrange(6, 23), rng.randrange(60)), WIB)
    categories, weights = zip(*CATEGORY_OF[policy], strict=True)
    partners = rng.sample(range(len(PARTNERS)), 2 if rng.random() < 0.2 else 1)
    return {
        "video": 7_318_000_000_000_000_000 + i,
        "policy": policy,
        "outcome": outcome,
        "category": rng.choices(categories, weights=weights)[0],
        "province": rng.choice(codes),
        "received_at": at.astimezone(UTC),
        "hours": min(rng.lognormvariate(1.6, 1.0), 24 * 20),
        "partners": partners,
    }


def stream_for_case_builder(since: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The stream's records after the first ``since`` that the case builder's filters let through, and how many
    records the stream holds now."""
    import boto3
    from kanal_local.template import load
    from kanal_local.triggers import matches

    mapping = load()["Resources"]["CaseBuilderFunction"]["Properties"]["Events"]["NewReports"]["Properties"]
    patterns = [json.loads(f["Pattern"]) for f in mapping["FilterCriteria"]["Filters"]]
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    table = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=os.environ["TABLE_NAME"])
    arn = table["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(json.loads(json.dumps(r, default=str)) for r in page["Records"])
            iterator = page.get("NextShardIterator") if page["Records"] else None
    wanted = [r for r in records[since:] if any(matches(p, r) for p in patterns)]
    return wanted, len(records)


@contextmanager
def quick_index_sort() -> Iterator[None]:
    """moto sorts every item of a table on each index query, comparing typed values (DynamoType.cast_value: most of
    the replay's time, growing with the table). kanal's keys are all strings, so sorting on the key strings gives
    the same order and answers: the emulator is made faster, not kanal."""
    from moto.dynamodb.models.table import Table

    original = Table.all_items

    def all_items(self: Any) -> list[Any]:
        items = [item for hash_set in self.items.values() for item in hash_set.values()]
        if any(i.hash_key.type != "S" or (i.range_key is not None and i.range_key.type != "S") for i in items):
            return original(self)
        return sorted(items, key=lambda x: (x.hash_key.value, x.range_key.value if x.range_key else ""))

    Table.all_items = all_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.all_items = original  # type: ignore[method-assign]


def set_clock(moment: datetime) -> None:
    from kanal import clock

    clock.now = lambda: moment  # type: ignore[assignment]


def run(seed: int = SEED, large: int = 1_000_000, limit: int | None = None) -> dict[str, Any]:
    """The replay, the read cost at the replay's size and at ``large`` decisions, the write units per decision
    (``limit``: only the first cases, to try the benchmark out)."""
    from kanal import wiring
    from kanal.models import Outcome, Policy

    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    cases = plan(rng)[:limit]
    started = time_module.perf_counter()

    def phase(name: str) -> None:
        print(f"  stats: {name} after {time_module.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    with aws_stack() as invoke, quick_index_sort():
        services = wiring.services()
        ids = []
        for name, kind in PARTNERS:
            ids.append(services.partners.create(name, kind, datetime(2023, 11, 1, tzinfo=UTC)).partner.partner_id)
        by_case: dict[str, dict[str, Any]] = {}
        reports = 0
        for case in cases:
            for n, who in enumerate(case["partners"]):
                set_clock(case["received_at"] + timedelta(minutes=37 * n))
                body = {
                    "content_url": f"https://www.tiktok.com/@akun{case['video'] % 89}/video/{case['video']}",
                    "category": case["category"],
                    "region_code": case["province"],
                    "description": "Video diduga melanggar aturan pemilu.",
                }
                answer = invoke("IntakeFunction", api_event(ids[who], body))
                assert answer["statusCode"] == 202, answer
                by_case[json.loads(answer["body"])["case_id"]] = case
                reports += 1
        phase(f"{reports} reports in")
        set_clock(datetime.combine(LAST, time(23, 59), WIB))
        records, seen = stream_for_case_builder()
        phase(f"{len(records)} records read")
        for start in range(0, len(records), 100):
            assert invoke("CaseBuilderFunction", {"Records": records[start : start + 100]})["batchItemFailures"] == []
        phase("cases built and counted")
        review = services.review()
        decided = 0
        while True:
            claimed = review.next("bench-reviewer", 0, datetime.combine(LAST, time(23, 59), WIB))
            if claimed is None:
                break
            case = by_case[claimed.case.case_id]
            at = max(case["received_at"] + timedelta(hours=case["hours"]), claimed.case.first_reported_at)
            review.decide(
                claimed.case.case_id,
                "bench-reviewer",
                Outcome(case["outcome"]),
                Policy(case["policy"]),
                "Melanggar kebijakan platform tentang pemilu.",
                at,
            )
            decided += 1
        phase(f"{decided} decided")
        records, _ = stream_for_case_builder(seen)
        decisions_in = [r for r in records if r["eventName"] == "MODIFY"]
        counted = Requests()  # on the first batch (100 decisions): its bookkeeping reads every item written
        with counted.counting():
            answer = invoke("CaseBuilderFunction", {"Records": decisions_in[:100]})
            assert answer["batchItemFailures"] == []
        sampled = len(decisions_in[:100])
        for start in range(100, len(decisions_in), 100):
            answer = invoke("CaseBuilderFunction", {"Records": decisions_in[start : start + 100]})
            assert answer["batchItemFailures"] == []
        phase("decisions counted")
        agency = ids[0]
        event = api_event(agency, {})
        event.update(
            httpMethod="GET",
            resource="/v1/stats",
            path="/v1/stats",
            body=None,
            queryStringParameters={
                "from": str(FIRST),
                "to": str(LAST),
                "group_by": "policy",
                "scope": "national",
            },
        )
        event["requestContext"]["authorizer"]["partner_kind"] = "election_agency"
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in event["queryStringParameters"].items()}
        store = services.stats_store
        store.read_requests = store.read_items = 0
        answered = invoke("IntakeFunction", event)
        assert answered["statusCode"] == 200, answered
        figures = json.loads(answered["body"])
        read_requests, read_items = store.read_requests, store.read_items
        cells = stats_items()
    removed = {g["policy"]: g["removed"] for g in figures["groups"] if g["policy"]}
    small = pages_of(cells)
    big_cells = sampled_cells(random.Random(seed + 1), large)  # noqa: S311
    big = pages_of(big_cells)
    per_decision = counted.totals()
    return {
        "replay": {
            "days": (LAST - FIRST).days + 1,
            "reports": reports,
            "cases": len(by_case),
            "decisions": decided,
            "removed_by_policy": {
                p: {"stats": removed.get(p, 0), "seeds_divided_by_100": round(n / SCALE, 2)} for p, n in SEEDS.items()
            },
            "totals": {k: figures["totals"][k] for k in ("reports", "cases", "decided", "removed", "no_violation")}
            | {
                "median_hours_to_decision": figures["totals"]["median_hours_to_decision"],
                "p90_hours_to_decision": figures["totals"]["p90_hours_to_decision"],
                "decided_within_sla_share": figures["totals"]["decided_within_sla_share"],
            },
            "peak_day_reports": peak(cases),
        },
        "read": {
            f"at_{decided}_decisions_measured": {"requests": read_requests, "items": read_items},
            f"at_{decided}_decisions_computed": small,
            f"at_{large}_decisions_computed": big,
            "every_cell_filled_computed": every_cell(big["bytes"] / max(1, big["items"])),
        },
        "write": {
            "decisions_counted": len(decisions_in),
            "decisions_measured": sampled,
            "requests_per_decision": round(per_decision["total"] / max(1, sampled), 2),
            "write_units_per_decision": round(counted.write_units / max(1, sampled), 2),
            "largest_counter_item_bytes": max((item_size(i) for i in cells.values()), default=0),
        },
    }


def peak(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The busiest WIB day of the replay and its cases."""
    days = Counter(c["received_at"].astimezone(WIB).date() for c in cases)
    day, count = days.most_common(1)[0]
    return {"day": str(day), "cases": count, "median_day_cases": sorted(days.values())[len(days) // 2]}


def stats_items() -> dict[tuple[str, str], dict[str, Any]]:
    """The national counter cells in the table (raw items), by key."""
    import boto3

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for page in dynamodb.get_paginator("scan").paginate(TableName=os.environ["TABLE_NAME"]):
        for item in page["Items"]:
            pk = item["pk"]["S"]
            if pk.startswith("STATS#national#"):
                found[(pk, item["sk"]["S"])] = item
    return found


def sampled_cells(rng: random.Random, decisions: int) -> dict[tuple[str, str], dict[str, Any]]:
    """The national counter cells after ``decisions`` decisions of the replay's mix: each draw is a decided
    case, added to its cell as the counters add it (one report, one case, one decision, its hours' bucket)."""
    from kanal import regions
    from kanal.stats import Cell, Tally, bucket_of, iso_week, wib_day

    mix: list[tuple[str, str]] = []
    for policy, count in SEEDS.items():
        mix += [(policy, "removed")] * round(count / SCALE)
    for policy, count in NO_VIOLATION.items():
        mix += [(policy, "no_violation")] * count
    for (policy, outcome), count in OTHER_OUTCOMES.items():
        mix += [(policy, outcome)] * count
    days, codes = day_weights(), provinces()
    tallies: dict[Cell, Tally] = {}
    for i in range(decisions):
        policy, outcome = mix[rng.randrange(len(mix))]
        case = draw(rng, i, policy, outcome, days, codes)
        cell = Cell(
            wib_day(case["received_at"]), case["category"], regions.province_of(case["province"]), policy, outcome
        )
        tally = Tally(len(case["partners"]), 1, 1, 1 if case["hours"] <= 24 else 0, {bucket_of(case["hours"]): 1})
        tallies[cell] = tallies.get(cell, Tally()) + tally
    return {
        (f"STATS#national#{iso_week(cell.day)}", cell.key()): {
            "pk": {"S": f"STATS#national#{iso_week(cell.day)}"},
            "sk": {"S": cell.key()},
            **{name: {"N": str(n)} for name, n in tally.counters().items()},
        }
        for cell, tally in tallies.items()
    }


def every_cell(average_bytes: float) -> dict[str, int]:
    """The read's cost with every cell of the window filled (every day, category, province and policy-outcome
    pair, and "undecided"), items of ``average_bytes``: the bound, whatever the number of decisions."""
    from kanal.models import Category, Outcome, Policy
    from kanal.stats import days as days_of
    from kanal.stats import iso_week

    per_day = len(Category) * len(provinces()) * (len(Policy) * len(Outcome) + 1)
    by_week: Counter[str] = Counter(iso_week(d) for d in days_of(FIRST, LAST))
    requests = sum(max(1, -(-round(n * per_day * average_bytes) // 1_000_000)) for n in by_week.values())
    return {"requests": requests, "items": per_day * sum(by_week.values())}


def pages_of(items: dict[tuple[str, str], dict[str, Any]]) -> dict[str, int]:
    """The Query requests and items of a read of the window: one partition per ISO week, a page per 1 MB of
    items read (DynamoDB's and moto's limit), at least one per week."""
    from kanal.stats import weeks

    sizes: Counter[str] = Counter()
    counts: Counter[str] = Counter()
    for (pk, _), item in items.items():
        sizes[pk] += item_size(item)
        counts[pk] += 1
    partitions = [f"STATS#national#{w}" for w in weeks(FIRST, LAST)]
    requests = sum(max(1, -(-sizes[p] // 1_000_000)) for p in partitions)
    return {"requests": requests, "items": sum(counts.values()), "bytes": sum(sizes.values())}


if __name__ == "__main__":
    print(json.dumps(run(), indent=2, default=str))
