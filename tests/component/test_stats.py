"""The figures on moto: reports through the intake and the case builder, a decision through review, the case
builder's stream (filtered as the template filters it) delivered again and again, then GET /v1/stats as partners
of each kind; and the export CLI over the same handler."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from kanal import wiring
from kanal.models import Outcome, PartnerKind, Policy
from kanal.stats import FIGURES

from tests.support.counters import case_builder_records
from tests.support.lambdas import Invoke, env
from tests.support.reports import NOW, REASON, body_of, get, post, report_body

TODAY = NOW.date().isoformat()


@pytest.fixture(autouse=True)
def _fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kanal.clock.now", lambda: NOW)


def partner(name: str, kind: PartnerKind) -> str:
    return wiring.services().partners.create(name, kind, NOW).partner.partner_id


def stats(api: Invoke, partner_id: str, kind: PartnerKind, **query: str) -> dict[str, Any]:
    e = get(partner_id, "/v1/stats", query or None)
    e["resource"] = "/v1/stats"
    e["requestContext"]["authorizer"]["partner_kind"] = str(kind)
    return api(e)


def deliver_stream(case_builder: Invoke, dynamodb: Any) -> None:
    assert case_builder(case_builder_records(dynamodb, env("TABLE_NAME"))) == {"batchItemFailures": []}


@pytest.fixture
def decided(api: Invoke, case_builder: Invoke, dynamodb: Any, stack: Any) -> dict[str, str]:
    """Bawaslu and a civil-society group report one video, Bawaslu another; the first is decided removed."""
    bawaslu = partner("Bawaslu RI", PartnerKind.ELECTION_AGENCY)
    mafindo = partner("Mafindo", PartnerKind.CIVIL_SOCIETY)
    first = body_of(api(post(bawaslu)))
    api(post(mafindo, report_body(category="election_integrity", region_code="35.78")))
    other = "https://www.tiktok.com/@akun.lain/video/7318301234567890999"
    api(post(bawaslu, report_body(content_url=other, category="synthetic_media")))
    deliver_stream(case_builder, dynamodb)
    review = wiring.services().review()
    claimed = review.next("reviewer-a", 0, NOW + timedelta(hours=1))
    while claimed is not None and claimed.case.case_id != first["case_id"]:
        review.release(claimed.case.case_id, "reviewer-a", NOW + timedelta(hours=1))
        claimed = review.next("reviewer-a", 0, NOW + timedelta(hours=1))
    assert claimed is not None
    review.decide(
        first["case_id"], "reviewer-a", Outcome.REMOVED, Policy.MISINFORMATION, REASON, NOW + timedelta(hours=3)
    )
    for _ in range(3):  # the stream delivered again, whole: nothing counts twice
        deliver_stream(case_builder, dynamodb)
    return {"bawaslu": bawaslu, "mafindo": mafindo}


def test_national_figures_count_every_report_and_case_once(api: Invoke, decided: dict[str, str]) -> None:
    answer = stats(
        api, decided["bawaslu"], PartnerKind.ELECTION_AGENCY, scope="national", **{"from": TODAY, "to": TODAY}
    )
    assert answer["statusCode"] == 200
    body = body_of(answer)
    assert (body["scope"], body["from"], body["to"], body["groups"]) == ("national", TODAY, TODAY, [])
    totals = body["totals"]
    assert {k: totals[k] for k in ("reports", "cases", "decided", "removed", "pending")} == {
        "reports": 3,
        "cases": 2,
        "decided": 1,
        "removed": 1,
        "pending": 1,
    }
    assert totals["median_hours_to_decision"] == pytest.approx(3.25)  # 3 hours: the bucket [3, 3.5)
    assert totals["decided_within_sla_share"] == 1.0
    assert set(totals) == set(FIGURES)


def test_own_figures_count_a_case_for_each_partner_that_reported_it(api: Invoke, decided: dict[str, str]) -> None:
    mine = body_of(stats(api, decided["mafindo"], PartnerKind.CIVIL_SOCIETY, **{"from": TODAY, "to": TODAY}))
    assert (mine["scope"], mine["totals"]["reports"], mine["totals"]["cases"], mine["totals"]["removed"]) == (
        "own",
        1,
        1,
        1,
    )
    by = body_of(
        stats(
            api,
            decided["bawaslu"],
            PartnerKind.ELECTION_AGENCY,
            group_by="policy,category,region,week",
            **{
                "from": TODAY,
                "to": TODAY,
            },
        )
    )["groups"]
    assert [(g["policy"], g["category"], g["region"], g["cases"], g["removed"]) for g in by] == [
        (None, "synthetic_media", "31", 1, 0),
        ("misinformation", "misinformation", "31", 1, 1),
    ]
    assert {g["week"] for g in by} == {"2026-W48"}
    assert not {"outcome", "partner", "partner_id", "name"} & set(by[0])


def test_national_figures_are_refused_to_other_partners_as_a_problem(api: Invoke, decided: dict[str, str]) -> None:
    answer = stats(api, decided["mafindo"], PartnerKind.CIVIL_SOCIETY, scope="national", election="pilkada-2024")
    assert answer["statusCode"] == 403
    assert answer["multiValueHeaders"]["Content-Type"] == ["application/problem+json"]
    assert body_of(answer)["status"] == 403


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"election": "pemilu-1999"}, "election"),
        ({"from": "2024-02-14", "to": "2024-02-01"}, "from"),
        ({"from": "2024-02-01", "to": "2024-02-14", "group_by": "partner"}, "group_by"),
        ({"from": "2024-02-31", "to": "2024-03-01"}, "from"),
        ({"from": "2024-02-01", "to": "2024-02-14", "scope": "world"}, "scope"),
    ],
)
def test_a_bad_query_is_refused_naming_the_field(api: Invoke, stack: Any, query: dict[str, str], field: str) -> None:
    who = partner("KPU RI", PartnerKind.ELECTION_AGENCY)
    answer = stats(api, who, PartnerKind.ELECTION_AGENCY, **query)
    assert answer["statusCode"] == 422
    assert [e["field"] for e in body_of(answer)["errors"]] == [field]


def test_the_export_writes_the_groups_as_csv_and_json(
    api: Invoke, decided: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from kanal_cli import stats_export
    from kanal_cli.cli import main

    def send(url: str, key: str, timeout: int = 30) -> tuple[int, bytes]:
        path, _, query = url.partition("?")
        assert path == "https://api.example/prod/v1/stats"
        assert key == "kanal_test"
        params = dict(pair.split("=", 1) for pair in query.split("&") if pair)
        answer = stats(api, decided["bawaslu"], PartnerKind.ELECTION_AGENCY, **params)
        return answer["statusCode"], answer["body"].encode()

    monkeypatch.setattr(stats_export, "http_get", send)
    monkeypatch.setenv("KANAL_API_URL", "https://api.example/prod")
    monkeypatch.setenv("KANAL_API_KEY", "kanal_test")
    out = tmp_path / "stats.csv"
    args = ["stats", "export", "--from", TODAY, "--to", TODAY, "--scope", "national", "--group-by", "policy"]
    assert main([*args, "--out", str(out)]) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8
    assert b"\r\n" in raw
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert [(r["row"], r["policy"], r["cases"], r["removed"]) for r in rows] == [
        ("total", "", "2", "1"),
        ("group", "", "1", "0"),
        ("group", "misinformation", "1", "1"),
    ]
    assert list(rows[0])[:5] == ["row", "scope", "from", "to", "policy"]
    assert main([*args, "--format", "json", "--out", str(tmp_path / "stats.json")]) == 0
    printed = json.loads((tmp_path / "stats.json").read_text(encoding="utf-8"))
    assert printed["totals"]["removed"] == 1
    assert [g["policy"] for g in printed["groups"]] == [None, "misinformation"]


def test_the_export_says_what_the_api_refused(
    api: Invoke, decided: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from kanal_cli import stats_export
    from kanal_cli.cli import main

    def send(url: str, key: str, timeout: int = 30) -> tuple[int, bytes]:
        answer = stats(api, decided["mafindo"], PartnerKind.CIVIL_SOCIETY, scope="national", election="pemilu-2024")
        return answer["statusCode"], answer["body"].encode()

    monkeypatch.setattr(stats_export, "http_get", send)
    monkeypatch.setenv("KANAL_API_URL", "https://api.example/prod")
    monkeypatch.setenv("KANAL_API_KEY", "kanal_test")
    assert main(["stats", "export", "--election", "pemilu-2024", "--scope", "national"]) != 0
    assert "403" in capsys.readouterr().err


def test_the_weekly_export_writes_the_national_csv_and_json_to_the_bucket(
    decided: dict[str, str], stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3
    from kanal_local.template import REGION

    from tests.support.lambdas import LambdaContext, load_function

    monkeypatch.setattr("kanal.clock.now", lambda: NOW + timedelta(days=7))  # the Monday after
    handler = load_function("stats_export").lambda_handler
    answer = handler({"job": "weekly"}, LambdaContext())
    assert answer["files"] == [f"national/weekly/2026-W48.{kind}" for kind in ("csv", "json", "html")]
    s3 = boto3.client("s3", region_name=REGION)
    bucket = env("STATS_EXPORT_BUCKET")
    written = s3.get_object(Bucket=bucket, Key="national/weekly/2026-W48.json")
    assert written["ContentType"] == "application/json"
    body = json.loads(written["Body"].read())
    assert (body["scope"], body["from"], body["to"]) == ("national", "2026-11-23", "2026-11-29")
    assert (body["totals"]["reports"], body["totals"]["removed"]) == (3, 1)
    assert set(body["groups"][0]) >= {"category", "policy", "outcome", "region", "week"}
    assert not any("partner" in key for group in body["groups"] for key in group)
    page = s3.get_object(Bucket=bucket, Key="national/weekly/2026-W48.html")
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert b'data-figure="reports"' in page["Body"].read()  # the report to publish (kanal.stats_report)
    table = s3.get_object(Bucket=bucket, Key="national/weekly/2026-W48.csv")["Body"].read()
    assert table.startswith(b"\xef\xbb\xbfrow,scope,from,to,category,policy,outcome,region,week,")
    handler({"job": "weekly"}, LambdaContext())  # again: a new version, the old one kept
    versions = s3.list_object_versions(Bucket=bucket, Prefix="national/weekly/2026-W48.csv")["Versions"]
    assert len(versions) == 2
    assert handler({"job": "elections"}, LambdaContext())["files"] == []  # no window closed that week
