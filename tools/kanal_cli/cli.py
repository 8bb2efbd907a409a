"""The ``kanal`` command: partner administration, and (with its own issues) the local stack and review.

Results go to stdout as JSON; progress and errors go to stderr in one line.
It talks to a deployed stack (``--stack-name``, whose outputs name the
table) or, when ``.kanal/dev.json`` exists or its ``env`` is exported, to
the local stack of ``kanal dev``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from kanal import clock, terminal
from kanal.errors import CaseNotFound, KanalError, KeyNotFound, PartnerNotFound, ReviewRefused, StoreUnavailable
from kanal.limits import PlanLimits, QuotaPeriod
from kanal.models import PartnerKind
from kanal.settings import SETTINGS, Setting, Settings

from kanal_cli import arguments, evidence, reports_import, reviewer, smoke, stats_export, stats_report, webhooks

if TYPE_CHECKING:
    from kanal.partners import Partners
    from kanal.wiring import Services

DEV_FILE = Path(".kanal/dev.json")


class UsageError(Exception):
    """A mistake the user can fix; printed as one line."""


class Parser(argparse.ArgumentParser):
    """argparse, but a mistake on the command line is a UsageError (one line, exit 2), not usage text."""

    def error(self, message: str) -> NoReturn:
        """Raise instead of printing the usage and exiting: main prints one line."""
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def _print(value: Any) -> None:
    print(terminal.json_text(value))


def _note(text: str) -> None:
    print(terminal.line(f"kanal: {text}"), file=sys.stderr)


def dev_settings() -> dict[str, Any] | None:
    """The local stack's description, if ``kanal dev`` is running from this folder."""
    if DEV_FILE.exists():
        loaded: dict[str, Any] = json.loads(DEV_FILE.read_text(encoding="utf-8"))
        return loaded
    return None


#: How the CLI checks a setting's value from the environment (as the flag that stands for it).
CHECKS: dict[str, Callable[[str], str]] = {
    "table_name": arguments.table_name,
    "endpoint_url": arguments.endpoint_url,
    "review_api_url": arguments.endpoint_url,
    "api_url": arguments.endpoint_url,
}


def resolve_settings(args: argparse.Namespace) -> Settings:
    """Which stack to talk to: flags and environment, then the local stack of ``kanal dev``, then a deployed stack
    (its outputs). Each setting's variables and output come from ``kanal.settings.SETTINGS``."""
    found: dict[str, str | None] = {s.field: _from_environment(s) for s in SETTINGS}
    found["table_name"] = args.table_name or found["table_name"]
    found["endpoint_url"] = args.endpoint_url or found["endpoint_url"]
    dev = dev_settings()
    if not found["table_name"] and dev and not args.stack_name:
        env = dev.get("env", {})
        for name in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            if name in env:
                os.environ.setdefault(name, env[name])
        os.environ.setdefault("AWS_DEFAULT_REGION", dev.get("region", "ap-southeast-3"))
        local = {s.field: next((env[v] for v in (s.variable, *s.aliases) if env.get(v)), None) for s in SETTINGS}
        found = {field: found[field] or local[field] for field in found}
        found["endpoint_url"] = found["endpoint_url"] or dev.get("aws_endpoint")
        found["review_api_url"] = found["review_api_url"] or dev.get("review_api_url")
        found["api_url"] = found["api_url"] or dev.get("api_url")
    if not found["table_name"]:
        stack = args.stack_name or _checked("KANAL_STACK_NAME", arguments.stack_name) or "kanal"
        outputs = stack_outputs(stack, found["endpoint_url"])
        for setting in SETTINGS:
            if setting.output and not found[setting.field]:
                found[setting.field] = outputs.get(setting.output)
    return Settings.model_validate({k: v for k, v in found.items() if v is not None})


def _from_environment(setting: Setting) -> str | None:
    """A setting's value from its variable or an alias (aliases first: they are the CLI's own names)."""
    for variable in (*setting.aliases, setting.variable):
        value = _checked(variable, CHECKS.get(setting.field, str))
        if value:
            return value
    return None


def _checked(variable: str, kind: Callable[[str], str]) -> str | None:
    """An environment variable's value, held to the rule of the flag it stands for."""
    value = os.environ.get(variable)
    if not value:
        return None
    try:
        return kind(value)
    except argparse.ArgumentTypeError as error:
        raise UsageError(f"{variable} {error}") from None


