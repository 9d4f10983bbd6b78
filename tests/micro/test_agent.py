"""The whole micro agent stepped by hand: simulated Modbus device, fake MQTT client, ring on
the file system, signed config from the 'fleet'."""

import struct

from edge.micro.agent import Agent
from edge.micro.modbus import ModbusMaster
from protocol.core import cbor
from protocol.core.signed import encode_doc, encode_envelope
from tests.micro.ed25519_sign import public_key, sign
from tests.micro.fake_uart import FakeUart
from tests.micro.support import FakeMqtt, fresh_dir

BOOT = "0123456789abcdef"
DEVICE = "pole-9"
SECRET = bytes(range(32))
KID = "fleet-1"
T0 = 1700000000000
# A compiled driver as `polekit micro compile-driver` writes it (see edge/micro/registers.py).
ENV_DRIVER = {
    "v": 1,
    "name": "env",
    "reads": [
        [
            3,
            0,
            5,
            [
                ["humidity", 0, "H", False, False, 1.0, 10.0, 0.0, "%RH"],
                ["temperature", 1, "h", False, False, 1.0, 10.0, 0.0, "Cel"],
                ["pm2_5", 4, "H", False, False, None, None, 0.0, "ug/m3"],
            ],
        ]
    ],
    "policies": {"pm2_5": {"range": [0.0, 1000.0], "filters": [{"deadband": 2}]}},
}


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


def _setup(trust: bool = True) -> tuple[Agent, FakeUart, FakeMqtt, Clock]:
    root = fresh_dir("agent")
    import os

    os.mkdir(root + "/drivers")
    with open(root + "/drivers/env.pkd", "wb") as handle:
        handle.write(cbor.dumps(ENV_DRIVER))
    bundle = {
        "device_id": DEVICE,
        "trust": {KID: public_key(SECRET).hex()} if trust else {},
        "buffer": {"slots": 64, "slot_size": 256, "flush_bytes": 2048, "flush_interval_s": 10},
        "uplink": {"window": 2, "ack_timeout_s": 30},
        "config": {
            "devices": [{"name": "env", "driver": "env", "unit": 1, "poll_s": 1}],
            "batch": {"max": 6, "interval_s": 5},
            "health_interval_s": 60,
        },
    }
    uart = FakeUart(unit=1)
    uart.set_words(3, 0, [551, struct.unpack(">H", struct.pack(">h", -35))[0], 0, 0, 35])
    mqtt = FakeMqtt()
    clock = Clock()
    agent = Agent(
        bundle,
        root,
        ModbusMaster(uart, timeout_ms=20),
        lambda: mqtt,
        BOOT,
        clock,
        lambda: (30000, 90000),
        lambda: -61,
    )
    return agent, uart, mqtt, clock


def _run(agent: Agent, clock: Clock, seconds: int) -> None:
    for _ in range(seconds):
        agent.step(clock.now)
        clock.now += 1000


def _ack(mqtt: FakeMqtt, first: int, last: int) -> None:
    ack = {"entries": [[BOOT, [[first, last]]]]}
    mqtt.deliver("pk/v1/" + DEVICE + "/ack", cbor.dumps(ack))


def test_readings_are_batched_published_and_deleted_on_ack() -> None:
    agent, _, mqtt, clock = _setup()
    _run(agent, clock, 4)  # 4 polls: humidity and temperature each time, pm2_5 once
    assert mqtt.on("/state") == [b"online"]
    assert mqtt.will == ("pk/v1/pole-9/state", b"offline", True, 1)
    batches = mqtt.on("/telemetry")
    assert len(batches) == 1
    pack = cbor.loads(batches[0])
    assert pack[0]["bid"] == BOOT
    assert pack[0]["seq"] == 0
    assert pack[0][-3] == T0 / 1000
    assert [(r[0], r[2]) for r in pack[:3]] == [
        ("env/humidity", 55.1),
        ("env/temperature", -3.5),
        ("env/pm2_5", 35.0),
    ]
    assert agent.ring.batches() == 1
    _ack(mqtt, 0, 0)
    _run(agent, clock, 1)
    assert agent.ring.batches() == 0
    assert agent.counts.delivered == 6
    assert agent.counts.filtered == 4  # pm2_5 stays at 35: only its first reading passes


