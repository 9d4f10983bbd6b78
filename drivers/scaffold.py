"""`polekit driver new`: a driver folder an integrator edits instead of starting from nothing.

A Modbus driver is driver.yaml and one golden case; a serial-protocol driver adds
protocol.py with a small framed request/response protocol to rewrite. Both pass
`polekit driver test` as generated, so the integrator changes one thing at a time.
"""

from __future__ import annotations

from pathlib import Path

from drivers.sdk.errors import DriverError
from drivers.sdk.manifest import DriverName

MODBUS_MANIFEST = """\
# {name}: describe the device here (vendor, model, where the register map comes from).
# Addresses are protocol addresses: the datasheet's 40001 (or 30001) is address 0.
name: {name}
vendor: ACME
model: Model X
category: environment
description: What the device measures, in one line.
datasheet: https://example.com/datasheet.pdf
buses: [modbus_rtu]
serial: {{baud: 9600, parity: N, stopbits: 1, bytesize: 8}}
defaults: {{register_type: holding, data_type: u16, order: ABCD}}
channels:
  - name: temperature
    address: 0x0000
    data_type: i16
    scale: 0.1
    unit: Cel
    range: [-40, 80]
    sim: {{script: noise, value: 21.5, amplitude: 0.5}}
  - name: humidity
    address: 0x0001
    scale: 0.1
    unit: "%RH"
    range: [0, 100]
    sim: {{script: noise, value: 55, amplitude: 3, low: 0, high: 100}}
"""

MODBUS_REGISTERS = """\
# Raw registers as the device holds them (a capture from the real device is best).
holding:
  0x0000: 0x00D7  # temperature 215 -> 21.5 Cel
  0x0001: 0x0226  # humidity 550 -> 55.0 %RH
"""

MODBUS_EXPECTED = """\
requests: 1
readings:
  temperature: {value: 21.5, unit: Cel}
  humidity: {value: 55.0, unit: "%RH"}
"""

SERIAL_MANIFEST = """\
# {name}: a device with its own serial protocol; protocol.py frames and decodes it.
name: {name}
vendor: ACME
model: Model S
category: environment
description: What the device measures, in one line.
buses: [serial]
protocol: protocol:Protocol
serial: {{baud: 9600, parity: N, stopbits: 1, bytesize: 8}}
channels:
  - name: temperature
    unit: Cel
    range: [-40, 80]
    sim: {{script: noise, value: 21.5, amplitude: 0.5}}
  - name: humidity
    unit: "%RH"
    range: [0, 100]
    sim: {{script: noise, value: 55, amplitude: 3, low: 0, high: 100}}
"""

SERIAL_PROTOCOL = '''\
"""{name}: request AA <unit> 01 <sum8>; answer AA <unit> 04 <t:i16 x0.1> <rh:u16 x0.1> <sum8>.

Replace the format and the two methods with what the datasheet says; keep decode raising
DecodeError (the SDK's error for bad data) for anything malformed.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping

from drivers.sdk.errors import DecodeError
from drivers.sdk.framing import FrameFormat, FrameReader, LengthField
from drivers.sdk.serial import SerialProtocol, Value

# start byte, unit, payload length, payload, checksum: total = length + 4
FORMAT = FrameFormat(
    start=b"\\xaa", length=LengthField(offset=2, adjust=4), checksum="sum8", max_size=64
)


class Protocol(SerialProtocol):
    """Asked for each reading (poll mode)."""

    mode = "poll"

    def framer(self) -> FrameReader:
        """Answers start with AA and end with a byte sum."""
        return FrameReader(FORMAT)

    def request(self, unit: int) -> bytes:
        """Ask the device at unit for a reading."""
        return FORMAT.seal(bytes([0xAA, unit, 1, 0x01]))

    def decode(self, frame: bytes) -> dict[str, Value]:
        """Temperature and humidity of one answer."""
        FORMAT.check(frame)
        if frame[2] != 4:
            raise DecodeError(f"expected 4 payload bytes, got {{frame[2]}}")
        temperature, humidity = struct.unpack_from(">hH", frame, 3)
        return {{"temperature": temperature / 10, "humidity": humidity / 10}}

    # The simulator's side: the same class answers for the simulated device.

    def request_framer(self) -> FrameReader:
        """Requests use the same framing."""
        return FrameReader(FORMAT)

    def encode(self, values: Mapping[str, Value], *, unit: int) -> list[bytes]:
        """The answer a device holding values sends."""
        payload = struct.pack(
            ">hH", round(float(values["temperature"]) * 10), round(float(values["humidity"]) * 10)
        )
        return [FORMAT.seal(bytes([0xAA, unit, len(payload)]) + payload)]
'''

SERIAL_FRAMES = """\
# The device's answer: AA, unit 7, 4 payload bytes, 21.5 Cel, 55.0 %RH, sum8.
frames:
  - {answer}
"""

SERIAL_EXPECTED = """\
readings:
  temperature: {value: 21.5, unit: Cel}
  humidity: {value: 55.0, unit: "%RH"}
"""


def _serial_answer() -> str:
    body = bytes([0xAA, 7, 4, 0x00, 0xD7, 0x02, 0x26])
    return (body + bytes([sum(body) & 0xFF])).hex(" ")


def scaffold(name: str, *, into: Path, serial: bool) -> Path:
    """Create into/NAME with a manifest, (protocol.py,) and cases/nominal; returns the folder."""
    import msgspec  # the name check is the manifest's own

    try:
        msgspec.convert(name, DriverName)
    except msgspec.ValidationError:
        raise DriverError(
            f"{name!r} is not a driver name: lower case letters, digits and _, from a letter"
        ) from None
    folder = into / name
    if folder.exists():
        raise DriverError(f"{folder} already exists")
    case = folder / "cases" / "nominal"
    case.mkdir(parents=True)
    if serial:
        (folder / "driver.yaml").write_text(SERIAL_MANIFEST.format(name=name))
        (folder / "protocol.py").write_text(SERIAL_PROTOCOL.format(name=name))
        (case / "frames.yaml").write_text(SERIAL_FRAMES.format(answer=_serial_answer()))
        (case / "expected.yaml").write_text(SERIAL_EXPECTED)
    else:
        (folder / "driver.yaml").write_text(MODBUS_MANIFEST.format(name=name))
        (case / "registers.yaml").write_text(MODBUS_REGISTERS)
        (case / "expected.yaml").write_text(MODBUS_EXPECTED)
    return folder
