"""Checksums serial sensors put at the end of a frame; each returns the checksum's wire bytes."""

from __future__ import annotations

from collections.abc import Callable

Checksum = Callable[[bytes], bytes]
"""Bytes covered -> the checksum as it appears on the wire."""


def _crc16_table(poly: int) -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC16_MODBUS = _crc16_table(0xA001)


def crc16_modbus_value(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF) as an integer."""
    crc = 0xFFFF
    table = _CRC16_MODBUS
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def crc16_modbus(data: bytes) -> bytes:
    """CRC-16/MODBUS, low byte first, as Modbus RTU sends it."""
    return crc16_modbus_value(data).to_bytes(2, "little")


def sum16_be(data: bytes) -> bytes:
    """Sum of all bytes modulo 65536, high byte first (Plantower PMSx003)."""
    return (sum(data) & 0xFFFF).to_bytes(2, "big")


def sum8(data: bytes) -> bytes:
    """Sum of all bytes modulo 256."""
    return bytes([sum(data) & 0xFF])


def sum8_complement(data: bytes) -> bytes:
    """Two's complement of the byte sum, so the sum over the whole frame is 0 (Winsen/Nova)."""
    return bytes([(-sum(data)) & 0xFF])


def xor8(data: bytes) -> bytes:
    """XOR of all bytes (NMEA 0183 sends it as two hex digits)."""
    value = 0
    for byte in data:
        value ^= byte
    return bytes([value])


CHECKSUMS: dict[str, tuple[Checksum, int]] = {
    "crc16_modbus": (crc16_modbus, 2),
    "sum16_be": (sum16_be, 2),
    "sum8": (sum8, 1),
    "sum8_complement": (sum8_complement, 1),
    "xor8": (xor8, 1),
}
"""By name, with the checksum's size in bytes: what a FrameFormat may use."""
