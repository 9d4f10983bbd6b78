"""driver.yaml validation: bad manifests fail with the field named, built-ins stay valid."""

from __future__ import annotations

import contextlib

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.registry import DriverRegistry
from drivers.sdk.datatypes import DataType, RegisterType, WordOrder
from drivers.sdk.errors import ManifestError
from drivers.sdk.manifest import FilterDefault, parse_manifest
from edge.config import FilterSpec

HEAD = "name: demo\nvendor: V\nmodel: M\ncategory: test\n"


def manifest(channels: str, extra: str = "") -> str:
    return HEAD + extra + "channels:\n" + channels


def test_defaults_fill_channels() -> None:
    text = manifest(
        "  - {name: volts, address: 0x10, unit: V}\n",
        extra="defaults: {register_type: input, data_type: f32, order: CDAB}\n",
    )
    from drivers.sdk.driver import Driver

    channel = Driver.from_manifest(parse_manifest(text)).channel("volts")
    assert channel.register_type is RegisterType.INPUT
    assert channel.data_type is DataType.F32
    assert channel.order is WordOrder.CDAB
    assert channel.address == 16


def test_coil_channel_defaults_to_bool() -> None:
    from drivers.sdk.driver import Driver

    text = manifest("  - {name: relay, address: 3, register_type: coil}\n")
    assert Driver.from_manifest(parse_manifest(text)).channel("relay").data_type is DataType.BOOL


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ("  - {name: a, address: 1, unit: volts}\n", "not a SenML unit"),
        ("  - {name: a, address: 1, data_typ: u16}\n", "unknown field `data_typ`"),
        ("  - {name: a, address: 70000}\n", r"\$.channels\[0\].address"),
        ("  - {name: a, address: 1}\n  - {name: a, address: 2}\n", "repeated: \\['a'\\]"),
        ("  - {name: a, address: 1, register_type: coil, data_type: u16}\n", "does not go"),
        ("  - {name: a, address: 65535, data_type: f32}\n", "runs past register 65535"),
        ("  - {name: a, address: 1, range: [10, 0]}\n", "range low"),
        ("  - {name: a, address: 1, scale: 0}\n", "scale cannot be 0"),
        ("  - {name: Bad, address: 1}\n", "channels\\[0\\].name"),
    ],
)
def test_invalid_manifests_name_the_problem(channels: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(manifest(channels), source="demo/driver.yaml")


def test_writable_must_be_writable_table() -> None:
    text = manifest(
        "  - {name: a, address: 1}\n",
        extra="writable:\n  - {name: w, address: 5, register_type: input}\n",
    )
    with pytest.raises(ManifestError, match="read-only"):
        parse_manifest(text)


def test_not_yaml() -> None:
    with pytest.raises(ManifestError, match="not valid YAML"):
        parse_manifest("name: [unclosed", source="x.yaml")


def test_filter_defaults_mirror_the_agent_filter_spec() -> None:
    # the driver format repeats FilterSpec's shape; if one grows a field, so must the other
    assert FilterDefault.__struct_fields__ == FilterSpec.__struct_fields__


@pytest.mark.parametrize("name", DriverRegistry().names())
def test_builtin_driver_defaults_are_valid_agent_filters(name: str) -> None:
    from edge.units import dec_hook

    driver = DriverRegistry().load(name)
    assert driver.info.source == "builtin"
    for channel in driver.channels.values():
        for step in channel.filters:
            msgspec.convert(msgspec.to_builtins(step), FilterSpec, dec_hook=dec_hook)


@settings(max_examples=200)
@given(st.text(max_size=300) | st.binary(max_size=300))
def test_any_text_raises_only_manifest_error(text: str | bytes) -> None:
    with contextlib.suppress(ManifestError):
        parse_manifest(text)


@settings(max_examples=200)
@given(
    st.dictionaries(
        st.sampled_from(["name", "address", "data_type", "order", "scale", "unit", "range"]),
        st.one_of(st.integers(-5, 70000), st.text(max_size=8), st.floats(), st.none()),
    )
)
def test_any_channel_raises_only_manifest_error(channel: dict[str, object]) -> None:
    import json

    with contextlib.suppress(ManifestError):
        parse_manifest(manifest("  - " + json.dumps(channel) + "\n"))


@pytest.mark.parametrize(
    ("channels", "message"),
    [
        ("  - {name: a, address: 1, data_type: string}\n", "string needs a length"),
        ("  - {name: a, address: 1, data_type: string, length: 2, order: CDAB}\n", "ABCD or BADC"),
        ("  - {name: a, address: 1, length: 2}\n", "length only goes with string"),
        ("  - {name: a, address: 1, data_type: f32, bit: 3}\n", "needs an integer type"),
        ("  - {name: a, address: 1, bit: 14, bits: 3}\n", "do not fit u16"),
        ("  - {name: a, address: 1, data_type: f32, enum: {0: x}}\n", "enum needs an integer"),
        ("  - {name: a, address: 1, enum: {0: x}, scale: 0.1}\n", "take no scale"),
        ("  - {name: a, address: 1, poll: sometimes}\n", "poll"),
        ("  - {name: a}\n", "needs an address"),
    ],
)
def test_new_field_kinds_are_checked(channels: str, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(manifest(channels), source="demo/driver.yaml")


def test_serial_protocol_manifests() -> None:
    serial = "buses: [serial]\nprotocol: protocol:Thing\n"
    parse_manifest(manifest("  - {name: a, unit: Cel}\n", extra=serial))
    with pytest.raises(ManifestError, match="no address"):
        parse_manifest(manifest("  - {name: a, address: 3}\n", extra=serial))
    with pytest.raises(ManifestError, match="buses: \\[serial\\]"):
        parse_manifest(manifest("  - {name: a, address: 3}\n", extra="buses: [serial]\n"))
    with pytest.raises(ManifestError, match="clears unknown channels"):
        parse_manifest(
            manifest(
                "  - {name: a, address: 3}\n",
                extra="writable:\n  - {name: r, address: 0, register_type: coil, clears: [b]}\n",
            )
        )


def test_bit_fields_enums_and_strings_resolve() -> None:
    from drivers.sdk.driver import Driver

    text = manifest(
        "  - {name: flag, address: 8, bit: 5}\n"
        "  - {name: state, address: 9, enum: {0: 'off', 1: 'on'}, poll: slow}\n"
        "  - {name: fw, address: 16, data_type: string, length: 8}\n"
    )
    driver = Driver.from_manifest(parse_manifest(text))
    block = driver.compile_block(RegisterType.HOLDING, 8, 16, ["flag", "state", "fw"])
    raw = bytes.fromhex("00200001" + "00" * 12 + "56312e3200000000" + "0000" * 4)
    assert block.decode(raw) == [True, "on", "V1.2"]
    assert driver.channel("state").poll == "slow"
    assert driver.channel("fw").width == 8
