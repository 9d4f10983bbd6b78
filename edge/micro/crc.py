"""CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), table-driven: it runs per frame byte."""

_table: "list[int]" = []


def _build() -> None:
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        _table.append(crc)


def crc16(data: "bytes | bytearray | memoryview", crc: int = 0xFFFF) -> int:
    """The Modbus CRC of data; pass a previous result as `crc` to continue over more bytes."""
    if not _table:
        _build()
    table = _table
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc
