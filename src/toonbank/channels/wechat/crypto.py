"""WeChat Official Account signatures and safe-mode (AES) message encryption.

Signature: ``sha1(''.join(sorted([token, timestamp, nonce])))`` in hex (plain SHA-1, not HMAC);
in safe mode ``msg_signature`` adds the ``<Encrypt>`` text to the sorted list.

Safe mode ("安全模式"): ``EncodingAESKey`` is 43 base64 characters = a 32-byte AES-256 key; the
IV is the key's first 16 bytes; ciphertext = base64(AES-CBC(random 16 bytes + 4-byte big-endian
length + XML + AppID, PKCS#7-padded to a multiple of 32)). The AppID inside proves the message
is for this account.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from toonbank.kit.crypto import constant_time_equal

BLOCK = 32
"""WeChat pads to 32 bytes (PKCS#7 with a 32-byte block), not AES's 16."""


def signature(*parts: str) -> str:
    """``sha1`` hex of the sorted, concatenated parts (token, timestamp, nonce[, encrypt])."""
    joined = "".join(sorted(parts)).encode()
    return hashlib.sha1(joined).hexdigest()  # noqa: S324 - WeChat's protocol mandates SHA-1


def signature_matches(expected: str, *parts: str) -> bool:
    """Constant-time comparison of a received signature with the one computed over ``parts``."""
    return constant_time_equal(signature(*parts), expected.lower())


class CryptoError(ValueError):
    """A safe-mode message could not be decrypted (wrong key, corrupt data, other AppID)."""


class MessageCrypto:
    """Encrypts and decrypts safe-mode message bodies for one AppID."""

    def __init__(self, encoding_aes_key: str, app_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise CryptoError("encoding_aes_key must be the 43-character EncodingAESKey")
        try:
            self._key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error:
            raise CryptoError("encoding_aes_key is not valid base64") from None
        self._app_id = app_id.encode()

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def decrypt(self, encrypted: str) -> str:
        """The XML inside an ``<Encrypt>`` value (raises :class:`CryptoError`)."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except binascii.Error:
            raise CryptoError("Encrypt is not valid base64") from None
        if not data or len(data) % 16:
            raise CryptoError("Encrypt has an invalid length")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("invalid padding (wrong encoding_aes_key?)")
        content = plain[16:-pad]
        length = int.from_bytes(content[:4], "big")
        if len(content) < 4 + length:
            raise CryptoError("invalid message length")
        if not constant_time_equal(content[4 + length :], self._app_id):
            raise CryptoError("the message is for another AppID")
        try:
            return content[4 : 4 + length].decode("utf-8")
        except UnicodeDecodeError:
            raise CryptoError("decrypted message is not UTF-8") from None

    def encrypt(self, xml: str, random_prefix: bytes | None = None) -> str:
        """Encrypt a message as WeChat does (for passive replies and tests)."""
        prefix = random_prefix if random_prefix is not None else os.urandom(16)
        if len(prefix) != 16:
            raise ValueError("random_prefix must be 16 bytes")
        text = xml.encode("utf-8")
        data = prefix + len(text).to_bytes(4, "big") + text + self._app_id
        pad = BLOCK - len(data) % BLOCK
        data += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()
