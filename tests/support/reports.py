"""What partners send and read back: the intake's API Gateway events and report bodies, answers read as JSON, a
case reported on the moto stack (``reported``), the moments partners' dates are drawn from, and the fixed
moments and texts the tests share."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st
from kanal import wiring
from kanal.intake import CLOCK_SKEW, OBSERVED_AT_MAX_AGE
from kanal.models import PartnerKind

from tests.support.lambdas import Invoke, env, event, stream_event

#: The tests' "now": 10:00 in Jakarta.
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
VIDEO = "https://www.tiktok.com/@akun.contoh/video/7318301234567890123"
#: A statement of reasons long enough to be taken.
REASON = "Video berisi klaim palsu tentang pemindahan TPS."


def new_partner(name: str = "Bawaslu RI") -> str:
    """A partner created on the moto stack (an election agency); its id."""
    return wiring.services().partners.create(name, PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id


def as_partner(e: dict[str, Any], partner_id: str) -> dict[str, Any]:
    """``e`` as the authorizer lets it through for ``partner_id``."""
    e["requestContext"]["authorizer"] = {"principalId": partner_id, "partner_id": partner_id}
    return e


def post(
    partner_id: str, body: Any = None, *, key: str | None = None, raw: str | None = None, **headers: str
) -> dict[str, Any]:
    """POST /v1/reports from ``partner_id``: ``body`` as JSON (a valid report by default) or ``raw`` text."""
    e = as_partner(event("post_report"), partner_id)
    e["headers"].pop("Idempotency-Key")
    if key is not None:
        e["headers"]["Idempotency-Key"] = key
    e["headers"].update(headers)
    if body is None and raw is None:
        body = report_body()
    e["body"] = raw if raw is not None else json.dumps(body)
    return e


def post_batch(partner_id: str, reports: Any = None, *, raw: str | None = None, **headers: str) -> dict[str, Any]:
    """POST /v1/reports/batch from ``partner_id``: ``{"reports": reports}`` as JSON, or ``raw`` text."""
    e = as_partner(event("post_report_batch"), partner_id)
    e["headers"].update(headers)
    e["body"] = raw if raw is not None else json.dumps({"reports": reports if reports is not None else [report_body()]})
    return e


def get(partner_id: str, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """GET ``path`` (a list or one report) from ``partner_id``."""
    e = as_partner(event("list_reports"), partner_id)
    e["path"] = path
    e["requestContext"]["path"] = f"/prod{path}"
    e["queryStringParameters"] = query
    e["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    if path.startswith("/v1/reports/"):
        e["resource"] = "/v1/reports/{report_id}"
        e["pathParameters"] = {"report_id": path.rsplit("/", 1)[1]}
    return e


def report_body(**changes: Any) -> dict[str, Any]:
    """A valid report's body, with ``changes``."""
    body: dict[str, Any] = {
        "content_url": VIDEO,
        "category": "misinformation",
        "region_code": "31.71",
        "description": "Video menyebarkan klaim palsu bahwa TPS dipindahkan.",
    }
    body.update(changes)
    return body


def body_of(answer: dict[str, Any]) -> Any:
    """An answer's body, parsed."""
    return json.loads(answer["body"])


def header(answer: dict[str, Any], name: str) -> str:
    """A response header, from multiValueHeaders (as the router answers REST events)."""
    return str(answer["multiValueHeaders"][name][0])


def reported(
    api: Invoke, case_builder: Invoke, dynamodb: Any, *partner_names: str, url: str = VIDEO
) -> list[dict[str, Any]]:
    """Each named partner reports the video; the case builder runs; the receipts come back."""
    create = wiring.services().partners.create
    receipts = []
    for name in partner_names or ("Bawaslu RI",):
        partner = create(name, PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id
        receipt = body_of(api(post(partner, report_body(content_url=url))))
        receipts.append({**receipt, "partner_id": partner})
        # This report's record alone: the earlier ones were handled already (again they would change nothing, and
        # made a loop of these quadratic).
        case_builder(stream_event(dynamodb, env("TABLE_NAME"), reports={receipt["report_id"]}))
    return receipts


def drive_report_batch(api: Invoke) -> None:
    """A partner's batch as the IAM flows drive it: keyed and unkeyed reports, one invalid, then the same batch
    again (replayed from the batched reads, nothing written)."""
    partner = new_partner("Bawaslu Batch")
    batch = [
        report_body(content_url=f"{VIDEO[:-3]}{i:03d}", **({"idempotency_key": f"batch-{i}"} if i % 2 else {}))
        for i in range(4)
    ]
    batch.append(report_body(category="spam"))
    for _ in range(2):
        answer = api(post_batch(partner, batch))
        assert answer["statusCode"] == 200, answer["body"]


# Partners' dates, drawn ------------------------------------------------------------------------------------

OFFSETS = st.builds(
    timezone, st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(lambda m: timedelta(minutes=m))
)
ANY_AWARE = st.datetimes(min_value=datetime.min, max_value=datetime.max, timezones=OFFSETS)
# Around the bounds too: a uniform draw over years 1-9999 is almost never within them.
NEAR_NOW = st.datetimes(
    min_value=(NOW - OBSERVED_AT_MAX_AGE - timedelta(days=2)).replace(tzinfo=None),
    max_value=(NOW + timedelta(days=2)).replace(tzinfo=None),
    timezones=OFFSETS,
)
MOMENTS = st.one_of(ANY_AWARE, NEAR_NOW)
EDGES = [
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))),
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
]


def within_bounds(moment: datetime, now: datetime) -> bool:
    """The documented observed_at range, computed without converting ``moment`` to UTC."""
    return now - OBSERVED_AT_MAX_AGE <= moment <= now + CLOCK_SKEW
