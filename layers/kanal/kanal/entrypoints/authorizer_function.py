"""The REQUEST authorizer (AuthorizerFunction): a bearer key in, a partner identity out.

A missing, malformed, unknown or revoked key all end the same way: API
Gateway's 401, whose problem document the template defines. The policy
allows the whole API because API Gateway caches it for the key, across routes.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from kanal import wiring
from kanal.observability import logger


class Unauthorized(Exception):
    """API Gateway turns exactly the message 'Unauthorized' into its 401 gateway response."""

    def __init__(self) -> None:
        super().__init__("Unauthorized")


def api_arn_pattern(method_arn: str) -> str:
    """arn:...:api-id/stage/* from the method ARN of this request."""
    prefix, _, path = method_arn.partition(":execute-api:")
    api_and_stage = "/".join(path.split("/", 2)[:2])
    return f"{prefix}:execute-api:{api_and_stage}/*"


@logger.inject_lambda_context(log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Allow the request for the partner that owns the key, or raise Unauthorized."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    key = wiring.services().partners.authenticate(headers.get("authorization"))
    if key is None:
        logger.info("request refused: no valid key")
        raise Unauthorized()
    logger.append_keys(partner_id=key.partner_id)
    logger.info("partner authenticated", extra={"key_id": key.key_id})
    return {
        "principalId": key.partner_id,
        # The partner's API Gateway key: its requests count against its usage plan (ApiKeySourceType AUTHORIZER).
        # A partner made before limits has none, and API Gateway refuses it (INVALID_API_KEY, 403) until an
        # operator runs `kanal partners set-limits --default` for it.
        **({"usageIdentifierKey": key.usage_key} if key.usage_key else {}),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": api_arn_pattern(event["methodArn"])}
            ],
        },
        "context": {
            "partner_id": key.partner_id,
            "key_id": key.key_id,
            **({"partner_kind": str(key.partner_kind)} if key.partner_kind else {}),
            **({"partner_name": key.partner_name} if key.partner_name else {}),
        },
    }
