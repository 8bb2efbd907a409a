"""Emulated AWS for the local stack: moto's server on 127.0.0.1, the template's resources (as SAM translates it),
the real handlers.

moto's server is built from moto's public pieces, as ``moto.server`` builds its own: the WSGI app
(``DomainDispatcherApplication(create_backend_app)``) served by werkzeug's threaded server (``make_server``) with
moto's request handler (``MotoRequestHandler``), here quiet, and with DynamoDB answered one request at a time, and
S3's checks of presigned POST uploads in front (``kanal_local.post_policy``: moto makes none).
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from kanal_local.template import (
    CannotEmulate,
    Function,
    Stack,
    create_stack,
    default_template_path,
    describe,
    load,
    translate,
)

REGION = "ap-southeast-3"
#: Invocations of one function that may run at once on the local stack.
ENVIRONMENTS = 8
Handler = Callable[[dict[str, Any], Any], Any]


class PortBusy(Exception):
    """The port asked for is taken."""

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self.port = port


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def ensure_free(host: str, port: int) -> None:
    """Raise PortBusy unless ``port`` can be bound on ``host`` by a server that reuses addresses, as http.server's
    does: the connections of a run stopped a moment ago wait out TIME_WAIT on that port for up to a minute, and
    only a server listening there makes it busy."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise PortBusy(port) from error


@dataclass
class LambdaContext:
    """What Powertools reads of a Lambda context."""

    function_name: str
    memory_limit_in_mb: int = 512
    aws_request_id: str = "local"
    timeout_seconds: int = 30
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        """The function's ARN on the local stack."""
        return f"arn:aws:lambda:{REGION}:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        """Time left before the function's timeout."""
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


def is_dynamodb(environ: dict[str, Any]) -> bool:
    """Whether a request to moto is a DynamoDB (or DynamoDB Streams) call: their targets name the service."""
    return str(environ.get("HTTP_X_AMZ_TARGET", "")).startswith("DynamoDB")


def one_at_a_time(app: Any, serialized: Callable[[dict[str, Any]], bool] = is_dynamodb) -> Any:
    """A WSGI app that answers the requests ``serialized`` picks one at a time. moto's DynamoDB backend is
    not thread-safe: an UpdateItem builds its new item in place, and a GetItem or Query served meanwhile
    can read it half-built (and fail); DynamoDB never shows a partial item, so the emulator does not either.
    Other services go on in parallel: an SQS long poll holds its request for up to 20 s, and holding
    everything else that long would stall the stack (and the very message it waits for).
    """
    lock = threading.Lock()

    def answer(environ: dict[str, Any], start_response: Any) -> Any:
        if not serialized(environ):
            return app(environ, start_response)
        with lock:
            answered = app(environ, start_response)
            try:
                return list(answered)
            finally:
                close = getattr(answered, "close", None)
                if close is not None:
                    close()

    return answer