def stack_outputs(stack: str, endpoint: str | None) -> dict[str, str]:
    """The outputs of a deployed kanal stack."""
    from botocore.exceptions import BotoCoreError, ClientError
    from kanal.adapters.aws import client

    _note(f"reading the outputs of stack {stack!r}")
    try:
        stacks = client("cloudformation", endpoint).describe_stacks(StackName=stack)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise UsageError(
            f"cannot read stack {stack!r} ({error}); pass --stack-name, --table-name, or start `kanal dev`"
        ) from error
    outputs = {o["OutputKey"]: str(o["OutputValue"]) for o in stacks[0].get("Outputs", [])}
    if "TableName" not in outputs:
        raise UsageError(f"stack {stack!r} has no output 'TableName'; is it a kanal stack?")
    return outputs


def _services(args: argparse.Namespace) -> Services:
    from kanal import wiring

    return wiring.build(resolve_settings(args))


def _partners(args: argparse.Namespace) -> Partners:
    return _services(args).partners


def cmd_partners_create(args: argparse.Namespace) -> None:
    """Create a partner and print its id and its first key (shown only this once)."""
    from kanal import regions

    if args.region_code and not regions.exists(args.region_code):
        raise UsageError(f"--region-code {args.region_code!r} is not a province or regency code such as 31 or 31.71")
    issued = _partners(args).create(args.name, PartnerKind(args.kind), clock.now(), args.region_code)
    _print(
        {
            "partner_id": issued.partner.partner_id,
            "name": issued.partner.name,
            "kind": str(issued.partner.kind),
            "key_id": issued.key_id,
            "api_key": issued.api_key,
        }
    )
    _note("the api_key is shown only now; store it in the partner's secret store")


def cmd_partners_list(args: argparse.Namespace) -> None:
    """List partners with their keys' ids and states (never the keys)."""
    partners = _partners(args)
    _print(
        [
            {
                **p.model_dump(mode="json", exclude={"usage_key"}),
                "keys": [
                    {"key_id": k.key_id, "created_at": k.created_at, "revoked_at": k.revoked_at, "active": k.active}
                    for k in partners.directory.keys_of(p.partner_id)
                ],
            }
            for p in partners.directory.list_partners()
        ]
    )


def cmd_partners_add_key(args: argparse.Namespace) -> None:
    """Give a partner another key, for rotation."""
    issued = _partners(args).issue_key(args.partner_id, clock.now())
    _print({"partner_id": issued.partner.partner_id, "key_id": issued.key_id, "api_key": issued.api_key})
    _note("the api_key is shown only now; revoke the old key once the partner has switched")


def cmd_partners_revoke_key(args: argparse.Namespace) -> int:
    """Revoke a key, then flush the partner API's authorizer cache: its next request gets 401, not one after
    AuthorizerCacheTtl."""
    from botocore.exceptions import BotoCoreError, ClientError

    partners = _partners(args)
    key = partners.revoke_key(args.partner_id, args.key_id, clock.now())
    _print({"partner_id": key.partner_id, "key_id": key.key_id, "revoked_at": key.revoked_at})
    try:
        flushed = partners.flush()
    except (BotoCoreError, ClientError) as error:
        _note(f"the key is revoked, but the authorizer cache was not flushed ({error}): it may still work for up to")
        _note("AuthorizerCacheTtl seconds; run revoke-key again to retry the flush")
        return 1
    if flushed:
        _note("the authorizer cache is flushed: the key is refused from its next request")
    else:
        _note("no usage plan named (UsagePlanId): the key may still work for up to AuthorizerCacheTtl seconds")
    return 0


def _limits_answer(partner_id: str, plan: PlanLimits | None) -> dict[str, Any]:
    if plan is None:
        return {"partner_id": partner_id, "plan_id": None, "own": False, "limits": None}
    return {"partner_id": partner_id, **plan.model_dump(mode="json")}


def cmd_partners_limits(args: argparse.Namespace) -> None:
    """The usage plan a partner's requests count against, and its limits."""
    plan = _partners(args).limits(args.partner_id)
    _print(_limits_answer(args.partner_id, plan))
    if plan is None:
        _note("the partner is in no usage plan: the API refuses it (403) until set-limits puts it in one")


