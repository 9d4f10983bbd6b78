"""`polekit driver new | test | list`: a new device from one declarative file, third-party
drivers through the `polekit.drivers` entry-point group."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest

from drivers.registry import DriverRegistry
from drivers.sdk.cases import case_folders, load_case
from edge.case_runner import run_case
from polekit.cli import main

# A device not in the catalogue: ten channels of mixed types, one request per table.
MIXED_MANIFEST = """\
name: acme_mixed
vendor: ACME
model: Multi-10
category: test
buses: [modbus_rtu, modbus_tcp]
serial: {baud: 19200, parity: E, stopbits: 1, bytesize: 8}
defaults: {register_type: holding, data_type: u16}
channels:
  - {name: power, address: 0, data_type: f32, order: CDAB, unit: W}
  - {name: temperature, address: 2, data_type: i16, scale: 0.1, unit: Cel}
  - {name: count, address: 3, unit: count}
  - {name: energy, address: 4, data_type: u32, scale: 0.01, unit: kWh}
  - {name: offset_mv, address: 6, data_type: i32, order: BADC, unit: mV}
  - {name: serial_no, address: 8, data_type: u64}
  - {name: ratio, address: 12, data_type: f64, order: DCBA, unit: /}
  - {name: tag, address: 16, data_type: string, length: 4}
  - {name: speed_step, address: 20, bit: 4, bits: 3}
  - {name: mode, address: 0, register_type: input, enum: {0: "off", 1: run, 2: standby}}
"""
MIXED_REGISTERS = """\
holding:
  0: 0x8000   # power 230.5 W, float32 word-swapped (CDAB): 4366 8000 sent as 8000 4366
  1: 0x4366
  2: 0xFF85   # temperature -123 x 0.1 = -12.3 Cel
  3: 0x04D2   # count 1234
  4: 0x0001   # energy 100000 x 0.01 = 1000.0 kWh
  5: 0x86A0
  6: 0xFFFF   # offset_mv -2, byte-swapped (BADC) FF FF FE FF
  7: 0xFEFF
  8: 0x0102   # serial_no 0x0102030405060708
  9: 0x0304
  10: 0x0506
  11: 0x0708
  12: 0x0000  # ratio 1.5, float64 little-endian (DCBA)
  13: 0x0000
  14: 0x0000
  15: 0xF83F
  16: 0x504B  # tag "PK-01", NUL padded
  17: 0x2D30
  18: 0x3100
  19: 0x0000
  20: 0x0053  # bits 4..6 = 5; the low bits belong to something else
input:
  0: 0x0002   # mode 2 = standby
"""
MIXED_EXPECTED = """\
requests: 2
readings:
  power: {value: 230.5, unit: W}
  temperature: {value: -12.3, unit: Cel}
  count: {value: 1234, unit: count}
  energy: {value: 1000.0, unit: kWh}
  offset_mv: {value: -2, unit: mV}
  serial_no: {value: 72623859790382856}
  ratio: {value: 1.5, unit: /}
  tag: {value: PK-01}
  speed_step: {value: 5}
  mode: {value: standby}
"""


def test_new_modbus_device_from_one_declarative_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["driver", "new", "acme_mixed", "--modbus", "--into", str(tmp_path)]) == 0
    folder = tmp_path / "acme_mixed"
    assert not list(folder.rglob("*.py"))  # no Python at all
    (folder / "driver.yaml").write_text(MIXED_MANIFEST)
    case = folder / "cases" / "nominal"
    (case / "registers.yaml").write_text(MIXED_REGISTERS)
    (case / "expected.yaml").write_text(MIXED_EXPECTED)
    capsys.readouterr()
    assert main(["driver", "test", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "ok   acme_mixed/nominal [tcp]" in out
    assert "ok   acme_mixed/nominal [rtu]" in out
    assert "2 passed, 0 failed" in out


def test_driver_test_fails_on_a_wrong_register(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["driver", "new", "acme_bad", "--modbus", "--into", str(tmp_path)]) == 0
    registers = tmp_path / "acme_bad" / "cases" / "nominal" / "registers.yaml"
    registers.write_text(registers.read_text().replace("0x00D7", "0x00D8"))
    assert main(["driver", "test", str(tmp_path / "acme_bad"), "--transport", "tcp"]) == 1
    out = capsys.readouterr().out
    assert "FAIL acme_bad/nominal [tcp]" in out
    assert "temperature: 21.6, expected 21.5" in out


def test_new_serial_driver_passes_as_generated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["driver", "new", "acme_uart", "--serial", "--into", str(tmp_path)]) == 0
    assert (tmp_path / "acme_uart" / "protocol.py").is_file()
    assert main(["driver", "test", str(tmp_path / "acme_uart")]) == 0
    assert "ok   acme_uart/nominal [serial]" in capsys.readouterr().out


def test_new_refuses_bad_names_and_existing_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["driver", "new", "Bad-Name", "--modbus", "--into", str(tmp_path)]) == 2
    assert "not a driver name" in capsys.readouterr().err
    assert main(["driver", "new", "twice", "--modbus", "--into", str(tmp_path)]) == 0
    assert main(["driver", "new", "twice", "--modbus", "--into", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_builtin_driver_by_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["driver", "test", "pole_tilt", "--transport", "tcp"]) == 0
    assert "ok   pole_tilt/knocked [tcp]" in capsys.readouterr().out


def _install_distribution(site: Path, dist: str, entry_points: dict[str, str]) -> None:
    """What pip leaves behind: a dist-info folder whose entry_points.txt names the drivers."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    lines = ["[polekit.drivers]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")


def test_third_party_drivers_are_found_through_entry_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    site = tmp_path / "site-packages"
    site.mkdir()
    # a register-map package and a serial-protocol package, as two wheels would install them
    assert main(["driver", "new", "acme_meter", "--modbus", "--into", str(site)]) == 0
    assert main(["driver", "new", "acme_probe", "--serial", "--into", str(site)]) == 0
    for name in ("acme_meter", "acme_probe"):
        (site / name / "__init__.py").write_text("")
    _install_distribution(
        site, "polekit_acme", {"acme_meter": "acme_meter", "acme_probe": "acme_probe"}
    )
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()

    registry = DriverRegistry()
    assert {"acme_meter", "acme_probe", "eastron_sdm120"} <= set(registry.names())
    meter = registry.load("acme_meter")
    assert meter.info.source == "entry point acme_meter (acme_meter)"
    probe = registry.load("acme_probe")
    assert probe.is_serial
    assert type(probe.new_protocol()).__module__ == "acme_probe.protocol"

    for driver in (meter, probe):
        assert driver.path is not None
        [folder] = case_folders(driver.path)
        transport = "serial" if driver.is_serial else "tcp"
        result = asyncio.run(
            run_case(driver, load_case(folder), transport=transport, loader=registry.load)
        )
        assert result.ok, result.problems

    capsys.readouterr()
    assert main(["driver", "list"]) == 0
    out = capsys.readouterr().out
    assert "third-party: entry point acme_meter (acme_meter)" in out
    assert "eastron_sdm120" in out
    assert "[built-in]" in out
