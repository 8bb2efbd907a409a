"""The partner API's usage plans and API keys in API Gateway (implements UsagePlans).

Each partner has one API Gateway API key: its value is the authorizer's usageIdentifierKey (the API's
ApiKeySourceType is AUTHORIZER), never a secret the partner sends. A key is in one plan per stage: the
template's default plan (output UsagePlanId), or one of the partner's own made by ``kanal partners set-limits``.
The stage those plans apply to is the default plan's (its one API stage), which is also the stage whose
authorizer cache ``flush_authorizer_cache`` empties.
"""

from __future__ import annotations

import secrets
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kanal.limits import Limits, PlanLimits, QuotaPeriod

if TYPE_CHECKING:
    from mypy_boto3_apigateway import APIGatewayClient
    from mypy_boto3_apigateway.type_defs import UsagePlanResponseTypeDef, UsagePlanTypeDef

#: API Gateway wants an API key value of 20 characters at least; 30 random bytes give 40.
KEY_BYTES = 30


def limits_of(plan: UsagePlanTypeDef | UsagePlanResponseTypeDef) -> Limits:
    """A usage plan's throttle and quota as Limits."""
    throttle, quota = plan.get("throttle", {}), plan.get("quota")
    return Limits(
        rate=float(throttle.get("rateLimit", 10000)),
        burst=int(throttle.get("burstLimit", 5000)),
        quota=int(quota["limit"]) if quota and "limit" in quota else None,
        period=QuotaPeriod(quota["period"]) if quota and "period" in quota else None,
    )


def _number(value: float) -> str:
    """A rate as a patch operation's value: a whole number without ".0" (moto reads whole rates with int())."""
    return str(int(value)) if value.is_integer() else str(value)


def _plan_settings(limits: Limits) -> dict[str, Any]:
    settings: dict[str, Any] = {"throttle": {"rateLimit": limits.rate, "burstLimit": limits.burst}}
    if limits.quota is not None and limits.period is not None:
        settings["quota"] = {"limit": limits.quota, "period": str(limits.period)}
    return settings


class ApiGatewayPlans:
    """Usage plans and keys of the stage of ``default_plan_id``."""

    def __init__(self, client: APIGatewayClient, default_plan_id: str) -> None:
        self._client = client
        self._default = default_plan_id

    @cached_property
    def _default_plan(self) -> UsagePlanResponseTypeDef:
        return self._client.get_usage_plan(usagePlanId=self._default)

    @property
    def stage(self) -> tuple[str, str]:
        """(REST API id, stage name) of the default plan: the partner API's stage."""
        stages = self._default_plan.get("apiStages", [])
        if len(stages) != 1:
            raise RuntimeError(f"usage plan {self._default} applies to {len(stages)} API stages, not the one")
        return stages[0]["apiId"], stages[0]["stage"]

    def create_key(self, partner_id: str) -> tuple[str, str]:
        """A new enabled API key named after the partner, in no plan yet: (id, value)."""
        value = secrets.token_urlsafe(KEY_BYTES)
        created = self._client.create_api_key(
            name=f"kanal-{partner_id}",
            description="The partner's usage identifier (the authorizer names it); not a credential.",
            enabled=True,
            value=value,
        )
        return created["id"], value

    def delete_key(self, key_id: str) -> None:
        """Delete an API key; API Gateway drops it from its plan too."""
        self._client.delete_api_key(apiKey=key_id)

    def plan_of(self, key_id: str) -> PlanLimits | None:
        """The plan of this stage the key is in, or None."""
        api_id, stage = self.stage
        for plan in self._client.get_usage_plans(keyId=key_id).get("items", []):
            if any(s.get("apiId") == api_id and s.get("stage") == stage for s in plan.get("apiStages", [])):
                return PlanLimits(plan_id=plan["id"], own=plan["id"] != self._default, limits=limits_of(plan))
        return None

    def default_limits(self) -> PlanLimits:
        """The default plan."""
        return PlanLimits(plan_id=self._default, own=False, limits=limits_of(self._default_plan))

    def use_default(self, key_id: str) -> PlanLimits:
        """Put the key in the default plan, deleting the partner's own plan if it had one."""
        current = self.plan_of(key_id)
        if current is not None and not current.own:
            return current
        if current is not None:
            self._client.delete_usage_plan_key(usagePlanId=current.plan_id, keyId=key_id)
            self._client.delete_usage_plan(usagePlanId=current.plan_id)
        self._client.create_usage_plan_key(usagePlanId=self._default, keyId=key_id, keyType="API_KEY")
        return self.default_limits()

    def use_own(self, key_id: str, partner_id: str, limits: Limits) -> PlanLimits:
        """Put the key in a plan of the partner's own with ``limits``: the one it has, changed in place, or a new
        one it moves to (out of the default plan: between the two calls its requests are refused, 403)."""
        current = self.plan_of(key_id)
        if current is not None and current.own and (current.limits.quota is None) == (limits.quota is None):
            operations: list[dict[str, str]] = [
                {"op": "replace", "path": "/throttle/rateLimit", "value": _number(limits.rate)},
                {"op": "replace", "path": "/throttle/burstLimit", "value": str(limits.burst)},
            ]
            if limits.quota is not None:
                operations += [
                    {"op": "replace", "path": "/quota/limit", "value": str(limits.quota)},
                    {"op": "replace", "path": "/quota/period", "value": str(limits.period)},
                ]
            self._client.update_usage_plan(usagePlanId=current.plan_id, patchOperations=operations)  # type: ignore[arg-type]
            return PlanLimits(plan_id=current.plan_id, own=True, limits=limits)
        api_id, stage = self.stage
        plan = self._client.create_usage_plan(
            name=f"{self._default_plan.get('name', 'kanal')}-{partner_id}",
            description=f"The limits of partner {partner_id} (kanal partners set-limits).",
            apiStages=[{"apiId": api_id, "stage": stage}],
            **_plan_settings(limits),
        )
        if current is not None:
            self._client.delete_usage_plan_key(usagePlanId=current.plan_id, keyId=key_id)
        self._client.create_usage_plan_key(usagePlanId=plan["id"], keyId=key_id, keyType="API_KEY")
        if current is not None and current.own:
            self._client.delete_usage_plan(usagePlanId=current.plan_id)
        return PlanLimits(plan_id=plan["id"], own=True, limits=limits)

    def flush_authorizer_cache(self) -> None:
        """Empty the stage's authorizer cache: every key is authorized afresh on its next request."""
        api_id, stage = self.stage
        self._client.flush_stage_authorizers_cache(restApiId=api_id, stageName=stage)