def cmd_partners_set_limits(args: argparse.Namespace) -> None:
    """Give a partner limits of its own (what is not given stays as it was), or back the default's."""
    partners = _partners(args)
    given = (args.rate, args.burst, args.quota, args.quota_period)
    if args.default:
        if any(v is not None for v in given):
            raise UsageError("--default takes no --rate, --burst, --quota or --quota-period")
        plan = partners.use_default_limits(args.partner_id)
    elif all(v is None for v in given):
        raise UsageError("give --rate, --burst, --quota or --quota-period, or --default")
    else:
        from pydantic import ValidationError

        try:
            plan = partners.set_limits(args.partner_id, args.rate, args.burst, args.quota, args.quota_period)
        except ValidationError as error:
            raise UsageError("; ".join(e["msg"] for e in error.errors())) from None
        except ValueError as error:
            raise UsageError(str(error)) from None
    _print(_limits_answer(args.partner_id, plan))


def cmd_partners_subscribe(args: argparse.Namespace) -> None:
    """Subscribe an endpoint to a partner's reminders: the filter policy lets through only its own."""
    from kanal.adapters.aws import client

    services = _services(args)
    if services.partners.directory.get_partner(args.partner_id) is None:
        raise PartnerNotFound(args.partner_id)
    if not services.settings.partner_topic_arn:
        raise UsageError("the stack has no partner topic (PARTNER_TOPIC_ARN)")
    answer = client("sns", services.settings.endpoint_url).subscribe(
        TopicArn=services.settings.partner_topic_arn,
        Protocol=args.protocol,
        Endpoint=args.endpoint,
        Attributes={"FilterPolicy": json.dumps({"partner_id": [args.partner_id]}), "RawMessageDelivery": "false"},
        ReturnSubscriptionArn=True,
    )
    _print({"partner_id": args.partner_id, "subscription_arn": answer["SubscriptionArn"]})


def cmd_remind(args: argparse.Namespace) -> None:
    """Run every reminder due as of --now (or now); --dry-run sends and records nothing."""
    now = args.now or clock.now()
    run = _services(args).reminders().run(now, dry_run=args.dry_run)
    _print([r.model_dump(mode="json") for r in run.sent])
    verb = "would send" if args.dry_run else "sent"
    _note(f"{verb} {len(run.sent)} reminder(s) as of {now.isoformat()}; {run.skipped} no longer applied")


def cmd_reminders_list(args: argparse.Namespace) -> None:
    """Reminders sent, newest first."""
    reminders = _services(args).timers.sent(args.partner)
    _print(
        [
            r.model_dump(mode="json", include={"kind", "partner_id", "case_id", "subject", "offset", "sent_at"})
            for r in reminders
        ]
    )


