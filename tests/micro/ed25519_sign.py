"""Ed25519 signing (RFC 8032 5.1.6) for tests only: the fleet's signer is another issue.

Built on protocol.core.ed25519's point arithmetic; checked against the RFC's vectors.
"""

from protocol.core.ed25519 import BASE, L, double_scalar_mult, encode_point
from protocol.core.sha512 import digest


def _expand(secret: bytes) -> tuple[int, bytes]:
    h = digest(secret)
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def public_key(secret: bytes) -> bytes:
    """The 32-byte public key of a 32-byte secret."""
    a, _ = _expand(secret)
    return encode_point(double_scalar_mult(a, 0, BASE))


def sign(secret: bytes, message: bytes) -> bytes:
    """The 64-byte signature of message."""
    a, prefix = _expand(secret)
    public = encode_point(double_scalar_mult(a, 0, BASE))
    r = int.from_bytes(digest(prefix + message), "little") % L
    r_raw = encode_point(double_scalar_mult(r, 0, BASE))
    k = int.from_bytes(digest(r_raw + public + message), "little") % L
    return r_raw + ((r + k * a) % L).to_bytes(32, "little")
