"""SenML batch codec: golden bytes pin the wire format; round trips in every encoding."""

from __future__ import annotations

import pytest

from protocol.errors import ProtocolError
from protocol.senml import Record, TelemetryBatch, decode_batch, encode_batch

BATCH = TelemetryBatch(
    boot_id="0123456789abcdef",
    seq=7,
    records=(
        Record(name="meter/voltage", time=1700000000.0, value=230.5, unit="V"),
        Record(name="env/door", time=1700000001.5, bool_value=True),
        Record(name="env/status", time=1700000000.0, string_value="ok"),
    ),
)

# Pinned bytes: changing them is a wire-protocol change and needs a new topic version.
GOLDEN = {
    "cbor": (
        "83a622fb41d954fc40000000636269647030313233343536373839616263646566637365710700"
        "6d6d657465722f766f6c7461676501615602fb406cd00000000000a30068656e762f646f6f7206fb"
        "3ff800000000000004f5a2006a656e762f73746174757303626f6b"
    ),
    "msgpack": (
        "9386fdcb41d954fc40000000a3626964b030313233343536373839616263646566a37365710700ad"
        "6d657465722f766f6c7461676501a15602cb406cd000000000008300a8656e762f646f6f7206cb3f"
        "f800000000000004c38200aa656e762f73746174757303a26f6b"
    ),
    "json": (
        b'[{"bt":1700000000.0,"bid":"0123456789abcdef","seq":7,"n":"meter/voltage","u":"V",'
        b'"v":230.5},{"n":"env/door","t":1.5,"vb":true},{"n":"env/status","vs":"ok"}]'
    ).hex(),
}


@pytest.mark.parametrize("encoding", ["cbor", "msgpack", "json"])
def test_golden_bytes(encoding: str) -> None:
    assert encode_batch(BATCH, encoding).hex() == GOLDEN[encoding]  # type: ignore[arg-type]


@pytest.mark.parametrize("encoding", ["cbor", "msgpack", "json"])
def test_round_trip(encoding: str) -> None:
    data = bytes.fromhex(GOLDEN[encoding])
    assert decode_batch(data, encoding) == BATCH  # type: ignore[arg-type]


def test_cbor_uses_senml_integer_labels() -> None:
    import cbor2

    pack = cbor2.loads(encode_batch(BATCH))
    assert pack[0][-3] == 1700000000.0  # bt
    assert pack[0][0] == "meter/voltage"  # n
    assert pack[0][1] == "V"  # u
    assert pack[0][2] == 230.5  # v
    assert pack[0]["bid"] == "0123456789abcdef"
    assert pack[0]["seq"] == 7
    assert pack[1][6] == 1.5  # t, relative to bt
    assert pack[1][4] is True  # vb
    assert pack[2][3] == "ok"  # vs


def test_empty_batch_is_refused() -> None:
    with pytest.raises(ProtocolError):
        encode_batch(TelemetryBatch(boot_id="0123456789abcdef", seq=0, records=()))


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"", "undecodable"),
        (b"\xff\xff", "undecodable"),
        (bytes.fromhex("a0"), "non-empty SenML array"),  # {} instead of [...]
        (bytes.fromhex("80"), "non-empty SenML array"),  # []
        (bytes.fromhex("81a0"), "boot id"),  # [{}]
        (bytes.fromhex("81a263626964623132637365710100"), "boot id"),  # bid too short
    ],
)
def test_malformed_cbor_raises_protocol_error(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError, match=reason):
        decode_batch(payload)


def test_record_needs_exactly_one_value() -> None:
    import cbor2

    pack = [{"bid": "0123456789abcdef", "seq": 1, 0: "a/b", 2: 1.0, 3: "x"}]
    with pytest.raises(ProtocolError, match="exactly one"):
        decode_batch(cbor2.dumps(pack))


def test_non_finite_value_is_refused() -> None:
    import cbor2

    pack = [{"bid": "0123456789abcdef", "seq": 1, 0: "a/b", 2: float("nan")}]
    with pytest.raises(ProtocolError, match="finite"):
        decode_batch(cbor2.dumps(pack))


def test_oversized_payload_is_refused_before_decoding() -> None:
    with pytest.raises(ProtocolError, match="exceeds"):
        decode_batch(b"\x80" * (4 * 1024 * 1024 + 1))
