"""`polekit agent status`: the accounting from the buffer database plus the agent's last heartbeat.

The running agent writes its latest Health (and uplink state) to a small JSON file beside
the buffer; the committed counters come from the buffer database itself, so the report is
right even after the agent stopped or was killed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import msgspec

from edge.buffer.status import read_buffer_status
from edge.config import AgentConfig
from protocol.messages import Health


def status_path(config: AgentConfig) -> Path:
    """Where the agent keeps its status file: next to the buffer database."""
    return Path(config.buffer.path + ".status.json")


def write_status_file(path: Path, *, health: Health, uplink: dict[str, Any]) -> None:
    """Atomically replace the status file (a reader never sees half a file)."""
    document = {"health": msgspec.to_builtins(health), "uplink": uplink}
    path.parent.mkdir(parents=True, exist_ok=True)
    # One writer (the agent), so a fixed temporary name will do: no tempfile module (it
    # pulls shutil, bz2 and lzma into the agent, about 0.6 MiB resident).
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(msgspec.json.encode(document))
    os.replace(tmp, path)


def read_status(config: AgentConfig) -> dict[str, Any]:
    """Everything status shows, as plain data (also what --json prints)."""
    report: dict[str, Any] = {"device_id": config.device_id, "buffer_path": config.buffer.path}
    try:
        buffer = read_buffer_status(config.buffer.path)
    except FileNotFoundError:
        report["error"] = (
            f"no buffer database at {config.buffer.path}: the agent has not run with this config"
        )
        return report
    accounting = buffer.accounting
    report["accounting"] = msgspec.to_builtins(accounting)
    report["accounting_balanced"] = accounting.is_balanced()
    report["buffer"] = msgspec.to_builtins(buffer.stats)
    report["disk_full_events"] = buffer.disk_full_events
    try:
        report["last_heartbeat"] = json.loads(status_path(config).read_text())
        report["last_heartbeat_age_s"] = round(_now() - status_path(config).stat().st_mtime, 1)
    except (OSError, ValueError):
        report["last_heartbeat"] = None
    return report


def format_status(report: dict[str, Any]) -> str:
    """A short human-readable report."""
    lines = [f"device {report['device_id']}  buffer {report['buffer_path']}"]
    if "error" in report:
        lines.append(report["error"])
        return "\n".join(lines)
    acc = report["accounting"]
    lines.append("readings (committed):")
    names = ["read", "out_of_range", "filtered", "aggregated_out", "dropped_buffer_full"]
    names += ["delivered", "buffered"]
    lines.extend(f"  {name:<20} {acc[name]:>12,}" for name in names if name in acc)
    balance = "balanced" if report["accounting_balanced"] else "NOT balanced (please report)"
    lines.append(f"  accounting is {balance}")
    buf = report["buffer"]
    age = buf.get("oldest_age")
    lines.append(
        f"buffer: {buf['batches']} batches, {buf['bytes_on_disk']:,} bytes on disk, "
        f"{buf['inflight']} in flight, oldest {'-' if age is None else f'{age:.0f} s'} old"
    )
    beat = report.get("last_heartbeat")
    if beat is None:
        lines.append("agent: no heartbeat file (not running, or not yet reported)")
        return "\n".join(lines)
    uplink = beat.get("uplink", {})
    connected = "connected" if uplink.get("connected") else "DISCONNECTED"
    lines.append(f"agent: heartbeat {report['last_heartbeat_age_s']} s ago, uplink {connected}")
    for device in beat["health"].get("devices", []):
        state = "online " if device["online"] else "OFFLINE"
        age = device.get("last_reading_age_s")
        last = "never" if age is None else f"{age:.0f} s ago"
        error = f"  ({device['last_error']})" if device.get("last_error") else ""
        lines.append(f"  {device['bus']}/{device['name']}: {state} last reading {last}{error}")
    return "\n".join(lines)


def _now() -> float:
    import time

    return time.time()
