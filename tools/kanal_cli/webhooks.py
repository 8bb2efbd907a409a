"""``kanal webhooks listen``: a partner developer's receiver on the local stack, as ``stripe listen`` is for
Stripe's integrators.

It serves on 127.0.0.1, registers a temporary webhook pointing at itself with the partner's key, verifies each
delivery's signature with the ``standardwebhooks`` library (as a partner's own receiver would), prints one line
per event (or forwards it, headers and all, to ``--forward-to`` and answers what that answered), and removes the
webhook when it stops (Ctrl-C).
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from kanal import terminal
from kanal.errors import KanalError

from kanal_cli import arguments

#: Read at most this much of a delivery (kanal's events are a few KB).
MAX_BODY = 1 << 20
Print = Callable[[str], None]


class ListenFailed(KanalError):
    """The webhook could not be registered (the message says why, as the API did)."""


def _forward(target: str, body: bytes, headers: dict[str, str]) -> int:
    from botocore.awsrequest import AWSRequest
    from botocore.httpsession import URLLib3Session

    answer = URLLib3Session(timeout=10).send(AWSRequest("POST", target, data=body, headers=headers).prepare())
    return int(answer.status_code)


def summary(event: dict[str, Any]) -> str:
    """One line about an event: its time, type, id and what it is about."""
    data = event.get("data") or {}
    about = [f"{k}={data[k]}" for k in ("report_id", "case_id", "outcome", "kind") if data.get(k)]
    if data.get("report_ids"):
        about.insert(0, "reports=" + ",".join(map(str, data["report_ids"])))
    kind = str(event.get("type", "?"))
    return terminal.line(f"{event.get('created_at', '')}  {kind:<22} {event.get('id', '')}  {' '.join(about)}")


def receiver(secret: Callable[[], str], show: Print, forward_to: str | None) -> type[BaseHTTPRequestHandler]:
    """A request handler that verifies, shows and (optionally) forwards each delivery."""
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                self._answer(413)
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                event = Webhook(secret()).verify(body, headers)
            except (WebhookVerificationError, ValueError) as error:
                show(terminal.line(f"✗ delivery {headers.get('webhook-id', '?')} refused: {error}"))
                self._answer(400)
                return
            show(summary(event))
            status = 204
            if forward_to:
                try:
                    kept = {k: v for k, v in headers.items() if k.startswith(("webhook-", "content-type"))}
                    status = _forward(forward_to, body, kept)
                except Exception as error:  # the forward target is the developer's own server: say why, answer 502
                    show(terminal.line(f"  forward to {forward_to} failed: {type(error).__name__}"))
                    status = 502
                else:
                    show(f"  forwarded: {status}")
            self._answer(status)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:  # one line per event is printed instead
            pass

    return Receiver


def listen(
    args: argparse.Namespace,
    show: Print = print,
    ready: threading.Event | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Serve, register, print until interrupted (or ``stop`` is set), remove the webhook."""
    from kanal_cli.partner_client import credentials
    from kanal_cli.review_client import http_send

    api_url, key = credentials(args)
    secret: list[str] = []
    server = ThreadingHTTPServer(("127.0.0.1", args.port), receiver(lambda: secret[0], show, args.forward_to))
    port = server.server_address[1]
    send = http_send(api_url, lambda method, url, body, present: {"Authorization": f"Bearer {key}"})
    body: dict[str, Any] = {"url": f"http://127.0.0.1:{port}/"}
    if args.events:
        body["events"] = args.events
    status, made = send("POST", "/v1/webhooks", body)
    if status != 201:
        server.server_close()
        detail = (made or {}).get("detail") if isinstance(made, dict) else None
        raise ListenFailed(f"the API refused the webhook ({status}): {detail or made}")
    secret.append(made["secret"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    show(terminal.line(f"Listening on http://127.0.0.1:{port}/ as webhook {made['webhook_id']} ({api_url})."))
    show("Every delivery's signature is checked with the standardwebhooks library. Ctrl-C stops and removes it.")
    if ready is not None:
        ready.set()
    try:
        while thread.is_alive():
            thread.join(timeout=0.5)  # wakes the main thread, where Ctrl-C arrives
            if stop is not None and stop.is_set():
                break
    finally:
        server.shutdown()
        server.server_close()
        removed, _ = send("DELETE", f"/v1/webhooks/{made['webhook_id']}", None)
        show(f"Webhook {made['webhook_id']} removed." if removed == 204 else f"Webhook not removed ({removed}).")


def add_commands(commands: Any) -> None:
    """``kanal webhooks listen``."""
    webhooks = commands.add_parser("webhooks", help="webhooks, for partners' developers")
    actions = webhooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    listening = actions.add_parser(
        "listen", help="receive your events here (local stack): verify each delivery and print it, or forward it"
    )
    listening.add_argument("--api-url", type=arguments.text(2048, lines=False), help="the partner API ($KANAL_API_URL)")
    listening.add_argument("--api-key", help="your partner API key ($KANAL_API_KEY)")
    listening.add_argument("--partner", help="on the local stack: the demo partner whose key to use (default: first)")
    listening.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 to receive on (default: any free)")
    listening.add_argument("--forward-to", type=_local_url, help="forward each verified delivery to this URL")
    listening.add_argument("--events", nargs="+", metavar="TYPE", help="only these event types (default: all)")
    listening.set_defaults(func=lambda args: listen(args, lambda text: print(text, flush=True)))


def _local_url(value: str) -> str:
    if urlsplit(value).scheme not in ("http", "https"):
        raise argparse.ArgumentTypeError("--forward-to must be an http(s) URL")
    return value


__all__ = ["add_commands", "listen", "summary"]
