"""Reports' evidence files in DynamoDB (implements ports.EvidenceStore): a map by evidence id in the report's own
item, so that they go with it when the case's retention deletes the report, and a report's files are read with
it (GET /v1/reports/{id}, the reviewer's case) at no extra request.

Adding a file is one conditional update that also enforces the per-report limit (the map's size), so two
requests at once cannot pass it; a check is recorded once (its condition: the file is still pending).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from kanal.adapters.dynamodb import from_item, stamp, to_item, unavailable_on_failure
from kanal.models import EvidenceFile, EvidenceStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

#: Rounds of the add's two updates (the map's first file, or another) before a race is taken as the limit.
_ROUNDS = 3


def _record(record: EvidenceFile) -> dict[str, Any]:
    """A file as a DynamoDB map attribute."""
    attribute: dict[str, Any] = to_item({"record": record.model_dump(mode="json")})["record"]
    return attribute


class DynamoEvidence:
    """Evidence files in their reports' items."""

    def __init__(self, client: DynamoDBClient, table: str) -> None:
        self._client = client
        self._table = table

    @staticmethod
    def _key(report_id: str) -> dict[str, Any]:
        return to_item({"pk": f"REPORT#{report_id}", "sk": "REPORT"})

    def add(self, report_id: str, partner_id: str, record: EvidenceFile, limit: int) -> bool:
        """Into the map if it has fewer than ``limit`` files; or as the map's first file."""
        names = {"#id": record.evidence_id}
        owner = to_item({":owner": partner_id})
        attempts: list[dict[str, Any]] = [
            {
                "UpdateExpression": "SET evidence.#id = :record",
                "ConditionExpression": "partner_id = :owner AND attribute_exists(evidence) AND size(evidence) < :limit",
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": {**owner, ":record": _record(record), **to_item({":limit": limit})},
            },
            {
                "UpdateExpression": "SET evidence = :files",
                "ConditionExpression": "partner_id = :owner AND attribute_not_exists(evidence)",
                "ExpressionAttributeValues": {**owner, ":files": {"M": {record.evidence_id: _record(record)}}},
            },
        ]
        for _ in range(_ROUNDS):
            for update in attempts:
                if self._update(report_id, update):
                    return True
        return False

    def get(self, report_id: str, partner_id: str, evidence_id: str) -> EvidenceFile | None:
        """One file, if the report is the partner's."""
        with unavailable_on_failure():
            answer = self._client.get_item(
                TableName=self._table,
                Key=self._key(report_id),
                ProjectionExpression="partner_id, evidence.#id",
                ExpressionAttributeNames={"#id": evidence_id},
                ConsistentRead=True,
            )
        item = from_item(answer.get("Item") or {})
        found = (item.get("evidence") or {}).get(evidence_id)
        if item.get("partner_id") != partner_id or not found:
            return None
        return EvidenceFile.model_validate(found)

    def settle(
        self,
        report_id: str,
        partner_id: str,
        evidence_id: str,
        status: EvidenceStatus,
        reason: str | None,
        version_id: str,
        at: datetime,
    ) -> EvidenceFile | None:
        """The check's outcome on a pending file; the file as stored either way."""
        values = to_item(
            {
                ":owner": partner_id,
                ":pending": str(EvidenceStatus.PENDING),
                ":status": str(status),
                ":at": stamp(at),
                ":version": version_id,
            }
        )
        update = "SET evidence.#id.#status = :status, evidence.#id.checked_at = :at, evidence.#id.version_id = :version"
        if reason is not None:
            update += ", evidence.#id.reason = :reason"
            values.update(to_item({":reason": reason}))
        self._update(  # not done: checked already (by an earlier delivery), or no such file
            report_id,
            {
                "UpdateExpression": update,
                "ConditionExpression": "partner_id = :owner AND evidence.#id.#status = :pending",
                "ExpressionAttributeNames": {"#id": evidence_id, "#status": "status"},
                "ExpressionAttributeValues": values,
            },
        )
        return self.get(report_id, partner_id, evidence_id)

    def _update(self, report_id: str, update: dict[str, Any]) -> bool:
        with unavailable_on_failure():
            try:
                self._client.update_item(TableName=self._table, Key=self._key(report_id), **update)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                    return False
                raise
        return True
