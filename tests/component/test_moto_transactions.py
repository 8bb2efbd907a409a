"""The local fix for moto's TransactWriteItems keeps moto's all-or-nothing semantics (and the stream's)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.lambdas import env


def test_a_cancelled_transaction_changes_nothing_and_streams_nothing(dynamodb: Any) -> None:
    table = env("TABLE_NAME")
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "CASE#x"}, "sk": {"S": "CASE"}, "n": {"N": "1"}})
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    import boto3

    streams = boto3.client("dynamodbstreams", region_name="ap-southeast-3")

    def records() -> int:
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        it = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        return len(streams.get_records(ShardIterator=it["ShardIterator"])["Records"])

    before, items = records(), dynamodb.scan(TableName=table)["Items"]
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "CASE#x"}, "sk": {"S": "CASE"}},
                        "UpdateExpression": "ADD n :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"pk": {"S": "CASE#x"}, "sk": {"S": "EVENT#1"}}}},
                {
                    "Put": {
                        "TableName": table,
                        "Item": {"pk": {"S": "CASE#x"}, "sk": {"S": "EVENT#0"}, "n": {"N": "9"}},
                        "ConditionExpression": "attribute_exists(pk)",  # fails: cancels the whole transaction
                    }
                },
            ]
        )
    assert dynamodb.scan(TableName=table)["Items"] == items
    assert records() == before
    dynamodb.transact_write_items(
        TransactItems=[{"Put": {"TableName": table, "Item": {"pk": {"S": "CASE#x"}, "sk": {"S": "EVENT#1"}}}}]
    )
    assert len(dynamodb.scan(TableName=table)["Items"]) == len(items) + 1
    assert records() == before + 1