def test_health_reports_counts_heap_and_rssi() -> None:
    agent, _, mqtt, clock = _setup()
    _run(agent, clock, 3)
    health = cbor.loads(mqtt.on("/health")[0])
    assert health["boot_id"] == BOOT
    assert health["free_heap"] == 90000
    assert health["rss_bytes"] == 30000
    assert health["wifi_rssi"] == -61
    assert health["devices"][0]["name"] == "env"
    assert health["devices"][0]["online"] is True
    counts = agent.health(clock.now)
    c = cbor.loads(counts)["counts"]
    left = c["read"] - c["out_of_range"] - c["filtered"] + c["aggregated_out"]
    assert left == c["dropped_buffer_full"] + c["delivered"] + c["buffered"] + c["pending"]
    assert c["read"] == 9


def test_silent_device_goes_offline_and_recovers() -> None:
    agent, uart, _mqtt, clock = _setup()
    uart.silent = True
    _run(agent, clock, 2)
    device = agent.devices[0]
    assert device.failures == 2
    assert "no complete reply" in str(device.last_error)
    uart.silent = False
    _run(agent, clock, 1)
    assert device.failures == 0


def test_broker_outage_keeps_batches_until_delivered() -> None:
    agent, _, mqtt, clock = _setup()
    mqtt.fail_connect = True
    _run(agent, clock, 30)  # 30 polls -> 10 batches of 6, buffered
    assert mqtt.on("/telemetry") == []
    assert agent.ring.batches() == 10
    assert agent.ring.flash_writes >= 1
    mqtt.fail_connect = False
    agent.uplink.ack_timeout_ms = 10**9  # no resends while this test holds the acks back
    _run(agent, clock, 40)  # the backoff has grown; the window of 2 limits what is in flight
    assert len(mqtt.on("/telemetry")) == 2
    for _ in range(20):  # the fleet acks exactly what reached it
        for payload in mqtt.on("/telemetry"):
            seq = cbor.loads(payload)[0]["seq"]
            _ack(mqtt, seq, seq)
        _run(agent, clock, 1)
    seqs = sorted({cbor.loads(p)[0]["seq"] for p in mqtt.on("/telemetry")})
    assert seqs[:10] == list(range(10))
    assert agent.ring.batches() <= 1  # the newest batch may still wait for its ack
    assert agent.counts.dropped_buffer_full == 0


def _desired(version: int, config: dict, rollback: bool = False, secret: bytes = SECRET) -> bytes:
    doc = encode_doc(version, config, 1700000000.0, rollback)
    return encode_envelope(doc, KID, lambda data: sign(secret, data))


def _reports(mqtt: FakeMqtt) -> list[tuple[int, str]]:
    return [(r["version"], r["status"]) for r in map(cbor.loads, mqtt.on("/config/reported"))]


def test_signed_config_applies_once_and_never_goes_back_unless_rollback() -> None:
    agent, _, mqtt, clock = _setup()
    _run(agent, clock, 1)
    topic = "pk/v1/" + DEVICE + "/config/desired"
    fast = {"devices": [{"name": "env", "driver": "env", "unit": 1, "poll_s": 2}]}
    mqtt.deliver(topic, _desired(2, fast))
    _run(agent, clock, 1)
    assert agent.devices[0].poll_ms == 2000
    mqtt.deliver(topic, _desired(2, fast))  # the retained copy after a reconnect
    mqtt.deliver(topic, _desired(1, fast))  # an old document replayed
    mqtt.deliver(topic, _desired(3, fast, secret=bytes(32)))  # signed by someone else
    mqtt.deliver(topic, _desired(4, {"devices": [{"name": "x", "driver": "gone", "unit": 1}]}))
    mqtt.deliver(topic, _desired(1, fast, rollback=True))
    _run(agent, clock, 1)
    assert _reports(mqtt) == [
        (2, "applied"),
        (1, "rejected"),
        (-1, "rejected"),
        (4, "rejected"),
        (1, "applied"),
    ]
    assert agent.guard.highest == 2
    assert agent.devices[0].poll_ms == 2000


def test_config_survives_a_reboot_and_without_trust_root_nothing_applies() -> None:
    agent, _, mqtt, clock = _setup(trust=False)
    _run(agent, clock, 1)
    mqtt.deliver("pk/v1/" + DEVICE + "/config/desired", _desired(5, {"devices": []}))
    _run(agent, clock, 1)
    assert _reports(mqtt) == [(-1, "rejected")]
    assert "trust root" in cbor.loads(mqtt.on("/config/reported")[0])["reason"]
    assert len(agent.devices) == 1
