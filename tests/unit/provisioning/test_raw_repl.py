"""The raw REPL client and `polekit micro install` against a fake board on a pty."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import serial

from drivers.registry import load_driver
from drivers.sdk.driver import Driver
from drivers.sdk.manifest import parse_manifest
from edge.micro_compile import compile_driver, write_compiled
from polekit.cli import main
from provisioning.micro_install import BundleError, agent_files, bundle_files, install
from provisioning.raw_repl import RawRepl, RawReplError
from tests.unit.provisioning.fake_board import FakeBoard


@pytest.fixture
def board(tmp_path: Path) -> Iterator[FakeBoard]:
    root = tmp_path / "flash"
    root.mkdir()
    fake = FakeBoard(root)
    yield fake
    fake.close()


@pytest.fixture
def port(board: FakeBoard) -> Iterator[serial.Serial]:
    with serial.Serial(board.port, 115200, timeout=0.2) as opened:
        yield opened


def make_bundle(folder: Path, *, device_id: str = "pole-7") -> Path:
    """A minimal valid bundle with one compiled driver."""
    write_compiled(load_driver("rs485_env"), folder / "drivers")
    settings = {
        "device_id": device_id,
        "wifi": {"ssid": "pole-net", "psk": "secret"},
        "mqtt": {"host": "10.0.0.1", "port": 1883},
        "bus": {"uart": 2, "baud": 4800, "tx": 17, "rx": 16},
        "trust": {"fleet-1": "00" * 32},
        "config": {"devices": [{"name": "env", "driver": "rs485_env", "unit": 1, "poll_s": 30}]},
    }
    (folder / "bundle.json").write_text(json.dumps(settings))
    return folder


def test_exec_returns_stdout_and_keeps_the_namespace(port: serial.Serial) -> None:
    with RawRepl(port, timeout=5) as repl:
        assert repl.exec("x = 6 * 7\nprint(x)").strip() == b"42"
        assert repl.exec("print(x + 1)").strip() == b"43"


def test_exception_on_the_board_raises_with_its_traceback(port: serial.Serial) -> None:
    with RawRepl(port, timeout=5) as repl:
        with pytest.raises(RawReplError, match="ZeroDivisionError"):
            repl.exec("1 / 0")
        assert repl.exec("print('still there')").strip() == b"still there"


def test_soft_reset_clears_the_namespace(port: serial.Serial, board: FakeBoard) -> None:
    with RawRepl(port, timeout=5, soft_reset=True) as repl:
        repl.exec("y = 1")
        repl.enter(soft_reset=True)
        with pytest.raises(RawReplError, match="NameError"):
            repl.exec("print(y)")
    assert board.soft_resets == 2


def test_put_file_writes_bytes_atomically(port: serial.Serial, board: FakeBoard) -> None:
    data = bytes(range(256)) * 9 + b"tail"
    with RawRepl(port, timeout=5) as repl:
        repl.mkdirs("/polekit/drivers")
        repl.put_file("/polekit/drivers/blob.bin", data)
        assert repl.sha256("/polekit/drivers/blob.bin") == hashlib.sha256(data).hexdigest()
    assert (board.root / "polekit/drivers/blob.bin").read_bytes() == data
    assert not (board.root / "polekit/drivers/blob.bin.tmp").exists()


def test_silent_port_times_out(tmp_path: Path) -> None:
    class Silent:
        def write(self, data: bytes) -> int:
            return len(data)

        def read(self, size: int = 1) -> bytes:
            return b""

        def reset_input_buffer(self) -> None:
            pass

    with pytest.raises(RawReplError, match="did not answer"):
        RawRepl(Silent(), timeout=0.2).enter()


def test_install_writes_bundle_and_agent(
    port: serial.Serial, board: FakeBoard, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "bundle")
    with RawRepl(port, timeout=5) as repl:
        written = dict(install(repl, bundle, agent=True))
    flash = board.root
    assert json.loads((flash / "polekit/bundle.json").read_text())["device_id"] == "pole-7"
    pkd = (bundle / "drivers/rs485_env.pkd").read_bytes()
    assert (flash / "polekit/drivers/rs485_env.pkd").read_bytes() == pkd
    for path, data in agent_files().items():
        assert (flash / path.lstrip("/")).read_bytes() == data
    assert (flash / "lib/edge/micro/agent.py").is_file()
    assert (flash / "main.py").read_bytes().endswith(b"run()\n")
    assert written["/polekit/bundle.json"] == (bundle / "bundle.json").stat().st_size


def test_invalid_bundle_writes_nothing(
    port: serial.Serial, board: FakeBoard, tmp_path: Path
) -> None:
    bundle = make_bundle(tmp_path / "bundle", device_id="Pole 7")
    with RawRepl(port, timeout=5) as repl, pytest.raises(BundleError, match="device_id"):
        install(repl, bundle, agent=True)
    assert list(board.root.iterdir()) == []
    (bundle / "drivers/rs485_env.pkd").unlink()
    with pytest.raises(BundleError):
        bundle_files(bundle)


def test_cli_install(board: FakeBoard, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = make_bundle(tmp_path / "bundle")
    assert main(["micro", "install", "--serial", board.port, "--bundle", str(bundle)]) == 0
    assert "installed 2 files" in capsys.readouterr().out
    assert (board.root / "polekit/drivers/rs485_env.pkd").is_file()
    assert not (board.root / "main.py").exists()


def test_cli_compile_driver(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["micro", "compile-driver", "eastron_sdm120", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "eastron_sdm120.pkd").is_file()
    assert main(["micro", "compile-driver", "no_such_driver", "--out", str(tmp_path)]) == 2
    assert "unknown driver" in capsys.readouterr().err


_HEAD = "name: probe\nvendor: t\nmodel: t\ncategory: test\nchannels:\n"


@pytest.mark.parametrize(
    ("channel", "reason"),
    [
        ("  - {name: alarm, address: 1, bit: 0}\n", "bit fields"),
        ("  - {name: mode, address: 1, enum: {0: idle, 1: busy}}\n", "enums"),
        ("  - {name: serial_no, address: 1, data_type: string, length: 4}\n", "strings"),
        ("  - {name: gust, address: 1, filters: [{window: 60}]}\n", "window"),
    ],
)
def test_compile_refuses_what_the_micro_agent_cannot_decode(channel: str, reason: str) -> None:
    driver = Driver.from_manifest(parse_manifest(_HEAD + channel))
    with pytest.raises(ValueError, match=reason):
        compile_driver(driver)
