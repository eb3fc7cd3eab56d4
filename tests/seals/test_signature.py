"""libsodium checks the signatures that cryptography makes (docex/seals/signature.py)."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from docex.seals.signature import holds


def test_a_signature_made_by_cryptography_holds_and_nothing_else_does() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    data = "公文 seal".encode() * 40
    signature = key.sign(data)
    assert holds(public, signature, data)
    assert not holds(public, signature, data + b"x")
    assert not holds(public, bytes([signature[0] ^ 1]) + signature[1:], data)
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    assert not holds(other, signature, data)


def test_what_is_not_even_a_key_or_a_signature_does_not_hold() -> None:
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw()
    signature = key.sign(b"data")
    assert not holds(public[:31], signature, b"data")
    assert not holds(public, signature[:63], b"data")
    assert not holds(public, b"", b"data")
