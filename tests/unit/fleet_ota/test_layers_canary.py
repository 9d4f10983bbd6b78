"""Pure parts of over-the-air config: layer merge and explain, preview diff, canary statistics."""

from __future__ import annotations

from fleet.domain.configs import diff, layers
from fleet.domain.configs.layers import Layer, LayerRef
from fleet.domain.rollouts import canary
from fleet.domain.rollouts.services import assign_stages


def _layer(scope: str, target: str, body: dict[str, object]) -> Layer:
    return Layer(ref=LayerRef(scope=scope, target=target, revision=1), body=body)


LATEST = {
    ("fleet", ""): _layer("fleet", "", {"health": {"interval": "30s"}, "buses": [{"name": "a"}]}),
    ("group", "city/d1"): _layer("group", "city/d1", {"health": {"interval": "15s"}}),
    ("group", "city/d1/s2"): _layer("group", "city/d1/s2", {"uplink": {"keepalive": "10s"}}),
    ("device", "p-1"): _layer("device", "p-1", {"buses": None, "health": {"interval": "5s"}}),
}


def test_chain_goes_fleet_then_groups_shallow_to_deep_then_device() -> None:
    chain = layers.chain(device_id="p-1", group_path="city/d1/s2", latest=LATEST)
    assert [(layer.ref.scope, layer.ref.target) for layer in chain] == [
        ("fleet", ""), ("group", "city/d1"), ("group", "city/d1/s2"), ("device", "p-1"),
    ]  # fmt: skip
    config = layers.effective({"device_id": "x", "uplink": {"broker": "b"}}, chain, "p-1")
    assert config == {
        "device_id": "p-1",
        "uplink": {"broker": "b", "keepalive": "10s"},
        "health": {"interval": "5s"},
    }


def test_explain_names_the_winning_layer_and_what_it_overrides() -> None:
    chain = layers.chain(device_id="p-2", group_path="city/d1/s9", latest=LATEST)
    winner, overridden = layers.setter_of(chain, layers.key_parts("health.interval"))
    assert winner is not None
    assert winner.ref.target == "city/d1"
    assert [layer.ref.target for layer in overridden] == [""]
    winner, _ = layers.setter_of(chain, layers.key_parts("buses[a].modbus_tcp.host"))
    assert winner is not None
    assert winner.ref.scope == "fleet"  # the fleet layer replaced the whole list
    assert layers.setter_of(chain, layers.key_parts("uplink.keepalive")) == (None, [])


def test_preview_counts_devices_per_change_and_sensors() -> None:
    bus = {"name": "rs485-1", "devices": [{"name": "meter", "poll": "10s"}]}
    old = {"device_id": "a", "buses": [bus]}
    faster = {"device_id": "a", "buses": [{**bus, "devices": [{"name": "meter", "poll": "5s"}]}]}
    more = {"device_id": "a", "buses": [{**bus, "devices": [*bus["devices"], {"name": "env"}]}]}
    lines, changed = diff.summarise(
        [diff.changes(old, faster)] * 3 + [diff.changes(old, more)] + [diff.changes(old, old)]
    )
    assert lines == [
        "3 devices: buses[rs485-1].devices[meter].poll 10s → 5s",
        "1 device: +1 sensor",
        "1 device: no change",
    ]
    assert changed == 4


def test_stages_are_cumulative_and_stable() -> None:
    ids = [f"d{i}" for i in range(1000)]
    stage_of = assign_stages(ids, [1, 10, 50, 100], salt="7")
    sizes = [sum(1 for s in stage_of.values() if s == k) for k in range(4)]
    assert sizes == [10, 90, 400, 500]
    assert assign_stages(ids, [1, 10, 50, 100], salt="7") == stage_of
    assert assign_stages(ids[:3], [1, 100], salt="7")["d0"] in (0, 1)


def _signals(
    n: int, *, failed: int = 0, backlog: int = 0, restarted: bool = False
) -> list[canary.Signals]:
    return [
        canary.Signals(
            polls_ok=100 - failed, polls_failed=failed, buffer_batches=backlog, restarted=restarted
        )
        for _ in range(n)
    ]


def test_canary_comparison_flags_only_significant_and_large_differences() -> None:
    control = _signals(100, failed=1)
    assert canary.compare(_signals(10, failed=1), control) is None
    assert canary.compare(_signals(10, failed=2), control) is None  # 2 % vs 1 %: too small
    worse = canary.compare(_signals(10, failed=30), control)
    assert worse is not None
    assert "poll error rate 30.0%" in worse
    restarts = canary.compare(_signals(10, failed=1, restarted=True), control)
    assert restarts is not None
    assert "restarted" in restarts
    backlog = canary.compare(_signals(10, failed=1, backlog=50), control)
    assert backlog is not None
    assert "backlog" in backlog
    assert canary.compare(_signals(3, failed=90), control) is None  # too few to judge
