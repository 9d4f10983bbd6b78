"""Golden case folders (drivers/<name>/cases/<case>/), each served by the driver's simulator.

Every built-in driver's cases run through the agent's real read path: Modbus TCP on
loopback and Modbus RTU on a pty for register maps, the serial protocol on a pty for
serial drivers (see edge/case_runner.py and drivers/sdk/cases.py for the folder format).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from drivers.registry import BUILTIN_ROOT, load_driver
from drivers.sdk.cases import case_folders, load_case
from edge.case_runner import Transport, run_case, transports_for

DRIVERS = sorted(p.parent for p in BUILTIN_ROOT.glob("*/driver.yaml"))
RUNS = [
    (folder, transport)
    for driver in DRIVERS
    for folder in case_folders(driver)
    for transport in transports_for(load_driver(driver.name))
]


def test_every_builtin_driver_has_cases() -> None:
    assert len(DRIVERS) >= 10
    for driver in DRIVERS:
        assert case_folders(driver), f"{driver.name} has no golden cases"


@pytest.mark.parametrize(
    ("folder", "transport"), RUNS, ids=[f"{f.parts[-3]}/{f.name}/{t}" for f, t in RUNS]
)
async def test_case(folder: Path, transport: Transport) -> None:
    driver = load_driver(folder.parent.parent.name)
    result = await run_case(driver, load_case(folder), transport=transport, loader=load_driver)
    assert result.problems == []
    assert result.readings or load_case(folder).expected.error


def test_a_wrong_expectation_is_reported() -> None:
    """The runner can fail: a case whose expected value is off names the channel."""
    import asyncio

    import msgspec

    from drivers.sdk.cases import Expected, ExpectedReading

    case = load_case(BUILTIN_ROOT / "rs485_env" / "cases" / "nominal")
    wrong = msgspec.structs.replace(
        case,
        expected=Expected(
            readings={**case.expected.readings, "pm10": ExpectedReading(value=71, unit="ug/m3")},
            requests=2,
        ),
    )
    result = asyncio.run(
        run_case(load_driver("rs485_env"), wrong, transport="tcp", loader=load_driver)
    )
    assert result.problems == ["pm10: 70, expected 71", "2 request(s) expected, 1 sent"]
