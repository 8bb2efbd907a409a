"""The case builder (CaseBuilderFunction): new reports from the table's stream become cases in review queues.

It also sees a partner's answer to a question (an ``info_provided`` trail
entry) and puts the case back in its queue; and it keeps the figures
(``kanal.stats``): each report is counted once its case is queued, and each
decision from the stream record of the case's write from received to decided.

A case whose write or publish fails for a passing reason (throttling, an
outage) fails the stream records of its reports only; Lambda delivers those
again (partial batch response) and every step is idempotent, so retries
neither lose nor double anything. A record that no retry can fix (unreadable,
refused by DynamoDB as invalid or too large) is *parked* at once on the
failure queue with its reason, counted (``RecordsParked``, alarmed), and never
holds up the records behind it on the shard; ``kanal cases replay`` sends
parked records through again after a fix.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import ValidationError

from kanal import clock, wiring
from kanal.adapters.dynamodb import case_from_item, report_from_item
from kanal.case_builder import CaseBuilder
from kanal.entrypoints.streams import sequence
from kanal.models import Case, Report
from kanal.observability import log_metrics, logger, metrics, safe_text

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_sqs import SQSClient

#: DynamoDB's answers that no retry changes (the request itself is wrong: too large, invalid).
PERMANENT_CODES = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})

Park = Callable[[dict[str, Any], str, str], None]


@dataclass
class Batch:
    """A stream batch sorted out: reports by case, answered cases, and records that cannot be read."""

    by_case: dict[str, list[tuple[dict[str, Any], Report]]] = field(default_factory=lambda: defaultdict(list))
    answered: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    unreadable: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    #: Cases that TTL deleted (their expiry): everything about them is deleted with them.
    expired: list[tuple[dict[str, Any], Case]] = field(default_factory=list)
    #: Reports that TTL deleted on their own (the backstop: their purge never ran) with evidence files:
    #: (record, partner id, report id); the files go too.
    expired_evidence: list[tuple[dict[str, Any], str, str]] = field(default_factory=list)
    #: Cases just decided (their write from received to decided): their decisions go into the figures.
    decided: list[tuple[dict[str, Any], Case]] = field(default_factory=list)


def sort_out(records: list[dict[str, Any]]) -> Batch:
    """Reports by case id (each with its record), answered cases, and unreadable records with the reason."""
    batch = Batch()
    for record in records:
        if record.get("eventName") == "REMOVE":
            old = (record.get("dynamodb") or {}).get("OldImage") or {}
            if old.get("sk", {}).get("S") == "REPORT":
                if "evidence" in old:
                    found = (old.get("partner_id", {}).get("S"), old.get("report_id", {}).get("S"))
                    if found[0] and found[1]:
                        batch.expired_evidence.append((record, str(found[0]), str(found[1])))
                    else:
                        batch.unreadable.append((record, "expired report without partner or report id"))
                continue
            try:
                batch.expired.append((record, case_from_item(old)))
            except (KeyError, ValueError, TypeError) as error:
                batch.unreadable.append((record, f"not a case: {safe_text(error)}"))
            continue
        image = (record.get("dynamodb") or {}).get("NewImage") or {}
        if record.get("eventName") == "MODIFY" and image.get("sk", {}).get("S") == "CASE":
            try:
                batch.decided.append((record, case_from_item(image)))
            except (KeyError, ValueError, TypeError) as error:
                batch.unreadable.append((record, f"not a case: {safe_text(error)}"))
            continue
        if image.get("kind", {}).get("S") in ("info_provided", "info_not_provided"):
            case_id = image.get("case_id", {}).get("S")
            if case_id:
                batch.answered[case_id].append(record)
            else:
                batch.unreadable.append((record, "answer without a case id"))
            continue
        try:
            report = report_from_item(image)
        except (KeyError, ValueError, TypeError) as error:
            batch.unreadable.append((record, f"not a report: {safe_text(error)}"))
            continue
        batch.by_case[report.case_id].append((record, report))
    return batch


def permanent(error: Exception) -> str | None:
    """Why retrying cannot help with ``error``, or None if it may (throttling, outages, conflicts)."""
    if isinstance(error, ValidationError):
        return f"stored case is not valid: {safe_text(error)}"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in PERMANENT_CODES:
            return f"{code}: {error.response.get('Error', {}).get('Message', '')}"
    return None


Purge = Callable[[Case, datetime], int]
#: Deletes a report's evidence files: (partner id, report id) -> versions deleted.
Forget = Callable[[str, str], int]


def process(
    records: list[dict[str, Any]],
    builder: CaseBuilder,
    park: Park,
    now: datetime,
    purge: Purge | None = None,
    forget: Forget | None = None,
) -> list[str]:
    """Attach a batch (and delete what belonged to expired cases); park what cannot succeed; the sequence
    numbers to deliver again."""
    batch = sort_out(records)
    failures: list[str] = []

    def parked(record: dict[str, Any], reason: str, detail: str) -> None:
        try:
            park(record, reason, detail)
        except Exception:  # the failure queue itself is down: retry the record instead of losing it
            logger.exception("record not parked; it will be retried", extra={"sequence": sequence(record)})
            failures.append(sequence(record))
            return
        metrics.add_metric(name="RecordsParked", unit=MetricUnit.Count, value=1)
        logger.error("record parked", extra={"sequence": sequence(record), "reason": reason, "detail": detail})

    for record, reason in batch.unreadable:
        parked(record, "unreadable", reason)
    for record, case in batch.expired:
        if purge is None:
            failures.append(sequence(record))
            continue
        try:
            deleted = purge(case, case.expires_at or now)
        except Exception:
            logger.exception("expired case not purged; its record will be retried", extra={"case_id": case.case_id})
            failures.append(sequence(record))
            continue
        metrics.add_metric(name="CasesExpired", unit=MetricUnit.Count, value=1)
        logger.info("expired case purged", extra={"case_id": case.case_id, "keys": deleted})
    for record, partner_id, report_id in batch.expired_evidence:
        try:
            if forget is None:
                raise RuntimeError("no evidence bucket configured")
            versions = forget(partner_id, report_id)
        except Exception:
            logger.exception("expired report's evidence not deleted; retried", extra={"report_id": report_id})
            failures.append(sequence(record))
            continue
        logger.info("expired report's evidence deleted", extra={"report_id": report_id, "versions": versions})
    for record, case in batch.decided:
        try:
            changed = builder.count_decision(case)
        except Exception as error:
            why = permanent(error)
            if why:
                parked(record, "refused", why)
            else:
                logger.exception("decision not counted; its record will be retried", extra={"case_id": case.case_id})
                failures.append(sequence(record))
            continue
        logger.info("decision counted", extra={"case_id": case.case_id, "notices": changed})
    for case_id, answers in batch.answered.items():
        try:
            builder.requeue(case_id, now)
        except Exception as error:
            why = permanent(error)
            for record in answers:
                if why:
                    parked(record, "refused", why)
                else:
                    failures.append(sequence(record))
            if not why:
                logger.exception("answered case not queued; its records will be retried", extra={"case_id": case_id})
    for case_id, entries in batch.by_case.items():
        try:
            case = builder.attach_to_case(case_id, [report for _, report in entries], now)
        except Exception as error:
            why = permanent(error)
            if why and len(entries) > 1:  # find the culprit: the case's other reports must not be parked with it
                failures.extend(process([record for record, _ in entries[:1]], builder, park, now))
                failures.extend(process([record for record, _ in entries[1:]], builder, park, now))
                continue
            if why:
                for record, _ in entries:
                    parked(record, "refused", why)
            else:
                logger.exception("case not updated; its records will be retried", extra={"case_id": case_id})
                failures.extend(sequence(record) for record, _ in entries)
            continue
        metrics.add_metric(name="ReportsAttached", unit=MetricUnit.Count, value=len(entries))
        logger.info("reports attached", extra={"case_id": case_id, "reports": len(entries), "queued": case.queued})
    return failures


@logger.inject_lambda_context(log_event=False)
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Attach a batch of reports; report the records of failed cases for redelivery."""
    services = wiring.services()
    failures = process(
        event.get("Records", []),
        services.case_builder(),
        services.parking().park,
        clock.now(),
        services.purge().purge,
        services.forget_evidence(),
    )
    return {"batchItemFailures": [{"itemIdentifier": s} for s in failures]}


