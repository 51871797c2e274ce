"""Standard Webhooks signatures (symmetric ``v1``): sign a body, verify a delivery. Pure.

The scheme (https://www.standardwebhooks.com, spec 1.0.0): the sender signs
``"{webhook-id}.{webhook-timestamp}.{body}"`` with HMAC-SHA256 and sends ``v1,<base64 digest>``
in the ``webhook-signature`` header, one entry per secret, space-separated, so a secret can be
rotated without downtime (sign with the old and the new one for a while; the receiver accepts
any match). ``webhook-timestamp`` is integer Unix seconds; receivers refuse timestamps more than
``tolerance`` (5 minutes) away from their clock, which blocks replays.

Secrets: ``whsec_<base64>`` (the spec's serialization, what the Standard Webhooks libraries and
Svix hand out) is base64-decoded to the key bytes; any other string is used as its UTF-8 bytes.
Use the ``whsec_`` form to interoperate with the Standard Webhooks libraries, which base64-decode
every secret.

Example (a receiver)::

    try:
        verify(["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], request.headers, raw_body,
               now=time.time())
    except SignatureError as exc:
        return 401, str(exc)

No message here ever contains a secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping, Sequence

from sloguard.errors import SloguardError

SECRET_PREFIX = "whsec_"
VERSION = "v1"
ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
#: Seconds a timestamp may be away from the receiver's clock (the spec's 5 minutes).
TOLERANCE = 300


class SignatureError(SloguardError, ValueError):
    """A webhook delivery whose headers or signature do not verify."""


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret``: base64-decoded after ``whsec_``, else its UTF-8 bytes."""
    if not secret:
        raise ValueError("a webhook signing secret must not be empty")
    if not secret.startswith(SECRET_PREFIX):
        return secret.encode()
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        # tolerate missing padding, like the reference implementation
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a whsec_ signing secret must be base64 after the prefix") from None
    if not key:
        raise ValueError("a webhook signing secret must not be empty")
    return key


def _digest(key: bytes, msg_id: str, timestamp: int, body: bytes) -> bytes:
    signed = b".".join((msg_id.encode(), str(timestamp).encode(), body))
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "msg_id.timestamp.body">`` with ``secret``."""
    digest = _digest(secret_key(secret), msg_id, timestamp, body)
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    if not secrets:
        raise ValueError("signing needs at least one secret")
    return " ".join(sign(s, msg_id, timestamp, body) for s in secrets)


def webhook_headers(
    secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """``webhook-id``, ``webhook-timestamp`` and (with secrets) ``webhook-signature``."""
    out = {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp)}
    if secrets:
        out[SIGNATURE_HEADER] = signature_header(secrets, msg_id, timestamp, body)
    return out


def verify(
    secrets: Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float,
    tolerance: float = TOLERANCE,
) -> None:
    """Return if one ``v1`` signature in ``headers`` matches ``body`` under one of ``secrets``
    and the timestamp is within ``tolerance`` seconds of ``now``; raise :class:`SignatureError`
    saying what is wrong otherwise. Header names are matched case-insensitively."""
    if not secrets:
        raise ValueError("verifying needs at least one secret")
    keys = [secret_key(s) for s in secrets]
    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in (ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER) if not lower.get(h)]
    if missing:
        raise SignatureError(f"missing header(s): {', '.join(missing)}")
    msg_id, raw_ts, raw_sigs = lower[ID_HEADER], lower[TIMESTAMP_HEADER], lower[SIGNATURE_HEADER]
    try:
        timestamp = int(raw_ts.strip())
    except ValueError:
        raise SignatureError(
            f"{TIMESTAMP_HEADER} is not integer seconds: {raw_ts[:40]!r}"
        ) from None
    skew = now - timestamp
    if skew > tolerance:
        raise SignatureError(f"timestamp too old: {skew:.0f}s ago (tolerance {tolerance:g}s)")
    if -skew > tolerance:
        raise SignatureError(f"timestamp too new: {-skew:.0f}s ahead (tolerance {tolerance:g}s)")
    given: list[bytes] = []
    for entry in raw_sigs.split():
        version, _, encoded = entry.partition(",")
        if version != VERSION:
            continue  # other schemes (v1a: ed25519) are not ours to check
        try:
            given.append(base64.b64decode(encoded, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not given:
        raise SignatureError(f"no {VERSION} signature in {SIGNATURE_HEADER}")
    for key in keys:
        expected = _digest(key, msg_id, timestamp, body)
        if any(hmac.compare_digest(expected, sig) for sig in given):
            return
    raise SignatureError(
        f"no signature matches: {len(given)} {VERSION} signature(s) checked against "
        f"{len(keys)} secret(s)"
    )
