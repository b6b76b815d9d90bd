"""Binary context ids (recorder `*_bin` columns) to the 26-character ULID text HA uses."""

from __future__ import annotations

import base64

_STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_TABLE = str.maketrans(_STD, _CROCKFORD)


def bytes_to_ulid(value: bytes | None) -> str | None:
    """Encode 16 bytes as a ULID string (Crockford base32, 26 chars); None stays None.

    Shifting the 128-bit value left by 30 bits fills 160 bits, so the C-level base32 encoder
    yields the 130-bit ULID field in its first 26 characters without a Python loop.
    """
    if value is None or len(value) != 16:
        return None
    wide = (int.from_bytes(value, "big") << 30).to_bytes(20, "big")
    return base64.b32encode(wide)[:26].decode("ascii").translate(_TABLE)


def ulid_to_bytes(value: str) -> bytes:
    """Inverse of bytes_to_ulid (used by tests and fixtures)."""
    number = 0
    for char in value.upper():
        number = number * 32 + _CROCKFORD.index(char)
    return number.to_bytes(16, "big")
