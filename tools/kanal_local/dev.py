"""``kanal dev``: the whole system on one machine, AWS emulated in-process, the API on 127.0.0.1.

State lives in memory: stopping the stack forgets every report.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kanal import terminal

from kanal_local.emulator import Emulator, PortBusy, ensure_free
from kanal_local.gateway import Api, make_server
from kanal_local.triggers import CannotEmulate, Schedules, Triggers
from kanal_local.uploads import Uploads

DEMO_PARTNERS = (
    ("Bawaslu RI", "election_agency"),
    ("KPU RI", "election_agency"),
    ("Perludem", "civil_society"),
)
DEV_FILE = Path(".kanal/dev.json")


def write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only (it holds API keys), atomically: the file is created 0600, never
    widened and narrowed after, and readers never see half of it."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    written = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    written.unlink(missing_ok=True)  # O_EXCL below: never write through a file (or link) left there
    descriptor = os.open(written, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(text)
    written.replace(path)


def _log(line: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {line}", file=sys.stderr, flush=True)


@dataclass
class LocalStack:
    """The emulated AWS, the API gateway and the stream triggers, started and stopped together."""

    port: int = 3000
    host: str = "127.0.0.1"
    log: Any = _log
    emulator: Emulator = field(
        default_factory=lambda: Emulator(
            overrides={"POWERTOOLS_LOG_LEVEL": os.environ.get("KANAL_DEV_LOG_LEVEL", "WARNING")}
        )
    )
    partners: list[dict[str, str]] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    server: Any = None
    triggers: Triggers | None = None
    schedules: Schedules | None = None
    uploads: Uploads | None = None
    thread: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        """Where the API answers."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalStack:
        """Start everything and seed the demo partners. Raises PortBusy if the API's port is taken, CannotEmulate
        if the template asks for something the local stack cannot run as AWS would, or names something it does not
        know (an unknown Ref or GetAtt), and then stops what it started."""
        ensure_free(self.host, self.port)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalStack:
        started = time.perf_counter()
        stack = self.emulator.start()
        self.timings.update(self.emulator.timings)
        import boto3

        streams = boto3.client("dynamodbstreams", endpoint_url=self.emulator.endpoint)
        sqs = boto3.client("sqs", endpoint_url=self.emulator.endpoint)
        # The triggers, the schedules and the APIs read (and refuse) what the template asks before anything serves.
        self.triggers = Triggers(stack, self.emulator.invoke, streams, self.log, sqs=sqs)
        self.schedules = Schedules(stack, self.emulator.invoke, self.log)
        s3 = boto3.client("s3", endpoint_url=self.emulator.endpoint)
        self.uploads = Uploads(stack, self._invoke, s3, self.log, sqs=sqs)
        apis = [Api.from_stack(stack, logical) for logical in stack.of_type("AWS::ApiGateway::RestApi")]
        try:
            self.server = make_server(apis, self._invoke, self.host, self.port, self.log)
        except OSError as error:  # taken since ensure_free looked
            if error.errno == errno.EADDRINUSE:
                raise PortBusy(self.port) from error
            raise
        self.triggers.start()
        self.schedules.start()
        self.uploads.start()
        seeding = time.perf_counter()
        self.partners = self._seed()
        self.timings["seed_s"] = time.perf_counter() - seeding
        self.thread = threading.Thread(target=self.server.serve_forever, name="gateway", daemon=True)
        self.thread.start()
        self.timings["startup_s"] = time.perf_counter() - started
        return self

    def _invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Invoke a function for the gateway; what it wrote reaches the stream triggers without waiting out
        their idle pause.
        """
        try:
            return self.emulator.invoke(logical_id, event)
        finally:
            if self.triggers is not None:
                self.triggers.wake()

    def _seed(self) -> list[dict[str, str]]:
        from kanal import clock, wiring
        from kanal.models import PartnerKind

        partners = wiring.services().partners
        seeded = []
        for name, kind in DEMO_PARTNERS:
            issued = partners.create(name, PartnerKind(kind), clock.now())
            seeded.append(
                {"partner_id": issued.partner.partner_id, "name": name, "kind": kind, "api_key": issued.api_key}
            )
        return seeded

    def description(self) -> dict[str, Any]:
        """What .kanal/dev.json holds: where everything is, and the variables that point the CLI here."""
        from kanal.settings import variables

        wanted = ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", *variables())
        env = {name: os.environ[name] for name in wanted if name in os.environ}
        return {
            "api_url": self.api_url,
            # The reviewer API shares the port (its paths are /v1/review/...); callers name themselves with the
            # X-Kanal-Local-Reviewer header, which only the local gateway reads.
            "review_api_url": self.api_url,
            "aws_endpoint": self.emulator.endpoint,
            "region": env.get("AWS_DEFAULT_REGION"),
            "partners": self.partners,
            "env": env,
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }

    def stop(self) -> None:
        """Stop the gateway (and its kept-alive connections), the triggers and moto."""
        if self.server is not None:
            if self.thread is not None:
                self.server.shutdown()
            self.server.server_close()
        if self.triggers is not None:
            self.triggers.stop()
        if self.schedules is not None:
            self.schedules.stop()
        if self.uploads is not None:
            self.uploads.stop()
        self.emulator.stop()


def _interrupt(*_: Any) -> None:
    raise KeyboardInterrupt


def serve(port: int = 3000, host: str = "127.0.0.1", template: Path | None = None) -> None:
    """Run the local stack of ``template`` (default: this checkout's template.yaml) in the foreground until Ctrl-C;
    exit 2 with one line if it cannot start."""
    _log("starting kanal on emulated AWS (moto, in memory)...")
    stack = LocalStack(port=port, host=host)
    if template is not None:
        stack.emulator.template_path = template
    try:
        stack.start()
    except PortBusy as busy:
        print(f"kanal dev: port {busy.port} is busy; choose another with --port", file=sys.stderr)
        raise SystemExit(2) from None
    except CannotEmulate as refused:
        print(f"kanal dev: {terminal.line(str(refused))}", file=sys.stderr)
        raise SystemExit(2) from None
    write_private(DEV_FILE, json.dumps(stack.description(), indent=2))
    print(f"\nkanal is running at {stack.api_url}  (ready in {stack.timings['startup_s']:.1f} s)")
    print(f"OpenAPI: {stack.api_url}/v1/openapi.json   AWS (moto): {stack.emulator.endpoint}")
    print("Demo partners and their API keys:")
    for partner in stack.partners:
        print(f"  {partner['name']:<11} {partner['kind']:<16} {partner['api_key']}")
    print(f"Written to {DEV_FILE}: other `kanal` commands in this folder use this stack. State is in memory.")
    print("Ctrl-C to stop.\n", flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        # With a timeout: the kernel may hand Ctrl-C to any of the stack's threads, and Python runs the handler in
        # the main thread only when it next wakes; an endless wait would never wake (measured here).
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        _log("stopping...")
    finally:
        stack.stop()
        DEV_FILE.unlink(missing_ok=True)
        _log("stopped")
