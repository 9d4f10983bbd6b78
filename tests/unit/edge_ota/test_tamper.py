"""Tampered desired configs: every mutation is refused and the active config stays as it was."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from edge.config_apply import apply_envelope
from edge.config_store import ConfigStore
from edge.config_supervisor import NO_TRUST_ROOT
from protocol.core import cbor, signed
from tests.unit.edge_ota.signing import DEVICE, Signer, config

N_MUTATIONS = 1000


async def _never(_config: object) -> str | None:
    raise AssertionError("a tampered document reached the health window")


async def _healthy(_config: object) -> str | None:
    return None


def _flip(data: bytes, rng: random.Random) -> bytes:
    index = rng.randrange(len(data))
    return data[:index] + bytes([data[index] ^ (1 << rng.randrange(8))]) + data[index + 1 :]


def _parts(envelope: bytes) -> tuple[str, bytes, bytes]:
    value = cbor.loads(envelope)
    return value["kid"], value["doc"], value["sig"]


def _pack(kid: str, doc: bytes, sig: bytes) -> bytes:
    return cbor.dumps(cbor.OrderedMap([("v", 1), ("kid", kid), ("doc", doc), ("sig", sig)]))


def _mutant(kind: str, good: bytes, signer: Signer, rng: random.Random) -> bytes:
    kid, doc, sig = _parts(good)
    if kind == "payload":
        return _pack(kid, _flip(doc, rng), sig)
    if kind == "signature":
        return _pack(kid, doc, _flip(sig, rng))
    if kind == "kid":
        return _pack(_flip(kid.encode(), rng).decode(errors="replace"), doc, sig)
    if kind == "envelope":
        return _flip(good, rng)
    if kind == "wrong_key":
        return Signer(kid=signer.kid).envelope(6 + rng.randrange(100), config(poll="5s"))
    if kind == "unsigned":
        return rng.choice(
            [doc, _pack(kid, doc, b""), _pack(kid, doc, bytes(64)), cbor.dumps({"doc": doc})]
        )
    if kind == "older":
        return signer.envelope(rng.randrange(0, 5), config(poll=f"{rng.randrange(1, 60)}s"))
    if kind == "same_version":
        return signer.envelope(5, config(poll=f"{rng.randrange(11, 60)}s"))
    raise AssertionError(kind)


KINDS = (
    "payload",
    "signature",
    "kid",
    "envelope",
    "wrong_key",
    "unsigned",
    "older",
    "same_version",
)


async def test_every_mutation_is_rejected_and_the_active_config_is_unchanged(
    tmp_path: Path,
) -> None:
    signer = Signer()
    store = ConfigStore(tmp_path / "state")
    good = signer.envelope(5, config())
    outcome = await apply_envelope(store, good, keys=signer.keys, device_id=DEVICE, trial=_healthy)
    assert outcome is not None
    assert outcome.status == "applied"
    before_state = (store.directory / "state.json").read_bytes()
    before_docs = sorted(p.name for p in (store.directory / "docs").iterdir())
    rng = random.Random(5)
    newer = signer.envelope(6, config(poll="5s"))
    counts = dict.fromkeys(KINDS, 0)
    for i in range(N_MUTATIONS):
        kind = KINDS[i % len(KINDS)]
        mutant = _mutant(kind, rng.choice([good, newer]), signer, rng)
        outcome = await apply_envelope(
            store, mutant, keys=signer.keys, device_id=DEVICE, trial=_never
        )
        assert outcome is not None, (kind, mutant)
        assert outcome.status == "rejected", (kind, outcome)
        counts[kind] += 1
    assert min(counts.values()) >= N_MUTATIONS // len(KINDS)
    assert (store.directory / "state.json").read_bytes() == before_state
    assert sorted(p.name for p in (store.directory / "docs").iterdir()) == before_docs
    assert ConfigStore(store.directory).active() == store.active()
    assert store.state.active_version == 5


async def test_the_same_document_again_is_no_change(tmp_path: Path) -> None:
    signer = Signer()
    store = ConfigStore(tmp_path)
    good = signer.envelope(3, config())
    await apply_envelope(store, good, keys=signer.keys, device_id=DEVICE, trial=_healthy)
    again = await apply_envelope(store, good, keys=signer.keys, device_id=DEVICE, trial=_never)
    assert again is not None
    assert (again.version, again.status) == (3, "applied")


async def test_without_a_trust_root_nothing_applies(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    outcome = await apply_envelope(
        store, Signer().envelope(1, config()), keys={}, device_id=DEVICE, trial=_never
    )
    assert outcome is not None
    assert outcome.status == "rejected"
    assert "no trust root" in (outcome.reason or "")
    assert store.active() is None
    assert "trust root" in NO_TRUST_ROOT


async def test_a_config_for_another_device_or_invalid_is_rejected_with_the_field(
    tmp_path: Path,
) -> None:
    signer = Signer()
    store = ConfigStore(tmp_path)
    other = dict(config(), device_id="pole-other")
    outcome = await apply_envelope(
        store, signer.envelope(1, other), keys=signer.keys, device_id=DEVICE, trial=_never
    )
    assert outcome is not None
    assert "pole-other" in (outcome.reason or "")
    bad = config()
    bad["health"] = {"interval": "soon"}
    outcome = await apply_envelope(
        store, signer.envelope(2, bad), keys=signer.keys, device_id=DEVICE, trial=_never
    )
    assert outcome is not None
    assert outcome.status == "rejected"
    assert "health.interval" in (outcome.reason or "")


async def test_a_failed_health_window_rolls_back_and_is_not_retried(tmp_path: Path) -> None:
    signer = Signer()
    store = ConfigStore(tmp_path)
    await apply_envelope(
        store, signer.envelope(1, config()), keys=signer.keys, device_id=DEVICE, trial=_healthy
    )

    async def sick(_config: object) -> str | None:
        return "bus lan: no successful poll in 30 s"

    bad = signer.envelope(2, config(poll="1s"))
    outcome = await apply_envelope(store, bad, keys=signer.keys, device_id=DEVICE, trial=sick)
    assert outcome is not None
    assert (outcome.version, outcome.status) == (2, "rolled_back")
    assert store.state.active_version == 1
    active = store.active()
    assert active is not None
    assert active.config == config()
    again = await apply_envelope(store, bad, keys=signer.keys, device_id=DEVICE, trial=_never)
    assert again is not None
    assert (again.status, again.reason) == ("rolled_back", outcome.reason)


@pytest.mark.parametrize("fresh", [True, False])
async def test_a_signed_rollback_must_be_issued_after_the_newest_accepted(
    tmp_path: Path, fresh: bool
) -> None:
    signer = Signer()
    store = ConfigStore(tmp_path)
    issued = time.time()
    for version in (1, 2):
        await apply_envelope(
            store,
            signer.envelope(version, config(poll=f"{version}s"), issued_at=issued + version),
            keys=signer.keys,
            device_id=DEVICE,
            trial=_healthy,
        )
    back = signer.envelope(
        1, config(poll="1s"), rollback=True, issued_at=issued + (10 if fresh else 1.5)
    )
    outcome = await apply_envelope(store, back, keys=signer.keys, device_id=DEVICE, trial=_healthy)
    assert outcome is not None
    assert outcome.status == ("applied" if fresh else "rejected")
    assert store.state.active_version == (1 if fresh else 2)
    assert store.state.highest == 2


def test_bit_flip_helper_changes_exactly_one_bit() -> None:
    rng = random.Random(1)
    data = signed.CONTEXT
    flipped = _flip(data, rng)
    diff = [a ^ b for a, b in zip(data, flipped, strict=True) if a != b]
    assert len(diff) == 1
    assert bin(diff[0]).count("1") == 1