@dataclass
class Replayed:
    """What a replay of the failure queue did."""

    attached: int = 0
    still_failing: int = 0
    expired: int = 0
    problems: list[str] = field(default_factory=list)


def stream_records(streams: DynamoDBStreamsClient, info: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The records a Lambda failure message names (DDBStreamBatchInfo), if the stream still holds them (24 h)."""
    try:
        iterator = streams.get_shard_iterator(
            StreamArn=info["streamArn"],
            ShardId=info["shardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            SequenceNumber=info["startSequenceNumber"],
        )["ShardIterator"]
    except (ClientError, KeyError):
        return None
    end, found = int(info["endSequenceNumber"]), list[dict[str, Any]]()
    while iterator:
        answer = streams.get_records(ShardIterator=iterator, Limit=1000)
        records = answer.get("Records", [])
        for record in records:
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return found
            found.append(dict(record))
        if not records:
            return found
        iterator = answer.get("NextShardIterator")
    return found


def replay(
    sqs: SQSClient, streams: DynamoDBStreamsClient, url: str, builder: CaseBuilder, now: datetime, limit: int = 1000
) -> Replayed:
    """Send the failure queue's records through the case builder again (after a fix); a message goes once its
    records are attached. Records that fail again stay on the queue (hidden a minute) and are counted."""
    from kanal.adapters.sqs import PARKED

    done = Replayed()
    seen = 0
    while seen < limit:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get("Messages", [])
        if not messages:
            return done
        for message in messages:
            seen += 1
            try:
                body = json.loads(message["Body"])
            except ValueError:
                done.problems.append(f"message {message.get('MessageId')} is not JSON; left on the queue")
                continue
            if body.get("kind") == PARKED:
                records: list[dict[str, Any]] | None = [body["record"]]
            elif "DDBStreamBatchInfo" in body:
                records = stream_records(streams, body["DDBStreamBatchInfo"])
            else:
                done.problems.append(f"message {message.get('MessageId')} is not a stream failure; left on the queue")
                continue
            if records is None:
                done.expired += 1
                done.problems.append(f"message {message.get('MessageId')}: its records have left the stream (24 h)")
                continue
            refused: list[str] = []

            def keep(record: dict[str, Any], reason: str, detail: str, refused: list[str] = refused) -> None:
                refused.append(f"{reason}: {detail}")

            failures = process(records, builder, keep, now)
            if failures or refused:
                done.still_failing += len(failures) + len(refused)
                done.problems.extend(refused)
                continue
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            done.attached += len(records)
    return done
