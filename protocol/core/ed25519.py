"""Ed25519 signature verification (RFC 8032 section 5.1.7), pure Python, verify only.

Runs on MicroPython (big ints, 3-argument pow) to check signed config documents. Not
constant time, which verification with public inputs does not need. Strict: S must be
below L, the key must decode canonically, and R is compared as the canonical encoding.
"""

from protocol.core.f64 import bit_length
from protocol.core.sha512 import digest

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
_SQRT_M1 = pow(2, (P - 1) // 4, P)
_BASE_Y = 4 * pow(5, P - 2, P) % P


def _recover_x(y: int, sign: int) -> "int | None":
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * _SQRT_M1 % P
    if (x * x - x2) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def decode_point(raw: bytes) -> "tuple[int, int, int, int] | None":
    """Extended coordinates of a 32-byte point encoding, or None if it is not one."""
    if len(raw) != 32:
        return None
    y = int.from_bytes(raw, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return x, y, 1, x * y % P


def encode_point(point: "tuple[int, int, int, int]") -> bytes:
    """The 32-byte canonical encoding of a point."""
    x, y, z, _ = point
    z_inv = pow(z, P - 2, P)
    x = x * z_inv % P
    y = y * z_inv % P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _add(
    p: "tuple[int, int, int, int]", q: "tuple[int, int, int, int]"
) -> "tuple[int, int, int, int]":
    x1, y1, z1, t1 = p
    x2, y2, z2, t2 = q
    a = (y1 - x1) * (y2 - x2) % P
    b = (y1 + x1) * (y2 + x2) % P
    c = 2 * D * t1 * t2 % P
    d = 2 * z1 * z2 % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % P, g * h % P, f * g % P, e * h % P


def _double(p: "tuple[int, int, int, int]") -> "tuple[int, int, int, int]":
    x1, y1, z1, _ = p
    a = x1 * x1 % P
    b = y1 * y1 % P
    c = 2 * z1 * z1 % P
    h = a + b
    s = x1 + y1
    e = h - s * s % P
    g = a - b
    f = c + g
    return e * f % P, g * h % P, f * g % P, e * h % P


BASE = (_recover_x(_BASE_Y, 0) or 0, _BASE_Y, 1, (_recover_x(_BASE_Y, 0) or 0) * _BASE_Y % P)


def _negate(p: "tuple[int, int, int, int]") -> "tuple[int, int, int, int]":
    x, y, z, t = p
    return (P - x) % P, y, z, (P - t) % P


def double_scalar_mult(
    s: int, k: int, a: "tuple[int, int, int, int]"
) -> "tuple[int, int, int, int]":
    """[s]B + [k]A in one pass of doublings (Straus-Shamir), the cost of one verification."""
    both = _add(BASE, a)
    table = (None, a, BASE, both)
    acc = (0, 1, 1, 0)
    for bit in range(max(bit_length(s), bit_length(k)) - 1, -1, -1):
        acc = _double(acc)
        index = ((s >> bit) & 1) << 1 | ((k >> bit) & 1)
        if index:
            step = table[index]
            assert step is not None
            acc = _add(acc, step)
    return acc


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True if signature is a valid Ed25519 signature of message by public_key."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = decode_point(bytes(public_key))
    if a is None:
        return False
    r_raw = bytes(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    k = int.from_bytes(digest(r_raw + bytes(public_key) + bytes(message)), "little") % L
    # [S]B - [k]A must be R: compare encodings, which also rejects a non-canonical R.
    return encode_point(double_scalar_mult(s, k, _negate(a))) == r_raw
