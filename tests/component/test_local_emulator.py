"""The local stack's emulator on sockets of this process: moto served from its public pieces, quietly, and the
gateway's server queueing many connections."""

from __future__ import annotations

import threading

import boto3
import pytest
from kanal_local.emulator import moto_server
from kanal_local.gateway import make_server


@pytest.mark.timeout(60)  # a hang guard: the requests take milliseconds
def test_moto_is_served_from_its_public_pieces_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    """moto's WSGI app on werkzeug's server with moto's handler (no private attribute of a moto server reached
    into): it answers, DynamoDB through the one-at-a-time wrapper, and logs no request."""
    server = moto_server("127.0.0.1")
    assert server.app.__qualname__.startswith("one_at_a_time.")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_port}"
        session = boto3.session.Session(region_name="ap-southeast-3")
        assert "TableNames" in session.client("dynamodb", endpoint_url=endpoint).list_tables()
        assert session.client("sqs", endpoint_url=endpoint).list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
    finally:
        server.shutdown()
        server.server_close()
        thread.join(30)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")


def test_the_gateway_queues_many_connections() -> None:
    server = make_server(None, lambda *_: None, "127.0.0.1", 0, print)  # type: ignore[arg-type]
    try:
        assert server.request_queue_size >= 128
    finally:
        server.server_close()
