"""Crash-safe file replacement: a SIGKILL or power cut leaves the old or the new content.

The config store calls `checkpoint(name)` between the steps, so a fault-injection test can
kill the process exactly there (see edge/config_store.py).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

Checkpoint = Callable[[str], None]


def no_checkpoint(_name: str) -> None:
    """The production checkpoint: does nothing."""


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink inside `path` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, *, checkpoint: Checkpoint = no_checkpoint) -> None:
    """Write to a temporary file, fsync it, rename it over `path`, fsync the directory."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        half = len(data) // 2
        os.write(fd, data[:half])
        checkpoint(f"write-half:{path.name}")
        os.write(fd, data[half:])
        os.fsync(fd)
    finally:
        os.close(fd)
    checkpoint(f"before-rename:{path.name}")
    os.replace(tmp, path)
    checkpoint(f"after-rename:{path.name}")
    fsync_dir(path.parent)


def remove_temporaries(directory: Path) -> None:
    """Delete what an interrupted atomic_write left behind."""
    for stray in directory.glob(".*.tmp"):
        stray.unlink(missing_ok=True)
