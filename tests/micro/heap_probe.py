"""Measure, on MicroPython, the heap the micro agent needs to encode and buffer a batch.

Run by tests/bench/bench_micro_heap.py through run.mjs; prints one JSON line. With the
collector disabled nothing is freed, so the growth of gc.mem_alloc() over one cycle (50
readings submitted, encoded, staged, flushed to the ring file, read back, acked) is an upper
bound of the cycle's peak heap. The idle agent's own heap (modules, ring, pipeline) is
reported next to it.
"""

import gc
import json
import os
import sys
import time

gc.collect()
start = gc.mem_alloc()

from edge.micro.accounting import Counts  # noqa: E402 - measured: the import cost is the point
from edge.micro.filters import build_chain  # noqa: E402
from edge.micro.pipeline import Pipeline  # noqa: E402
from edge.micro.ring import Ring  # noqa: E402
from protocol.core import ed25519, senml_pack  # noqa: E402
from protocol.core.signed import open_envelope  # noqa: E402

BOOT = "00112233aabbccdd"
CHANNELS = [
    ("meter/voltage", "V"),
    ("meter/current", "A"),
    ("meter/active_power", "W"),
    ("meter/frequency", "Hz"),
    ("env/temperature", "Cel"),
    ("env/humidity", "%RH"),
    ("env/pm2_5", "ug/m3"),
    ("env/pm10", "ug/m3"),
    ("env/noise", "dB"),
    ("lamp/on", ""),
]


def cycle(pipeline: "Pipeline", ring: "Ring", seq: int, t0: int) -> None:
    """One batch of 50 readings (5 polls of 10 channels) from submit to ack."""
    for index in range(50):
        name, unit = CHANNELS[index % len(CHANNELS)]
        value = index % 7 == 0 if unit == "" else 200.0 + index * 0.37
        pipeline.submit(name, t0 + (index // 10) * 1000, value, unit)
    ring.flush()
    for entry, _ in ring.take_unsent(4, t0):
        ring.acknowledge(BOOT, [[entry.seq, entry.seq]])


os.mkdir("/work/bench")
counts = Counts()
ring = Ring("/work/bench/ring.bin", counts, 128, 512, 4096, 60000)
pipeline = Pipeline(ring, counts, BOOT, 50, 5000)
pipeline.set_policy("env/pm2_5", 0.0, 1000.0, build_chain([{"deadband": 0.1}]))
cycle(pipeline, ring, 0, 1700000000000)  # warm up: first-use tables (CRC) are not per batch
gc.collect()
idle = gc.mem_alloc()

gc.disable()
before = gc.mem_alloc()
cycle(pipeline, ring, 1, 1700000010000)
cycle_bytes = gc.mem_alloc() - before
gc.enable()
gc.collect()

# The same cycle on the exact-integer time path a float32 port (generic ESP32) takes.
senml_pack.DOUBLE = False
gc.collect()
gc.disable()
before = gc.mem_alloc()
cycle(pipeline, ring, 2, 1700000020000)
cycle_exact_bytes = gc.mem_alloc() - before
gc.enable()
senml_pack.DOUBLE = True
gc.collect()

batch_bytes = 0
for name in os.listdir("/work/bench"):
    batch_bytes = max(batch_bytes, os.stat("/work/bench/" + name)[6])

# Ed25519 verification of a config envelope: time and heap.
SIG = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bac"
    "c61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)
KEY = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
runs = 10
started = time.ticks_us()
for _ in range(runs):
    assert ed25519.verify(KEY, b"", SIG)
verify_ms = time.ticks_diff(time.ticks_us(), started) / runs / 1000
gc.collect()
gc.disable()
before = gc.mem_alloc()
ed25519.verify(KEY, b"", SIG)
verify_alloc = gc.mem_alloc() - before
gc.enable()
gc.collect()
assert open_envelope is not None

VERSION = ".".join(str(part) for part in sys.implementation.version[:3])
print(
    json.dumps(
        {
            "interpreter": "micropython "
            + ".".join(str(p) for p in sys.implementation.version[:3]),
            "readings_per_batch": 50,
            "cycle_peak_bound_bytes": cycle_bytes,
            "cycle_peak_bound_bytes_float32_path": cycle_exact_bytes,
            "idle_agent_heap_bytes": idle - start,
            "heap_before_imports_bytes": start,
            "peak_bound_total_bytes": idle - start + cycle_bytes,
            "ring_file_bytes": batch_bytes,
            "ed25519_verify_ms_wasm": round(verify_ms, 2),
            "ed25519_verify_alloc_bytes": verify_alloc,
        }
    )
)