def load_handler(root: Path, function: Function) -> Handler:
    """The handler that Lambda would run: the module of the Handler in the function's code folder (its CodeUri),
    the Handler's attribute; its layers' folders importable, as Lambda puts them on the path."""
    for layer in function.layers:
        folder = str((root / layer).resolve())
        if folder not in sys.path:
            sys.path.append(folder)  # after what is installed: an editable install of the same package wins
    module_name, _, attribute = function.handler.rpartition(".")
    path = root / function.code_uri / f"{module_name.replace('.', '/')}.py"
    spec = importlib.util.spec_from_file_location(f"kanal_local_{function.logical_id}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Handler = getattr(module, attribute)
    return handler


@dataclass
class Emulator:
    """moto's server with the template's resources, and the template's functions ready to invoke."""

    template_path: Path = field(default_factory=default_template_path)
    #: Variables set over the functions' own environment (e.g. a quieter log level).
    overrides: dict[str, str] = field(default_factory=dict)
    moto_port: int = 0
    server: Any = None
    thread: threading.Thread | None = None
    stack: Stack | None = None
    handlers: dict[str, Handler] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: At most ENVIRONMENTS invocations of one function at once, as Lambda runs one per execution environment
    #: and starts more under load: a reviewer's claim that long-polls the queues for 20 s must not hold up
    #: another reviewer's decision. (The environments share this process's modules, as every function here does.)
    locks: dict[str, threading.Semaphore] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        """The emulated AWS endpoint."""
        return f"http://127.0.0.1:{self.moto_port}"

    def start(self) -> Stack:
        """Translate the template (as SAM does; refused, naming it, if the local stack cannot run it as deployed),
        start moto, create the template's resources, point this process's AWS clients at them."""
        started = time.perf_counter()
        try:
            source = load(self.template_path)
        except (OSError, yaml.YAMLError) as error:
            where = self.template_path
            raise CannotEmulate(f"cannot read the template {where} (kanal dev --template names it): {error}") from None
        translated = translate(source, region=REGION)
        describe(translated, REGION)  # what names nothing it knows is refused before anything starts
        self.timings["translate_s"] = time.perf_counter() - started

        started = time.perf_counter()
        self.server = moto_server("127.0.0.1", self.moto_port)
        self.moto_port = int(self.server.server_port)
        self.thread = threading.Thread(target=self.server.serve_forever, name="moto", daemon=True)
        self.thread.start()
        self.timings["moto_start_s"] = time.perf_counter() - started

        started = time.perf_counter()
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "true",
            }
        )
        os.environ.pop("AWS_PROFILE", None)
        import boto3

        session: Any = boto3.session.Session(region_name=REGION)
        endpoint = self.endpoint
        self.stack = create_stack(lambda service: session.client(service, endpoint_url=endpoint), REGION, translated)
        for function in self.stack.functions.values():
            os.environ.update(function.environment)
        os.environ.update(self.overrides)
        os.environ["KANAL_TABLE_NAME"] = os.environ.get("TABLE_NAME", "")
        # The partners' default usage plan, as the CLI reads it from a deployed stack's outputs: `kanal partners`
        # gives each partner its key in it, and the local gateway finds each key's plan on moto.
        usage_plan = self.stack.template.get("Outputs", {}).get("UsagePlanId")
        if usage_plan is not None:
            os.environ["KANAL_USAGE_PLAN_ID"] = str(self.stack.resolve(usage_plan["Value"]))
        self.timings["resources_s"] = time.perf_counter() - started

        started = time.perf_counter()
        # Routes that publish no metric make Powertools warn at every request; on a console that is noise.
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        from kanal import wiring
        from kanal.adapters import aws

        wiring.reset()
        aws.reset()
        root = self.template_path.parent
        self.handlers = {name: load_handler(root, f) for name, f in self.stack.functions.items()}
        self.locks = {name: threading.BoundedSemaphore(ENVIRONMENTS) for name in self.handlers}
        self.timings["handlers_s"] = time.perf_counter() - started
        return self.stack

    def invoke(self, logical_id: str, event: dict[str, Any]) -> Any:
        """Run a function's handler on an event, as Lambda would."""
        assert self.stack is not None
        function = self.stack.functions[logical_id]
        context = LambdaContext(function_name=str(self.stack.refs[logical_id]), timeout_seconds=function.timeout)
        from kanal import wiring

        with self.locks[logical_id], wiring.function_environment(function.environment):
            return self.handlers[logical_id](event, context)

    def stop(self) -> None:
        """Stop moto's server."""
        if self.server is not None:
            if self.thread is not None:
                self.server.shutdown()
                self.thread.join(timeout=5)
                self.thread = None
            self.server.server_close()
            self.server = None


def moto_server(host: str, port: int = 0) -> Any:
    """moto's server, not yet serving (``serve_forever``): the WSGI app ``moto.server`` serves, answering DynamoDB
    one request at a time, on werkzeug's threaded server with moto's request handler, which logs nothing here
    (the gateway logs the requests that matter). Port 0: any free port (``server_port`` says which)."""
    # What moto.server imports (and serves with) too; it re-exports only ThreadedMotoServer explicitly.
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    class QuietMoto(MotoRequestHandler):
        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            return None

    from kanal_local.post_policy import enforcing

    # S3's checks of presigned POST uploads, which moto does not make; signed with this process's credentials.
    app = one_at_a_time(enforcing(DomainDispatcherApplication(create_backend_app), _credentials))
    return make_server(host, port, app, threaded=True, request_handler=QuietMoto)


def _credentials() -> dict[str, str]:
    """The access key and secret this process signs with (the local stack's own, set by ``Emulator.start``)."""
    key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
    return {key: secret} if key and secret else {}
