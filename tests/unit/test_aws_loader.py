"""The botocore loader the functions use: the same clients, without listing every service directory."""

from __future__ import annotations

import os
from typing import Any

import botocore.loaders
import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError
from kanal.adapters import loader


def directory_listings(install: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[int, Any]:
    """How many directories botocore lists to make a DynamoDB client, and the client (each with a loader of its
    own: the loaders the tests and kanal share have long since listed everything)."""
    monkeypatch.setattr(botocore.session, "create_loader", botocore.loaders.create_loader)
    loader.shared.cache_clear()
    session = botocore.session.get_session()
    if install:
        loader.install(session)
    listed = [0]
    real = os.listdir

    def counting(path: Any) -> list[str]:
        listed[0] += 1
        return real(path)

    monkeypatch.setattr(botocore.loaders.os, "listdir", counting)
    made = session.create_client(
        "dynamodb", region_name="ap-southeast-3", aws_access_key_id="x", aws_secret_access_key="y"
    )
    return listed[0], made


def test_a_client_without_the_scan_of_every_service(monkeypatch: pytest.MonkeyPatch) -> None:
    scanned, plain = directory_listings(install=False, monkeypatch=monkeypatch)
    looked, ours = directory_listings(install=True, monkeypatch=monkeypatch)
    assert scanned > 300  # botocore's own loader lists each of its ~400 service directories
    assert looked < 20
    assert ours.meta.service_model.operation_names == plain.meta.service_model.operation_names
    assert ours.meta.endpoint_url == plain.meta.endpoint_url


def test_sessions_share_one_loader_per_search_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """A session made again (kanal's are, after each change of environment) reuses the models already parsed."""
    first, second = botocore.session.get_session(), botocore.session.get_session()
    loader.install(first)
    loader.install(second)
    assert first.get_component("data_loader") is second.get_component("data_loader")
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    elsewhere = botocore.session.get_session()
    loader.install(elsewhere)
    assert elsewhere.get_component("data_loader") is not first.get_component("data_loader")


def test_service_names_answer_membership_and_listing() -> None:
    names = loader.ServiceNames(loader.NamedServiceLoader(), "service-2")
    assert "dynamodb" in names
    assert "sqs" in names
    assert "no-such-service" not in names
    assert 42 not in names
    assert {"dynamodb", "sns", "sqs"} <= set(names)


def test_an_unknown_service_is_refused_as_botocore_does() -> None:
    session = botocore.session.get_session()
    loader.install(session)
    with pytest.raises(UnknownServiceError, match="dynamodb"):
        session.create_client("no-such-service", region_name="ap-southeast-3")


def test_aws_data_path_is_honoured(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", str(tmp_path))
    session = botocore.session.get_session()
    loader.install(session)
    assert str(tmp_path) in session.get_component("data_loader").search_paths
