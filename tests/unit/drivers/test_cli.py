"""`polekit driver ...` through the real dispatcher."""

from __future__ import annotations

import pytest

from polekit.cli import main


def test_driver_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["driver", "list", "--channels"]) == 0
    out = capsys.readouterr().out
    assert "eastron_sdm120" in out
    assert "energy_meter" in out
    assert "pm2_5" in out


def test_simulate_unknown_driver_is_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["driver", "simulate", "no_such_meter", "--tcp", "0"]) == 2
    assert "unknown driver 'no_such_meter'" in capsys.readouterr().err


def test_simulate_bad_fault(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["driver", "simulate", "rs485_env", "--tcp", "0", "--fault", "1=loud"]) == 2
    assert "unknown fault 'loud'" in capsys.readouterr().err


def test_simulate_needs_a_transport() -> None:
    with pytest.raises(SystemExit):
        main(["driver", "simulate", "rs485_env"])
