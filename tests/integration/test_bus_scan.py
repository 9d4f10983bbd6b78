"""`polekit scan` and `polekit probe` against simulated devices on one pty line.

The simulator reads the line's baud rate from the pty's termios, so a device set to
19200 baud stays silent while the scan talks at 9600, exactly like on a real RS-485 bus.
"""

from __future__ import annotations

import json

import pytest

from drivers.registry import DriverRegistry, load_driver
from drivers.sim.process import SimulatorProcess
from drivers.sim.server import DeviceSpec, Simulator
from polekit.cli import main
from provisioning.scan import Progress, parse_bauds, parse_ids, scan

LINE = ["eastron_sdm120:1:baud=9600", "rs485_env:5:baud=9600", "pole_tilt:9:baud=19200"]


def catalogue() -> list:
    registry = DriverRegistry()
    return [registry.load(name) for name in registry.names()]


async def test_scan_finds_three_devices_at_two_bauds() -> None:
    progress: list[Progress] = []
    async with Simulator.for_specs([DeviceSpec.parse(s) for s in LINE], pty=True) as sim:
        assert sim.pty_path is not None
        found = await scan(
            port=sim.pty_path,
            bauds=[9600, 19200],
            ids=list(range(1, 11)),
            drivers=catalogue(),
            wait=0.05,
            on_progress=progress.append,
        )
        tilt = sim.device(9)
    assert [(f.baud, f.unit) for f in found] == [(9600, 1), (9600, 5), (19200, 9)]
    assert [f.candidates[0].driver for f in found] == ["eastron_sdm120", "rs485_env", "pole_tilt"]
    assert found[1].answer.startswith("register 0 = ")  # rs485_env: humidity in register 0
    assert found[0].answer == "exception 2 (illegal data address)"  # the meter has no holding 0
    assert len(progress) == 20
    assert progress[-1].done == progress[-1].total == 20
    # the tilt sensor heard the 9600-baud probe as noise and did not answer it
    assert tilt.requests > 1


async def test_scan_stops_at_the_first_hit() -> None:
    async with Simulator.for_specs([DeviceSpec.parse(s) for s in LINE], pty=True) as sim:
        assert sim.pty_path is not None
        progress: list[Progress] = []
        found = await scan(
            port=sim.pty_path,
            bauds=[19200, 9600],
            ids=list(range(1, 248)),
            wait=0.05,
            first=True,
            on_progress=progress.append,
        )
    assert [(f.baud, f.unit) for f in found] == [(19200, 9)]
    assert found[0].candidates == ()  # no catalogue given: no fingerprint
    assert progress[-1].done == 9


def test_parse_ids_and_bauds() -> None:
    assert parse_ids("1-3,7,2") == [1, 2, 3, 7]
    assert parse_bauds("9600, 19200") == [9600, 19200]
    with pytest.raises(ValueError, match="1 to 247"):
        parse_ids("0-10")
    with pytest.raises(ValueError, match="baud"):
        parse_bauds("fast")


def test_scan_and_probe_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with SimulatorProcess(LINE, pty=True) as sim:
        code = main(
            ["scan", "--port", sim.pty_path, "--baud", "9600,19200", "--ids", "1-10",
             "--timeout", "50ms", "--json"]
        )  # fmt: skip
        out, err = capsys.readouterr()
        assert code == 0
        result = json.loads(out)
        assert [(r["baud"], r["unit"]) for r in result] == [(9600, 1), (9600, 5), (19200, 9)]
        assert "scanning at 19200 baud" in err
        assert "found id 9 at 19200 baud: pole_tilt" in err

        code = main(["probe", "--port", sim.pty_path, "--driver", "pole_tilt", "--id", "9",
                     "--baud", "19200"])  # fmt: skip
        out, _ = capsys.readouterr()
        assert code == 0
        rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[1:]}
        assert set(rows) == set(load_driver("pole_tilt").channels)
        assert rows["x_angle"][1] == "deg"
        assert -1 < float(rows["x_angle"][0]) < 1
        assert rows["x_alarm"][0] == "False"

        # the wrong baud: the device stays silent and probe says so
        code = main(["probe", "--port", sim.pty_path, "--driver", "pole_tilt", "--id", "9",
                     "--timeout", "100ms"])  # fmt: skip
        assert code == 1
        assert "did not answer" in capsys.readouterr().err


def test_scan_of_a_missing_port(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scan", "--port", "/dev/ttyUSB-polekit-absent", "--ids", "1-2"]) == 1
    assert "does not exist" in capsys.readouterr().err
