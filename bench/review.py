"""The review side on a realistic mix: how many cases the reports make, and how fast a worker decides them.

10,000 reports over 2,000 videos drawn from a Zipf distribution (a few videos go viral, most are
reported once) by several partners go through the intake and case builder handlers on moto, in this
process. Then a worker with a scripted decider claims and decides cases through ``Review`` and the
queues, against a raw floor on the same moto: per case one ``receive_message``, one conditional
``update_item`` and one ``delete_message``, the least any worker must do.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter
from typing import Any

import boto3
from counts import NOW, REGION, api_event, aws_stack

PARTNERS = ["Bawaslu RI", "KPU RI", "Perludem", "Bawaslu DKI Jakarta", "Bawaslu Jawa Barat", "Mafindo"]
CATEGORIES = ["misinformation", "election_integrity", "synthetic_media", "hate_speech", "campaign_violation"]
REGIONS = ["31.71", "32.73", "35.78", "51.71", "73.71", "94.04"]


def zipf_videos(reports: int, videos: int, exponent: float, seed: int) -> list[int]:
    """Which video each report is about: video k is drawn with weight 1/k**exponent."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    weights = [1 / (k**exponent) for k in range(1, videos + 1)]
    return rng.choices(range(videos), weights=weights, k=reports)


def stream_records() -> list[dict[str, Any]]:
    """Every record on the table's stream, oldest first (as Lambda's poller would hand them over)."""
    streams = boto3.client("dynamodbstreams", region_name=REGION)
    arn = boto3.client("dynamodb", region_name=REGION).describe_table(TableName=os.environ["TABLE_NAME"])["Table"][
        "LatestStreamArn"
    ]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            records.extend(json.loads(json.dumps(r, default=str)) for r in page["Records"])
            iterator = page.get("NextShardIterator") if page["Records"] else None
    return [r for r in records if r["eventName"] == "INSERT" and r["dynamodb"]["NewImage"]["sk"]["S"] == "REPORT"]


def run(
    reports: int = 10_000, videos: int = 2_000, decisions: int = 200, seed: int = 2024, exponent: float = 1.1
) -> dict[str, Any]:
    """Cases per report on the mix, then decisions per second against the raw floor."""
    from kanal import wiring
    from kanal.models import Outcome, PartnerKind, Policy

    rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
    drawn = zipf_videos(reports, videos, exponent, seed)
    with aws_stack() as invoke:
        services = wiring.services()
        partners = [services.partners.create(n, PartnerKind.ELECTION_AGENCY, NOW).partner.partner_id for n in PARTNERS]
        started = time.perf_counter()
        accepted = 0
        for video in drawn:
            body = {
                "content_url": f"https://www.tiktok.com/@akun{video % 97}/video/{7_300_000_000_000_000_000 + video}",
                "category": rng.choice(CATEGORIES),
                "region_code": rng.choice(REGIONS),
                "description": "Video diduga melanggar aturan kampanye.",
            }
            answer = invoke("IntakeFunction", api_event(rng.choice(partners), body))
            accepted += answer["statusCode"] == 202
        intake_s = time.perf_counter() - started
        records = stream_records()
        started = time.perf_counter()
        failed = 0
        for start in range(0, len(records), 100):  # the template's BatchSize
            answer = invoke("CaseBuilderFunction", {"Records": records[start : start + 100]})
            failed += len(answer["batchItemFailures"])
        build_s = time.perf_counter() - started
        case_ids = {r["dynamodb"]["NewImage"]["case_id"]["S"] for r in records}
        cases = [services.cases.get(c) for c in case_ids]
        per_case = Counter(case.report_count for case in cases if case is not None)

        review = services.review()
        started = time.perf_counter()
        decided = 0
        while decided < decisions:
            claimed = review.next("bench-reviewer", 0, NOW)
            if claimed is None:
                break
            review.decide(
                claimed.case.case_id, "bench-reviewer", Outcome.REMOVED, Policy.MISINFORMATION, "Klaim palsu.", NOW
            )
            decided += 1
        worker_s = time.perf_counter() - started
        floor_per_s = raw_floor(decided, sorted(case_ids))
    worker_per_s = decided / worker_s
    return {
        "reports": reports,
        "videos": videos,
        "zipf_exponent": exponent,
        "partners": len(PARTNERS),
        "accepted": accepted,
        "videos_reported": len(set(drawn)),
        "cases": len(case_ids),
        "cases_per_report": round(len(case_ids) / reports, 4),
        "largest_case_reports": max(per_case) if per_case else 0,
        "case_builder_record_failures": failed,
        "intake_reports_per_s_in_process": round(accepted / intake_s, 1),
        "case_builder_reports_per_s_in_process": round(len(records) / build_s, 1),
        "decisions": decided,
        "decisions_per_s": round(worker_per_s, 1),
        "raw_floor_per_s": round(floor_per_s, 1),
        "ratio_vs_raw_moto": round(worker_per_s / floor_per_s, 2),
    }


def raw_floor(cases: int, case_ids: list[str]) -> float:
    """Cases per second when a worker does only what any worker must, per case: receive one message,
    read the case and its reports (nobody decides unseen), one conditional update_item, delete the message.
    """
    sqs = boto3.client("sqs", region_name=REGION)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    queue = sqs.create_queue(QueueName="bench-floor")["QueueUrl"]
    table = os.environ["TABLE_NAME"]
    for i in range(cases):
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"case_id": case_ids[i % len(case_ids)], "n": i}))
        item = {"pk": {"S": f"FLOOR#{i}"}, "sk": {"S": "CASE"}, "status": {"S": "queued"}}
        dynamodb.put_item(TableName=table, Item=item)
    started = time.perf_counter()
    for _ in range(cases):
        message = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"][0]
        sent = json.loads(message["Body"])
        dynamodb.get_item(TableName=table, Key={"pk": {"S": f"CASE#{sent['case_id']}"}, "sk": {"S": "CASE"}})
        dynamodb.query(
            TableName=table,
            IndexName="by_case",
            KeyConditionExpression="gsi2pk = :case",
            ExpressionAttributeValues={":case": {"S": f"CASE#{sent['case_id']}"}},
        )
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": f"FLOOR#{sent['n']}"}, "sk": {"S": "CASE"}},
            UpdateExpression="SET #s = :decided",
            ConditionExpression="#s = :queued",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":decided": {"S": "decided"}, ":queued": {"S": "queued"}},
        )
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return cases / (time.perf_counter() - started)


if __name__ == "__main__":
    import sys

    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000, 200, 100), indent=2))
