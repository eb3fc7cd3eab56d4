"""Whether an Ed25519 signature holds, checked with libsodium (PyNaCl).

The router checks the sender's seal on every document it accepts, and a person's signature on
every command a registered person sends. libsodium verifies one in about 55 µs on the 2-core
machines here, where OpenSSL through cryptography took about 110 µs: 15 % of the router's CPU
per document in bulk (bench/README.md). cryptography still does everything else (X.509, the CA
chain, keys at rest, signing). Both follow RFC 8032, so what an honest key signed holds in
both; libsodium also refuses small-order keys and non-canonical points, which no seal or
credential made here has.
"""

from __future__ import annotations

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey


def holds(public_key: bytes, signature: bytes, data: bytes) -> bool:
    """`public_key`: the 32 raw bytes; False for a signature or key that is not even well-formed."""
    try:
        VerifyKey(public_key).verify(data, signature)
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True
