"""Benchmark: register blocks decoded into readings, the agent's per-poll hot path.

Three real register maps from the catalogue, decoded exactly as the bus scheduler does
(one compiled BlockDecoder per planned request, then one Reading per channel): the
SDM630's 41 float32 channels, the street-light controller's mixed block (scaled
integers, u32, bit-field flags, an enum, a string) and the weather station's scaled
u16/i16/u32 block. The register bytes come from each driver's simulator. One core, no
I/O. Target: >= 200,000 values/s. Prints one JSON object (last line) and writes
tests/bench/results/decode.json.

    python tests/bench/bench_decode.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from drivers.registry import load_driver  # noqa: E402
from drivers.sim.device import SimulatedDevice  # noqa: E402
from edge.config import BusConfig, DeviceConfig, ModbusTcpConfig  # noqa: E402
from edge.devices import CompiledRead, build_device  # noqa: E402
from edge.model import Reading  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "decode.json"
DRIVERS = ("eastron_sdm630", "streetlight_dimmer", "rs485_weather")
TARGET = 200_000


def blocks(driver_name: str) -> list[tuple[CompiledRead, bytes]]:
    """Every planned read of the driver with the bytes its simulator answers."""
    bus = BusConfig(name="bench", modbus_tcp=ModbusTcpConfig(host="127.0.0.1"))
    device = build_device(DeviceConfig(name="dev", driver=driver_name), bus=bus, path="bench")
    sim = SimulatedDevice(load_driver(driver_name), 1, seed=1)
    out = []
    for read in device.reads:
        request = read.request
        values = sim.read(request.register_type, request.address, request.count)
        if request.register_type.is_bit:
            raw = bytes(values)
        else:
            raw = b"".join(v.to_bytes(2, "big") for v in values)
        out.append((read, raw))
    return out


def run(work: list[tuple[CompiledRead, bytes]], seconds: float) -> tuple[int, float]:
    """Decode the blocks round after round for about seconds; (values, elapsed)."""
    values = 0
    sink: list[Reading] = []
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            for read, raw in work:
                decoded = read.decoder.decode(raw)
                ts = time.time()
                sink.extend(
                    [
                        Reading("dev", channel.name, value, ts, channel.unit)
                        for channel, value in zip(read.channels, decoded, strict=True)
                    ]
                )
                values += len(decoded)
            sink.clear()
        now = time.perf_counter()
        if now >= deadline:
            return values, now - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    per_driver = {}
    total_values, total_time = 0, 0.0
    for name in DRIVERS:
        work = blocks(name)
        run(work, 0.2)  # warm up
        values, elapsed = run(work, args.seconds / len(DRIVERS))
        per_driver[name] = {
            "values_per_s": round(values / elapsed),
            "channels": sum(len(read.channels) for read, _ in work),
            "requests": len(work),
        }
        total_values += values
        total_time += elapsed
    rate = round(total_values / total_time)
    result = {
        "benchmark": "decode",
        "values_per_s": rate,
        "target_values_per_s": TARGET,
        "meets_target": rate >= TARGET,
        "drivers": per_driver,
        "seconds": round(total_time, 2),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0 if result["meets_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
