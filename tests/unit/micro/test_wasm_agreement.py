"""MicroPython and CPython agree byte for byte: SenML batches encoded on the wasm interpreter
equal protocol.senml.encode_batch, and compiled drivers decode registers like drivers.sdk."""

from __future__ import annotations

import json
import math
import random
import struct
from typing import Any

from drivers.registry import load_driver
from edge.micro_compile import compile_driver
from protocol.core import cbor
from protocol.senml import Record, TelemetryBatch, encode_batch
from tests.unit.micro.wasm import run_script

_TRICKY = [0.0, -0.0, 0.1, 1 / 3, 22.4, -1e-300, 1e300, 5e-324, math.pi, 2.0**53 + 2]


def _random_batch(rng: random.Random, seq: int) -> tuple[str, list[tuple[str, int, Any, str]]]:
    boot_id = f"{rng.getrandbits(64):016x}"
    t0 = rng.randrange(1_600_000_000_000, 1_900_000_000_000)
    records: list[tuple[str, int, Any, str]] = []
    for index in range(rng.randrange(1, 60)):
        kind = rng.randrange(6)
        value: Any
        if kind == 0:
            value = rng.choice(_TRICKY)
        elif kind == 1:
            value = struct.unpack(">d", struct.pack(">Q", rng.getrandbits(62)))[0]
        elif kind == 2:
            value = rng.randrange(-(2**40), 2**40)
        elif kind == 3:
            value = rng.random() < 0.5
        elif kind == 4:
            value = rng.choice(["ok", "fault", "", "\u6e29\u5ea6"])
        else:
            value = rng.uniform(-500, 500)
        ms = t0 + rng.randrange(0, 600_000) if index else t0
        records.append((f"dev{index % 3}/ch_{index}", ms, value, rng.choice(["", "V", "Cel"])))
    return boot_id, records


def _as_micropython_literal(value: Any) -> str:
    # MicroPython's float parser is not correctly rounded: send floats as their bits.
    if type(value) is float:
        return f"f(0x{struct.unpack('>Q', struct.pack('>d', value))[0]:016x})"
    return repr(value)


def _cpython_bytes(boot_id: str, seq: int, records: list[tuple[str, int, Any, str]]) -> bytes:
    out = []
    for name, ms, value, unit in records:
        kind = type(value)
        fields: dict[str, Any] = (
            {"bool_value": value}
            if kind is bool
            else {"string_value": value}
            if kind is str
            else {"value": float(value)}
        )
        out.append(Record(name=name, time=ms / 1000, unit=unit or None, **fields))
    return encode_batch(TelemetryBatch(boot_id=boot_id, seq=seq, records=tuple(out)))


def test_micropython_encodes_the_same_bytes_as_cpython() -> None:
    rng = random.Random(8032)
    batches = [(seq, *_random_batch(rng, seq)) for seq in range(40)]
    lines = [
        "import struct",
        "from protocol.core.senml_pack import encode_batch",
        "def f(bits):",
        "    return struct.unpack('>d', bits.to_bytes(8, 'big'))[0]",
        "BATCHES = [",
    ]
    for seq, boot_id, records in batches:
        items = ", ".join(
            f"({n!r}, {ms}, {_as_micropython_literal(v)}, {u!r})" for n, ms, v, u in records
        )
        lines.append(f"    ({boot_id!r}, {seq}, [{items}]),")
    lines += [
        "]",
        "for boot_id, seq, records in BATCHES:",
        "    print(encode_batch(boot_id, seq, records, True).hex())",
    ]
    produced = run_script("\n".join(lines)).split()
    assert len(produced) == len(batches)
    for (seq, boot_id, records), hex_bytes in zip(batches, produced, strict=True):
        assert bytes.fromhex(hex_bytes) == _cpython_bytes(boot_id, seq, records), seq


def _cpython_values(driver_name: str, read: list[Any], data: bytes) -> list[Any]:
    driver = load_driver(driver_name)
    names = [field[0] for field in read[3]]
    register_type = driver.channel(names[0]).register_type
    decoder = driver.compile_block(register_type, read[1], read[2], names)
    return decoder.decode(data)


def test_compiled_drivers_decode_like_the_driver_sdk() -> None:
    rng = random.Random(485)
    cases = []
    for name in ("eastron_sdm120", "rs485_env"):
        document = compile_driver(load_driver(name))
        for read in document["reads"]:
            for _ in range(25):
                data = bytes(rng.getrandbits(8) for _ in range(read[2] * 2))
                cases.append((name, read, data))
    payload = cbor.dumps([[read[3], data] for _, read, data in cases]).hex()
    script = "\n".join(
        [
            "import json, struct",
            "from edge.micro.registers import decode_block",
            "from protocol.core import cbor",
            f"CASES = cbor.loads(bytes.fromhex({payload!r}))",
            "for fields, data in CASES:",
            "    out = []",
            "    for _, value, _ in decode_block(fields, data):",
            "        if type(value) is float:",
            "            value = 'f' + struct.pack('>d', value).hex()",
            "        out.append(value)",
            "    print(json.dumps(out))",
        ]
    )
    produced = run_script(script).splitlines()
    assert len(produced) == len(cases)
    for (name, read, data), line in zip(cases, produced, strict=True):
        expected = [
            "f" + struct.pack(">d", v).hex() if type(v) is float else v
            for v in _cpython_values(name, read, data)
        ]
        assert json.loads(line) == expected, (name, read[1], data.hex())
