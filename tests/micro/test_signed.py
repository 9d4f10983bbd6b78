"""Ed25519 verification (RFC 8032 vectors), SHA-512, and the signed config envelope."""

from protocol.core import cbor, ed25519, sha512
from protocol.core.signed import (
    CONTEXT,
    SignatureError,
    encode_doc,
    encode_envelope,
    open_envelope,
)
from tests.micro.ed25519_sign import public_key, sign
from tests.micro.support import raises

# RFC 8032 section 7.1, TEST 1-3: (secret, public, message, signature).
VECTORS = [
    (
        "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        "",
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
        "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    ),
    (
        "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
        "72",
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e"
        "458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
    ),
    (
        "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
        "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
        "af82",
        "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290"
        "ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
    ),
]
SECRET = bytes.fromhex(VECTORS[0][0])
KID = "fleet-2025"


def test_sha512_known_answers() -> None:
    assert sha512.pure_digest(b"abc").hex() == (
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    )
    message = bytes(range(256)) * 3  # several blocks, padding across a block boundary
    assert sha512.pure_digest(message) == sha512.digest(message)
    assert len(sha512.pure_digest(b"x" * 111)) == 64
    assert len(sha512.pure_digest(b"x" * 112)) == 64


def test_rfc8032_vectors_verify() -> None:
    for _, public, message, signature in VECTORS:
        assert ed25519.verify(
            bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
        )


def test_rfc8032_vectors_sign_and_derive_the_key() -> None:
    _, public, message, signature = VECTORS[1]
    secret = bytes.fromhex(VECTORS[1][0])
    assert public_key(secret).hex() == public
    assert sign(secret, bytes.fromhex(message)).hex() == signature


def test_tampering_fails_verification() -> None:
    _, public, message, signature = VECTORS[2]
    key, sig = bytes.fromhex(public), bytes.fromhex(signature)
    assert not ed25519.verify(key, b"\xaf\x83", sig)
    assert not ed25519.verify(key, bytes.fromhex(message), sig[:63] + bytes((sig[63] ^ 1,)))
    # S + L is the same point but not canonical: refused (no malleability).
    s = int.from_bytes(sig[32:], "little") + ed25519.L
    assert not ed25519.verify(key, bytes.fromhex(message), sig[:32] + s.to_bytes(32, "little"))
    assert not ed25519.verify(key[:31], bytes.fromhex(message), sig)
    assert not ed25519.verify(b"\xff" * 32, bytes.fromhex(message), sig)  # y >= p


def _envelope(version: int, rollback: bool = False, secret: bytes = SECRET) -> bytes:
    doc = encode_doc(version, {"batch": {"max": 10}}, 1700000000.0, rollback)
    return encode_envelope(doc, KID, lambda data: sign(secret, data))


def test_envelope_opens_with_the_trusted_key() -> None:
    keys = {KID: public_key(SECRET)}
    doc = open_envelope(_envelope(3), keys)
    assert doc["version"] == 3
    assert doc["config"] == {"batch": {"max": 10}}
    assert doc["rollback"] is False
    assert doc["issued_at"] == 1700000000.0


def test_envelope_is_refused_without_trust_root_or_with_another_key() -> None:
    envelope = _envelope(3)
    assert "trust root" in str(raises(SignatureError, open_envelope, envelope, {}))
    other = {KID: public_key(bytes.fromhex(VECTORS[1][0]))}
    assert "bad signature" in str(raises(SignatureError, open_envelope, envelope, other))
    assert "unknown key" in str(raises(SignatureError, open_envelope, envelope, {"x": b"1" * 32}))


def test_signature_covers_the_context_string() -> None:
    doc = encode_doc(1, {}, 0.0, False)
    plain = cbor.dumps({"v": 1, "kid": KID, "doc": doc, "sig": sign(SECRET, doc)})
    raises(SignatureError, open_envelope, plain, {KID: public_key(SECRET)})
    assert CONTEXT == b"polekit-config-v1\x00"


def test_malformed_envelopes_are_refused() -> None:
    keys = {KID: public_key(SECRET)}
    for bad in (b"", b"\xff", cbor.dumps([1]), cbor.dumps({"v": 2}), cbor.dumps({"v": 1})):
        raises(SignatureError, open_envelope, bad, keys)
    doc = cbor.dumps({"version": "7", "config": {}, "issued_at": 0.0, "rollback": False})
    envelope = encode_envelope(doc, KID, lambda data: sign(SECRET, data))
    assert "version" in str(raises(SignatureError, open_envelope, envelope, keys))
