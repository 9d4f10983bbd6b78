"""Exact IEEE 754 binary64 from integers, for interpreters whose float is single precision.

MicroPython on the ESP32 computes in float32, which cannot even hold a Unix time to the
minute. The micro agent keeps times as integer milliseconds and builds the float64 bits
CPython would produce (`ms / 1000`, `a - b`, `float(n)`) with integer arithmetic only, so
both interpreters put the same bytes on the wire.
"""

_HIDDEN = 1 << 52
_LIMIT = 1 << 53


def bit_length(n: int) -> int:
    """Bits of a non-negative int (MicroPython's int has no bit_length)."""
    bits = 0
    while n >= 0x10000:
        n >>= 16
        bits += 16
    while n:
        n >>= 1
        bits += 1
    return bits


def bits_of_ratio(num: int, den: int) -> int:
    """The binary64 bit pattern of num/den, correctly rounded (ties to even), den > 0."""
    if den <= 0:
        raise ValueError("the denominator must be positive")
    sign = 0
    if num < 0:
        sign = 1 << 63
        num = -num
    if num == 0:
        return sign
    shift = bit_length(num) - bit_length(den) - 53
    while True:
        if shift >= 0:
            divisor = den << shift
            quotient, remainder = divmod(num, divisor)
        else:
            divisor = den
            quotient, remainder = divmod(num << -shift, den)
        if quotient >= _LIMIT:
            shift += 1
        elif quotient < _HIDDEN:
            shift -= 1
        else:
            break
    twice = remainder * 2
    if twice > divisor or (twice == divisor and quotient & 1):
        quotient += 1
        if quotient == _LIMIT:
            quotient >>= 1
            shift += 1
    biased = shift + 52 + 1023
    if not 0 < biased < 2047:
        raise ValueError("outside the normal float64 range")
    return sign | biased << 52 | (quotient - _HIDDEN)


def ratio_of_bits(bits: int) -> "tuple[int, int]":
    """The exact value of a finite normal (or zero) binary64 as (numerator, 2**k denominator)."""
    biased = (bits >> 52) & 0x7FF
    if biased == 0x7FF:
        raise ValueError("not a finite float64")
    fraction = bits & (_HIDDEN - 1)
    mantissa = fraction | _HIDDEN if biased else fraction
    exponent = (biased or 1) - 1075
    if bits >> 63:
        mantissa = -mantissa
    if exponent >= 0:
        return mantissa << exponent, 1
    return mantissa, 1 << -exponent


def bits_of_difference(a_bits: int, b_bits: int) -> int:
    """The bits of a - b for two float64 bit patterns, rounded as IEEE subtraction is."""
    a_num, a_den = ratio_of_bits(a_bits)
    b_num, b_den = ratio_of_bits(b_bits)
    if a_num * b_den == b_num * a_den:
        return 0  # x - x is +0.0 in round-to-nearest
    return bits_of_ratio(a_num * b_den - b_num * a_den, a_den * b_den)


def pack(bits: int) -> bytes:
    """The 8 big-endian bytes of a bit pattern, as CBOR's float64 carries them."""
    return bits.to_bytes(8, "big")
