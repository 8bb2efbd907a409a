"""Webhook secrets sealed with KMS: encrypted under the stack's key, bound to their webhook by the encryption
context (a sealed secret copied onto another webhook does not open), opened only by the delivery function."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


class KmsBox:
    """SecretBox on KMS. Opened secrets are kept for the life of the process (a delivery function's container):
    one Decrypt per secret and container, not per delivery."""

    def __init__(self, client: KMSClient, key_id: str) -> None:
        self._client = client
        self._key_id = key_id
        self._opened: dict[tuple[str, tuple[tuple[str, str], ...]], str] = {}

    def seal(self, secret: str, context: Mapping[str, str]) -> str:
        answer = self._client.encrypt(KeyId=self._key_id, Plaintext=secret.encode(), EncryptionContext=dict(context))
        return base64.b64encode(answer["CiphertextBlob"]).decode()

    def open(self, sealed: str, context: Mapping[str, str]) -> str:
        key = (sealed, tuple(sorted(context.items())))
        if key not in self._opened:
            answer = self._client.decrypt(
                KeyId=self._key_id, CiphertextBlob=base64.b64decode(sealed), EncryptionContext=dict(context)
            )
            self._opened[key] = answer["Plaintext"].decode()
        return self._opened[key]
