"""`polekit provision --serial DEV`: a MicroPython controller as the bundle's destination.

Before enrolling, the board is asked for its raw REPL and the technician's config is converted
with a placeholder identity, so a wrong port or a config the micro agent cannot run costs no
claim. After enrolling, the agent and the bundle are written through the raw REPL, each file
atomically (bundle.json last), and the controller is soft-rebooted into the agent.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec

from hardware.profiles import BoardProfile, ProfileError, load_profile
from provisioning.bundle import BundleWriteError
from provisioning.enroll import EnrollResponse, SigningKeyInfo
from provisioning.micro_bundle import Wifi, build_micro_bundle
from provisioning.micro_install import BundleError, remote_files, write_files
from provisioning.raw_repl import RawRepl, RawReplError

DEFAULT_BOARD = "esp32-rs485"
WIFI_PASSWORD_ENV = "POLEKIT_WIFI_PASSWORD"  # noqa: S105 - the variable's name
_PLACEHOLDER = EnrollResponse(
    device_id="precheck",
    broker_urls=["mqtt://precheck:1883"],
    config_signing_public_key=SigningKeyInfo(kid="precheck", ed25519_b64="A" * 43 + "="),
    initial_config={},
    mqtt_password="precheck",  # noqa: S106 - a placeholder, never sent anywhere
)


class MicroTarget(msgspec.Struct, kw_only=True):
    """A controller on a serial port and its Wi-Fi, kept with a queued claim (0600)."""

    port: str
    wifi_ssid: str
    wifi_psk: str
    baud: int = 115200
    board_path: list[str] = msgspec.field(default_factory=list)

    def __repr__(self) -> str:
        """Never show the Wi-Fi passphrase."""
        return f"MicroTarget(port={self.port!r}, wifi_ssid={self.wifi_ssid!r})"

    @property
    def wifi(self) -> Wifi:
        """The Wi-Fi settings for the bundle."""
        return Wifi(ssid=self.wifi_ssid, psk=self.wifi_psk)

    def profile(self, board: str | None) -> BoardProfile:
        """The board profile (esp32-rs485 unless --board says otherwise)."""
        try:
            return load_profile(board or DEFAULT_BOARD, [Path(p) for p in self.board_path])
        except ProfileError as exc:
            raise BundleWriteError(str(exc)) from None


def wifi_password(path: Path | None) -> str:
    """The passphrase from --wifi-password-file or $POLEKIT_WIFI_PASSWORD (never argv)."""
    if path is not None:
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise BundleWriteError(f"cannot read --wifi-password-file {path}: {exc}") from None
    password = os.environ.get(WIFI_PASSWORD_ENV)
    if password is None:
        raise BundleWriteError(
            "--serial needs the Wi-Fi passphrase: --wifi-password-file FILE or "
            f"${WIFI_PASSWORD_ENV}"
        )
    return password


def precheck(target: MicroTarget, *, board: str | None, overlay: dict[str, Any] | None) -> None:
    """Before enrolling: the config converts for the micro agent and the board answers."""
    build_micro_bundle(
        _PLACEHOLDER, profile=target.profile(board), wifi=target.wifi, overlay=overlay
    )
    with _session(target, enrolled=False):
        pass


def install_micro(
    target: MicroTarget,
    response: EnrollResponse,
    *,
    board: str | None,
    overlay: dict[str, Any] | None,
    extras: dict[str, Any],
    say: Callable[[str], None],
) -> None:
    """Convert the enrollment answer and write agent + bundle to the controller."""
    files = build_micro_bundle(
        response, profile=target.profile(board), wifi=target.wifi, overlay=overlay, extras=extras
    )
    try:
        remote = remote_files(files)
    except BundleError as exc:
        raise BundleWriteError(f"the micro bundle is incomplete ({exc})") from None
    with _session(target, enrolled=True) as repl:
        written = write_files(repl, remote, agent=True)
        size = sum(size for _, size in written)
        say(f"wrote {len(written)} files ({size} bytes) to {target.port}")


@contextmanager
def _session(target: MicroTarget, *, enrolled: bool) -> Iterator[RawRepl]:
    """The raw REPL on the port; any failure becomes a BundleWriteError saying what next."""
    import serial

    try:
        with serial.Serial(target.port, target.baud, timeout=0.2) as port:
            repl = RawRepl(port)
            repl.enter()
            yield repl
            repl.exit()
            if enrolled:
                port.write(b"\x04")  # friendly REPL: soft reboot, main.py starts the agent
    except (RawReplError, serial.SerialException, OSError) as exc:
        raise _failure(target.port, exc, enrolled=enrolled) from None


def _failure(port: str, exc: BaseException, *, enrolled: bool) -> BundleWriteError:
    problem = f"the controller on {port} did not take the files ({exc})"
    if not enrolled:
        return BundleWriteError(
            f"{problem}. Nothing was enrolled. Check the USB cable and that no other program "
            f"(mpremote, a serial monitor) holds {port}; the board must run MicroPython "
            "(flash it first). Then run the same command again"
        )
    return BundleWriteError(
        f"{problem}. Each file is written atomically, so the controller holds whole files "
        f"only, but it may lack some. Check the cable and that nothing else holds {port}"
    )