def cmd_dev(args: argparse.Namespace) -> None:
    """Run the whole system locally."""
    from kanal_local.dev import serve

    serve(port=args.port, host=args.host, template=args.template)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    top = Parser(prog="kanal", description="kanal: the election-content reporting channel.")
    top.add_argument(
        "--stack-name", type=arguments.stack_name, help="deployed stack to use (default: $KANAL_STACK_NAME or 'kanal')"
    )
    top.add_argument(
        "--table-name", type=arguments.table_name, help="table to use directly (default: $KANAL_TABLE_NAME)"
    )
    top.add_argument(
        "--endpoint-url",
        type=arguments.endpoint_url,
        help="AWS endpoint (default: $AWS_ENDPOINT_URL), e.g. the local stack's",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    partners = commands.add_parser("partners", help="manage partners and their API keys")
    actions = partners.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a partner and its first key")
    create.add_argument("--name", required=True, type=arguments.text(200, lines=False))
    create.add_argument("--kind", required=True, choices=[k.value for k in PartnerKind])
    create.add_argument("--region-code", help="where the partner sits (its time zone for reminders), e.g. 73.71")
    create.set_defaults(func=cmd_partners_create)
    actions.add_parser("list", help="list partners and their keys' states").set_defaults(func=cmd_partners_list)
    add_key = actions.add_parser("add-key", help="issue another key to a partner")
    add_key.add_argument("--partner-id", required=True, type=arguments.identifier)
    add_key.set_defaults(func=cmd_partners_add_key)
    revoke = actions.add_parser("revoke-key", help="revoke one of a partner's keys")
    revoke.add_argument("--partner-id", required=True, type=arguments.identifier)
    revoke.add_argument("--key-id", required=True, type=arguments.identifier)
    revoke.set_defaults(func=cmd_partners_revoke_key)
    limits = actions.add_parser("limits", help="the usage plan a partner's requests count against")
    limits.add_argument("--partner-id", required=True, type=arguments.identifier)
    limits.set_defaults(func=cmd_partners_limits)
    set_limits = actions.add_parser(
        "set-limits", help="give a partner its own rate, burst and quota (or --default: the template's)"
    )
    set_limits.add_argument("--partner-id", required=True, type=arguments.identifier)
    set_limits.add_argument("--rate", type=arguments.rate, help="requests per second, steady")
    set_limits.add_argument("--burst", type=arguments.bounded_int(1, 5000), help="requests at once (1-5000)")
    set_limits.add_argument("--quota", type=arguments.quota, help="requests per quota period; 0: no quota")
    set_limits.add_argument(
        "--quota-period", choices=[p.value for p in QuotaPeriod], help="DAY, WEEK or MONTH (from 00:00 UTC)"
    )
    set_limits.add_argument(
        "--default", action="store_true", help="back on the default plan (also: a partner made before limits)"
    )
    set_limits.set_defaults(func=cmd_partners_set_limits)
    subscribe = actions.add_parser("subscribe", help="subscribe an endpoint to a partner's own reminders")
    subscribe.add_argument("--partner-id", required=True, type=arguments.identifier)
    subscribe.add_argument("--protocol", required=True, choices=["email", "https", "sqs", "lambda", "sms"])
    subscribe.add_argument(
        "--endpoint", required=True, type=arguments.text(2048, lines=False), help="address, URL or ARN for the protocol"
    )
    subscribe.set_defaults(func=cmd_partners_subscribe)

    remind = commands.add_parser("remind", help="send every reminder due as of a moment")
    remind.add_argument("--now", type=arguments.moment, help="ISO time with offset, 2000-2099 (default: now)")
    remind.add_argument("--dry-run", action="store_true", help="show what would be sent; send and record nothing")
    remind.set_defaults(func=cmd_remind)
    reminders = commands.add_parser("reminders", help="reminders sent")
    reminder_actions = reminders.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = reminder_actions.add_parser("list", help="reminders sent, newest first")
    listing.add_argument("--partner", type=arguments.identifier, help="only this partner's")
    listing.add_argument("--json", action="store_true", help="print JSON (the only format; kept for scripts)")
    listing.set_defaults(func=cmd_reminders_list)

    def with_services(
        handler: Callable[[argparse.Namespace, Services], None],
    ) -> Callable[[argparse.Namespace], None]:
        return lambda args: handler(args, _services(args))

    reviewer.add_commands(commands, _services, with_services)
    smoke.add_command(commands, with_services)
    webhooks.add_commands(commands)
    # `kanal stats`: report and export.
    stats_export.add_export(stats_report.add_commands(commands))
    reports_import.add_commands(commands)
    evidence.add_commands(commands)

    dev = commands.add_parser("dev", help="run the whole system locally on emulated AWS")
    dev.add_argument("--port", type=arguments.port, default=3000)
    dev.add_argument("--template", type=Path, help="the SAM template to run (default: this checkout's template.yaml)")
    dev.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)
    dev.set_defaults(func=cmd_dev)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kanal`` console script."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        args = parser().parse_args(argv)
    except UsageError as error:
        _note(str(error))
        return 2
    func: Callable[[argparse.Namespace], int | None] = args.func
    failures: dict[type[Exception], str] = {
        PartnerNotFound: "no partner with id {}",
        KeyNotFound: "no key with id {} for that partner",
        StoreUnavailable: "the table is unavailable, try again: {}",
        CaseNotFound: "no case with id {}",
        ReviewRefused: "refused: {}",
    }
    try:
        code = func(args)
    except (UsageError, argparse.ArgumentTypeError) as error:  # ArgumentTypeError: a value from the environment
        _note(str(error))
        return 2
    except RuntimeError as error:  # the stack lacks what the command needs (queues, topics)
        _note(f"{error}: pass --stack-name, or export them (`kanal dev` writes them to {DEV_FILE})")
        return 2
    except KanalError as error:
        _note(failures.get(type(error), "{}").format(error))
        return 1
    except KeyboardInterrupt:
        return 130
    except (BotoCoreError, ClientError) as error:
        where = os.environ.get("AWS_ENDPOINT_URL") or "AWS"
        _note(f"{where} refused or could not be reached: {error}")
        if dev_settings():
            _note(f"is `kanal dev` still running? {DEV_FILE} says it is; remove it if not")
        return 1
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
