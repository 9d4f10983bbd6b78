"""Write a bundle to a gateway over SSH, atomically, with the system's `scp` and `ssh`.

The bundle is staged locally, copied with `scp -p -r` to a temporary directory beside the
remote target, then a small POSIX sh script on the gateway syncs it to disk and renames it
into place (keeping the old bundle until the new one is live), as provisioning/bundle.py
does locally.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from provisioning.bundle import BundleFile, BundleWriteError, write_bundle_dir

_SPEC = re.compile(
    r"^(?P<host>(?:[^@/:\s]+@)?(?:\[[0-9A-Fa-f:.]+\]|[^@/:\s\[\]]+)):(?P<path>/\S*)$"
)
SSH_OPTIONS = ("-o", "BatchMode=yes", "-o", "ConnectTimeout=10")

# $1 staging dir, $2 target dir, $3 name for the old bundle while the new one goes in.
REMOTE_SCRIPT = r"""
set -eu
tmp="$1"; target="$2"; old="$3"
dir=$(dirname "$target"); base=$(basename "$target")
for stale in "$dir/.$base.tmp-"*; do
  if [ -d "$stale" ] && [ "$stale" != "$tmp" ]; then rm -rf "$stale"; fi
done
for stale in "$dir/.$base.old-"*; do
  if [ -d "$stale" ]; then
    if [ -e "$target" ]; then rm -rf "$stale"; else mv "$stale" "$target"; fi
  fi
done
if [ -e "$target" ] && [ ! -f "$target/bundle.json" ] && [ -n "$(ls -A "$target")" ]; then
  rm -rf "$tmp"
  echo "polekit: $target exists and is not a polekit bundle; choose a new directory" >&2
  exit 3
fi
chmod 750 "$tmp"
sync
if [ -e "$target" ]; then mv "$target" "$old"; fi
if ! mv "$tmp" "$target"; then
  if [ -e "$old" ]; then mv "$old" "$target"; fi
  exit 4
fi
sync
rm -rf "$old"
"""


@dataclass(frozen=True, kw_only=True)
class SshTarget:
    """`user@host:/absolute/path` of a bundle directory on a gateway."""

    host: str
    path: PurePosixPath

    @classmethod
    def parse(cls, spec: str) -> SshTarget:
        """Parse the --ssh argument; ValueError with the expected shape otherwise."""
        match = _SPEC.match(spec)
        if not match or match["path"] in ("/", ""):
            raise ValueError(
                f"--ssh {spec!r} must look like user@host:/absolute/path/of/the/bundle "
                "(for example pi@192.0.2.10:/boot/firmware/polekit)"
            )
        return cls(host=match["host"], path=PurePosixPath(match["path"]))

    def __str__(self) -> str:
        return f"{self.host}:{self.path}"


def staging_path(target: SshTarget) -> PurePosixPath:
    """A fresh temporary directory name beside the remote target."""
    return target.path.parent / f".{target.path.name}.tmp-{uuid.uuid4().hex[:8]}"


def scp_command(local: Path, target: SshTarget, remote: PurePosixPath) -> list[str]:
    """argv copying the staged bundle directory to `remote` on the gateway (modes kept)."""
    return ["scp", *SSH_OPTIONS, "-p", "-r", "-q", str(local), f"{target.host}:{remote}"]


def ssh_command(target: SshTarget, remote: PurePosixPath) -> list[str]:
    """argv running REMOTE_SCRIPT (on stdin) to move `remote` into place."""
    old = target.path.parent / f".{target.path.name}.old-{uuid.uuid4().hex[:8]}"
    args = " ".join(shlex.quote(str(arg)) for arg in (remote, target.path, old))
    return ["ssh", *SSH_OPTIONS, target.host, f"sh -s -- {args}"]


def push_bundle(target: SshTarget, files: Sequence[BundleFile], *, timeout: float = 120.0) -> None:
    """Write the bundle on the gateway; BundleWriteError says what to check when it fails."""
    remote = staging_path(target)
    with tempfile.TemporaryDirectory(prefix="polekit-bundle-") as scratch:
        local = Path(scratch) / "bundle"
        write_bundle_dir(local, files)
        _run(scp_command(local, target, remote), target, "copy the bundle", timeout=timeout)
    _run(ssh_command(target, remote), target, "install the bundle", timeout=timeout,
         stdin=REMOTE_SCRIPT)  # fmt: skip


def _run(
    argv: list[str], target: SshTarget, what: str, *, timeout: float, stdin: str | None = None
) -> None:
    try:
        done = subprocess.run(
            argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise BundleWriteError(
            f"cannot {what}: `{argv[0]}` is not installed on this laptop (install OpenSSH)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise BundleWriteError(
            f"cannot {what} to {target}: no answer within {timeout:.0f} s; check that the "
            "gateway is powered and reachable (ping it) and run the same command again"
        ) from exc
    if done.returncode != 0:
        lines = (done.stderr or "").strip().splitlines()
        reason = lines[-1] if lines else f"{argv[0]} exited with {done.returncode}"
        raise BundleWriteError(
            f"cannot {what} to {target}: {reason}. Check that `ssh {target.host}` works "
            f"without a password prompt (ssh-copy-id) and that {target.path.parent} exists "
            "and is writable; the gateway's previous bundle is unchanged"
        )
