"""The protocol codec core: CBOR subset, SenML packs and exact float64, pinned to the bytes
cbor2 and protocol.senml produce on CPython (tests/unit/protocol/test_senml.py GOLDEN)."""

import struct

from protocol.core import cbor, f64, senml_pack, topics
from protocol.core.cbor import CBORError, OrderedMap
from tests.micro.support import raises

# cbor2.dumps of VALUE below (dict order written out as an OrderedMap, MicroPython has none).
VALUE = OrderedMap(
    [
        ("a", [1, -1, 2**64 - 1, -(2**64), 1.5, None, True, False, b"\x00", "\u00e9", [], {}]),
        (-3, 0.1),
        ("x", float("nan")),
        ("y", float("-inf")),
        ("z", -0.0),
    ]
)
VALUE_HEX = (
    "a561618c01201bffffffffffffffff3bfffffffffffffffffb3ff8000000000000f6f5f4410062c3a980a0"
    "22fb3fb999999999999a6178f97e006179f9fc00617afb8000000000000000"
)
GOLDEN_BATCH = (
    "83a622fb41d954fc40000000636269647030313233343536373839616263646566637365710700"
    "6d6d657465722f766f6c7461676501615602fb406cd00000000000a30068656e762f646f6f7206fb"
    "3ff800000000000004f5a2006a656e762f73746174757303626f6b"
)
RECORDS = [
    ("meter/voltage", 1700000000000, 230.5, "V"),
    ("env/door", 1700000001500, True, ""),
    ("env/status", 1700000000000, "ok", None),
]


def test_encoder_matches_cbor2_bytes() -> None:
    assert cbor.dumps(VALUE).hex() == VALUE_HEX


def test_decoder_reads_cbor2_bytes() -> None:
    value = cbor.loads(bytes.fromhex(VALUE_HEX))
    assert value["a"] == [1, -1, 2**64 - 1, -(2**64), 1.5, None, True, False, b"\x00", "é", [], {}]
    assert value[-3] == 0.1
    assert value["x"] != value["x"]  # NaN
    assert value["y"] == float("-inf")
    assert str(value["z"]) == "-0.0"


def test_decoder_reads_half_and_single_floats() -> None:
    assert cbor.loads(bytes.fromhex("f93e00")) == 1.5
    assert cbor.loads(bytes.fromhex("f90001")) == 2.0**-24
    assert cbor.loads(bytes.fromhex("fa47c35000")) == 100000.0


def test_decoder_refuses_what_is_outside_the_subset() -> None:
    for bad in ("", "18", "5f", "9f", "c11a514b67b0", "f8ff", "8201", "a1", "0000", "62c3"):
        raises(CBORError, cbor.loads, bytes.fromhex(bad))
    raises(CBORError, cbor.loads, bytes.fromhex("9b" + "ff" * 8))  # claims 2**64 items
    raises(CBORError, cbor.loads, b"\x81" * 40 + b"\x00")  # nested too deeply
    raises(CBORError, cbor.loads, bytes.fromhex("a1800001"))  # a list as map key


def test_encoder_refuses_other_types() -> None:
    raises(CBORError, cbor.dumps, object())
    raises(CBORError, cbor.dumps, 2**64)


def test_senml_pack_with_float_seconds_is_the_golden_batch() -> None:
    records = [(n, t / 1000, v, u) for n, t, v, u in RECORDS]
    assert senml_pack.encode_batch("0123456789abcdef", 7, records).hex() == GOLDEN_BATCH


def test_senml_pack_with_integer_milliseconds_is_the_golden_batch() -> None:
    assert senml_pack.encode_batch("0123456789abcdef", 7, RECORDS, True).hex() == GOLDEN_BATCH


def test_integer_values_are_written_as_float64() -> None:
    pack = cbor.loads(senml_pack.encode_batch("0123456789abcdef", 0, [("a/b", 0, 2**60 + 1, "")]))
    assert pack[0][2] == float(2**60)  # float(2**60 + 1) rounds to even, as on CPython


def test_senml_pack_refuses_bad_batches() -> None:
    raises(ValueError, senml_pack.encode_batch, "0123456789abcdef", 0, [])
    raises(ValueError, senml_pack.encode_batch, "XYZ", 0, RECORDS)
    raises(ValueError, senml_pack.encode_batch, "0123456789abcdef", -1, RECORDS)
    raises(ValueError, senml_pack.encode_batch, "0123456789abcdef", 0, [("a/b", 0, [1], "")])


def test_exact_float64_matches_cpython_bits() -> None:
    # Hex from CPython: struct.pack(">d", 1700000000.123) and friends.
    assert f64.pack(f64.bits_of_ratio(1700000000123, 1000)).hex() == "41d954fc4007df3b"
    a = f64.bits_of_ratio(1700000000123, 1000)
    b = f64.bits_of_ratio(1700000000000, 1000)
    assert f64.pack(f64.bits_of_difference(a, b)).hex() == "3fbf7cec00000000"
    assert f64.pack(f64.bits_of_ratio(2**60 + 1, 1)).hex() == "43b0000000000000"
    assert f64.pack(f64.bits_of_ratio(-1, 3)).hex() == "bfd5555555555555"
    assert f64.bits_of_difference(a, a) == 0
    assert f64.bits_of_ratio(0, 7) == 0


def test_exact_float64_agrees_with_this_interpreters_doubles() -> None:
    # The wasm port computes in float64, so its own arithmetic is a second reference.
    for ms in (0, 1, 999, 1000, 1234567, 1699999999999, 1700000000001, 4102444800000):
        assert f64.pack(f64.bits_of_ratio(ms, 1000)) == struct.pack(">d", ms / 1000)
    assert f64.bit_length(0) == 0
    assert f64.bit_length(2**70) == 71


def test_topics() -> None:
    assert topics.topic("pole-1", topics.TELEMETRY) == "pk/v1/pole-1/telemetry"
    assert topics.split("pk/v1/pole-1/config/desired") == ("pole-1", "config/desired")
    assert topics.split("pk/v2/pole-1/ack") is None
    assert topics.split("pk/v1/Pole/ack") is None
    raises(ValueError, topics.topic, "pole/1", topics.ACK)
    raises(ValueError, topics.topic, "a" * 65, topics.ACK)


def test_float32_port_path_gives_the_same_bytes() -> None:
    # Where float is 32-bit the codec takes the exact-integer path: force it here.
    records = list(RECORDS)  # no [*x] displays on MicroPython
    records.append(("env/count", 1700000002345, 2**40 + 3, ""))
    expected = senml_pack.encode_batch("0123456789abcdef", 7, records, True)
    senml_pack.DOUBLE = False
    try:
        exact = senml_pack.encode_batch("0123456789abcdef", 7, records, True)
    finally:
        senml_pack.DOUBLE = True
    assert exact == expected
    assert cbor.loads(exact)[3][2] == float(2**40 + 3)
