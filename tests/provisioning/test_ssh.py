"""Writing a bundle over SSH: command construction, and the remote install script run for real.

No sshd runs here (starting one needs host keys and root-owned config outside the sandbox),
so `ssh` and `scp` on PATH are stand-ins that run the same argv locally: scp copies the
directory the way `scp -p -r` does, ssh runs the remote command with `sh -c`, so the atomic
rename script that would run on the gateway runs for real against a local directory.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path, PurePosixPath

import pytest

from edge.bundle import read_bundle
from provisioning.bundle import BundleWriteError
from provisioning.ssh import SshTarget, push_bundle, scp_command, ssh_command, staging_path
from tests.provisioning.enroll_double import EnrollDouble
from tests.provisioning.support import polekit
from tests.provisioning.test_bundle import files

FAKE_SCP = f"""#!{sys.executable}
import os, shutil, sys
with open(os.environ["FAKE_SSH_LOG"], "a") as log:
    log.write(" ".join(sys.argv) + "\\n")
args, positional = sys.argv[1:], []
while args:
    arg = args.pop(0)
    if arg == "-o":
        args.pop(0)
    elif not arg.startswith("-"):
        positional.append(arg)
source, destination = positional
shutil.copytree(source, destination.split(":", 1)[1])
"""

FAKE_SSH = f"""#!{sys.executable}
import os, subprocess, sys
with open(os.environ["FAKE_SSH_LOG"], "a") as log:
    log.write(" ".join(sys.argv) + "\\n")
if os.environ.get("FAKE_SSH_DOWN"):
    sys.stderr.write("ssh: connect to host gateway port 22: Connection refused\\n")
    sys.exit(255)
args, positional = sys.argv[1:], []
while args:
    arg = args.pop(0)
    if arg == "-o":
        args.pop(0)
    elif not arg.startswith("-"):
        positional.append(arg)
sys.exit(subprocess.run(["sh", "-c", " ".join(positional[1:])]).returncode)
"""


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Put the stand-in ssh/scp first on PATH; returns the file their argv is logged to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("scp", FAKE_SCP), ("ssh", FAKE_SSH)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    log = tmp_path / "ssh.log"
    log.touch()
    monkeypatch.setenv("PATH", f"{bin_dir}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    return log


def test_parse_targets() -> None:
    target = SshTarget.parse("pi@192.0.2.10:/boot/firmware/polekit")
    assert (target.host, target.path) == ("pi@192.0.2.10", PurePosixPath("/boot/firmware/polekit"))
    assert SshTarget.parse("root@[2001:db8::1]:/etc/polekit/bundle").host == "root@[2001:db8::1]"
    assert SshTarget.parse("gw:/srv/b").host == "gw"
    for bad in ("pi@host", "pi@host:relative/path", "pi@host:/", "a b:/x", "pi@h:/a b"):
        with pytest.raises(ValueError, match="user@host:/absolute/path"):
            SshTarget.parse(bad)


def test_command_lines() -> None:
    target = SshTarget.parse("pi@gw:/boot/firmware/polekit")
    remote = staging_path(target)
    assert remote.parent == PurePosixPath("/boot/firmware")
    assert remote.name.startswith(".polekit.tmp-")
    assert scp_command(Path("/tmp/b"), target, remote) == [
        "scp", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-p", "-r", "-q",
        "/tmp/b", f"pi@gw:{remote}",
    ]  # fmt: skip
    argv = ssh_command(target, remote)
    assert argv[:6] == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "pi@gw"]
    assert argv[6].startswith(
        f"sh -s -- {remote} /boot/firmware/polekit /boot/firmware/.polekit.old-"
    )


def test_push_installs_atomically_and_replaces(fake_ssh: Path, tmp_path: Path) -> None:
    boot = tmp_path / "gateway" / "boot"
    boot.mkdir(parents=True)
    target = SshTarget.parse(f"pi@gateway:{boot / 'polekit'}")
    push_bundle(target, files("pole-old"))
    push_bundle(target, files("pole-new"))

    bundle = read_bundle(boot / "polekit")
    assert bundle.config.device_id == "pole-new"
    assert stat.S_IMODE((boot / "polekit" / "device.key").stat().st_mode) == 0o600
    assert [p.name for p in boot.iterdir()] == ["polekit"]  # no staging or old copies left
    commands = fake_ssh.read_text().splitlines()
    assert [line.split()[0].rsplit("/", 1)[1] for line in commands] == ["scp", "ssh"] * 2


def test_leftovers_of_a_killed_push_are_cleaned_and_an_old_bundle_restored(
    fake_ssh: Path, tmp_path: Path
) -> None:
    boot = tmp_path / "boot"
    boot.mkdir()
    target = SshTarget.parse(f"pi@gateway:{boot / 'polekit'}")
    push_bundle(target, files("pole-old"))
    (boot / "polekit").rename(boot / ".polekit.old-1234")  # killed between the two renames
    (boot / ".polekit.tmp-5678").mkdir()  # killed during the copy
    push_bundle(target, files("pole-new"))
    assert read_bundle(boot / "polekit").config.device_id == "pole-new"
    assert [p.name for p in boot.iterdir()] == ["polekit"]


def test_refuses_a_remote_directory_that_is_not_a_bundle(fake_ssh: Path, tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("root:x:0:0\n")
    with pytest.raises(BundleWriteError, match="not a polekit bundle"):
        push_bundle(SshTarget.parse(f"pi@gateway:{tmp_path / 'etc'}"), files())
    assert (tmp_path / "etc" / "passwd").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_an_unreachable_gateway_says_what_to_check(
    fake_ssh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_SSH_DOWN", "1")
    with pytest.raises(BundleWriteError) as caught:
        push_bundle(SshTarget.parse(f"pi@gateway:{tmp_path / 'polekit'}"), files())
    message = str(caught.value)
    assert "Connection refused" in message
    assert "ssh pi@gateway` works without a password prompt" in message
    assert "previous bundle is unchanged" in message


def test_provision_over_ssh(fake_ssh: Path, tmp_path: Path) -> None:
    double = EnrollDouble(broker_url="mqtt://127.0.0.1:1883")
    url = double.start()
    try:
        boot = tmp_path / "gw-boot"
        boot.mkdir()
        done = polekit(
            "provision", "--fleet", url, "--claim", "good-token", "--pole", "P9",
            "--ssh", f"pi@gateway:{boot / 'polekit'}", "--board", "rpi4-rs485-hat",
            home=tmp_path,
        )  # fmt: skip
    finally:
        double.stop()
    assert done.returncode == 0, done.stdout + done.stderr
    bundle = read_bundle(boot / "polekit")
    assert (bundle.config.device_id, bundle.config.board) == ("pole-p9", "rpi4-rs485-hat")
