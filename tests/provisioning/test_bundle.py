"""Bundle format and atomic writes: a killed or failed write leaves the old bundle or none."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from edge.bundle import BundleError, read_bundle
from provisioning import bundle as writer
from provisioning.bundle import BundleWriteError, build_bundle, write_bundle_dir
from provisioning.enroll import EnrollResponse, SigningKeyInfo
from provisioning.keys import generate_key
from tests.services import REPO


def response(device_id: str = "pole-p1", password: str = "s3cret-pw") -> EnrollResponse:
    """An enrollment answer as the fleet sends it (password auth)."""
    return EnrollResponse(
        device_id=device_id,
        broker_urls=["mqtt://127.0.0.1:1883"],
        mqtt_username=device_id,
        mqtt_password=password,
        config_signing_public_key=SigningKeyInfo(kid="k1", ed25519_b64="AAAA"),
        initial_config={"device_id": device_id, "uplink": {"broker": "mqtt://127.0.0.1:1883"}},
        fleet_url="http://fleet.example",
    )


def files(device_id: str = "pole-p1") -> list[writer.BundleFile]:
    """A complete bundle with a local overlay naming one RTU bus by its logical port."""
    overlay = {
        "device_id": "ignored",
        "board": "rpi4-rs485-hat",
        "uplink": {"broker": "mqtt://wrong:1", "encoding": "json"},
        "buses": [{"name": "rs485-1", "modbus_rtu": {"baud": 9600}, "devices": []}],
    }
    return build_bundle(response(device_id), generate_key(), overlay=overlay, serial="SN1")


def test_round_trip_modes_and_merge_rules(tmp_path: Path) -> None:
    target = tmp_path / "boot" / "polekit"
    target.parent.mkdir()
    write_bundle_dir(target, files())

    bundle = read_bundle(target)
    assert bundle.config.device_id == "pole-p1"  # the fleet's id, not the template's
    assert bundle.config.uplink.broker == "mqtt://127.0.0.1:1883"  # the fleet's broker wins
    assert bundle.config.uplink.encoding == "json"  # the template fills the rest
    assert bundle.config.board == "rpi4-rs485-hat"
    assert (bundle.username, bundle.password) == ("pole-p1", "s3cret-pw")
    assert bundle.manifest.serial == "SN1"
    assert sorted(p.name for p in target.iterdir()) == [
        "bundle.json", "config.yaml", "device.key", "mqtt.password",
    ]  # fmt: skip
    for secret in ("device.key", "mqtt.password"):
        assert stat.S_IMODE((target / secret).stat().st_mode) == 0o600
    assert "s3cret-pw" not in (target / "bundle.json").read_text()
    assert "s3cret-pw" not in repr(files()) + repr(response())


def test_rewrite_replaces_the_whole_bundle_and_leaves_nothing_beside(tmp_path: Path) -> None:
    target = tmp_path / "polekit"
    write_bundle_dir(target, files("pole-old"))
    write_bundle_dir(target, files("pole-new"))
    assert read_bundle(target).config.device_id == "pole-new"
    assert [p.name for p in tmp_path.iterdir()] == ["polekit"]


def test_a_failure_mid_write_keeps_the_old_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "polekit"
    write_bundle_dir(target, files("pole-old"))
    real = writer._write_file
    written: list[Path] = []

    def fail_on_third(path: Path, data: bytes, mode: int) -> None:
        if len(written) == 2:
            raise OSError(28, "No space left on device")
        written.append(path)
        real(path, data, mode)

    monkeypatch.setattr(writer, "_write_file", fail_on_third)
    with pytest.raises(BundleWriteError, match=r"No space left.*previous bundle.*unchanged"):
        write_bundle_dir(target, files("pole-new"))
    assert read_bundle(target).config.device_id == "pole-old"
    assert [p.name for p in tmp_path.iterdir()] == ["polekit"]


KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from provisioning import bundle as writer
    from tests.provisioning.test_bundle import files

    target, stage = Path(sys.argv[1]), sys.argv[2]
    calls = []
    if stage == "files":
        real = writer._write_file
        def hook(path, data, mode):
            calls.append(path)
            real(path, data, mode)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        writer._write_file = hook
    else:  # between moving the old bundle aside and moving the new one in
        real = os.rename
        def hook(src, dst):
            real(src, dst)
            calls.append(dst)
            if len(calls) == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        writer.os.rename = hook
    writer.write_bundle_dir(target, files("pole-new"))
    """
)


@pytest.mark.parametrize("stage", ["files", "renames"])
def test_a_kill_mid_write_leaves_the_old_bundle_or_none(tmp_path: Path, stage: str) -> None:
    target = tmp_path / "polekit"
    write_bundle_dir(target, files("pole-old"))
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(target), stage], cwd=REPO, check=False
    )
    assert killed.returncode == -9

    if stage == "files" or target.exists():
        assert read_bundle(target).config.device_id == "pole-old"
    else:
        with pytest.raises(BundleError, match=r"no provisioning bundle.*polekit provision"):
            read_bundle(target)
    # The next write (the technician runs the command again) cleans up and completes.
    write_bundle_dir(target, files("pole-new"))
    assert read_bundle(target).config.device_id == "pole-new"
    assert [p.name for p in tmp_path.iterdir()] == ["polekit"]


def test_a_killed_swap_is_undone_before_anything_else(tmp_path: Path) -> None:
    target = tmp_path / "polekit"
    write_bundle_dir(target, files("pole-old"))
    os.rename(target, tmp_path / ".polekit.old-deadbeef")  # as a kill between renames leaves
    (tmp_path / ".polekit.tmp-cafe").mkdir()
    writer._recover(target)
    assert read_bundle(target).config.device_id == "pole-old"
    assert [p.name for p in tmp_path.iterdir()] == ["polekit"]


def test_refuses_to_replace_a_directory_that_is_not_a_bundle(tmp_path: Path) -> None:
    boot = tmp_path / "boot"
    boot.mkdir()
    (boot / "config.txt").write_text("dtoverlay=sc16is752-spi1\n")
    with pytest.raises(BundleWriteError, match=r"not a polekit bundle.*boot/polekit"):
        write_bundle_dir(boot, files())
    assert (boot / "config.txt").exists()


def test_missing_mount_point_says_to_mount_the_boot_partition(tmp_path: Path) -> None:
    with pytest.raises(BundleWriteError, match="does not exist; is the gateway's boot partition"):
        write_bundle_dir(tmp_path / "media" / "bootfs" / "polekit", files())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda t: (t / "device.key").unlink(), "incomplete: device.key missing"),
        (lambda t: (t / "bundle.json").write_text("{"), "bundle.json is damaged"),
        (lambda t: (t / "bundle.json").unlink(), "bundle.json is missing"),
        (lambda t: (t / "mqtt.password").write_text("\n"), "mqtt.password is empty"),
        (
            lambda t: (t / "config.yaml").write_text("device_id: someone-else\n"),
            "config.yaml is for device someone-else",
        ),
    ],
)
def test_a_broken_bundle_says_what_is_wrong(tmp_path: Path, damage: object, message: str) -> None:
    target = tmp_path / "polekit"
    write_bundle_dir(target, files())
    damage(target)  # type: ignore[operator]
    with pytest.raises(BundleError, match=message):
        read_bundle(target)


def test_no_bundle_says_how_to_provision(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"run with --config FILE|polekit provision --fleet"):
        read_bundle(tmp_path / "nothing")
