"""Finish one queued claim: enroll (with retries), write the bundle, forget the claim."""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path

from provisioning import pending
from provisioning.bundle import BundleWriteError, build_bundle, write_bundle_dir
from provisioning.enroll import EnrollError, EnrollResponse, enroll
from provisioning.http import FleetUnreachable
from provisioning.micro_target import install_micro
from provisioning.ssh import SshTarget, push_bundle


class Outcome(enum.IntEnum):
    """How a claim ended; the value is the exit code `polekit provision` returns."""

    DONE = 0
    FAILED = 1
    QUEUED = 75  # EX_TEMPFAIL: try again later with --resume


def worst(outcomes: list[Outcome]) -> Outcome:
    """FAILED over QUEUED over DONE, for a --resume of several claims."""
    for outcome in (Outcome.FAILED, Outcome.QUEUED):
        if outcome in outcomes:
            return outcome
    return Outcome.DONE


def complete(
    entry: pending.QueuedClaim,
    *,
    attempts: int,
    delay: float,
    say: Callable[[str], None],
) -> Outcome:
    """Enroll and write the bundle; keep the claim queued when that can succeed later."""
    claim = entry.claim
    pole = claim.request.pole.pole_id
    say(f"enrolling pole {pole} (key {entry.key.fingerprint}) with {claim.fleet_url} ...")
    try:
        response = enroll(
            claim.fleet_url, claim.request, attempts=attempts, delay=delay, progress=say
        )
    except FleetUnreachable as exc:
        return _queue(entry, f"fleet unreachable: {exc}", say)
    except EnrollError as exc:
        if exc.retryable:
            return _queue(entry, f"fleet answered {exc.code}: {exc.detail}", say)
        pending.remove(entry)
        say(f"error: the fleet refused the claim ({exc}): {exc.hint}")
        return Outcome.FAILED
    say(f"enrolled as device {response.device_id}; writing the bundle to {claim.target} ...")
    try:
        _write(entry, response, say)
    except BundleWriteError as exc:
        entry.claim.last_error = str(exc)
        pending.save(entry)
        say(
            f"error: {exc}. The device is enrolled; once fixed, run `polekit provision "
            "--resume` to write its bundle (the claim stays queued)"
        )
        return Outcome.FAILED
    pending.remove(entry)
    say(f"done: bundle for {response.device_id} written to {claim.target}")
    first = "the controller restarted into the agent" if claim.target_micro else "power the gateway"
    say(
        f"next: {first}, then run `polekit verify {response.device_id} "
        f"--fleet {claim.fleet_url}"
        + (f" --bundle {claim.target_dir}`" if claim.target_dir else "`")
    )
    return Outcome.DONE


def _write(
    entry: pending.QueuedClaim, response: EnrollResponse, say: Callable[[str], None]
) -> None:
    claim = entry.claim
    if claim.target_micro:
        extras = {"pole_id": claim.request.pole.pole_id, "fleet_url": claim.fleet_url}
        install_micro(
            claim.target_micro, response, board=claim.board, overlay=claim.overlay,
            extras=extras, say=say,
        )  # fmt: skip
        return
    files = build_bundle(
        response,
        entry.key,
        overlay=claim.overlay,
        board=claim.board,
        serial=claim.request.serial,
        pole_id=claim.request.pole.pole_id,
        fleet_url=claim.fleet_url,
    )
    if claim.target_ssh:
        push_bundle(SshTarget.parse(claim.target_ssh), files)
    elif claim.target_dir:
        write_bundle_dir(Path(claim.target_dir), files)


def _queue(entry: pending.QueuedClaim, problem: str, say: Callable[[str], None]) -> Outcome:
    entry.claim.last_error = problem
    pending.save(entry)
    say(
        f"{problem}. The claim is queued in {entry.path}; when the network is back run "
        "`polekit provision --resume` (the same key and request are sent again, which the "
        "fleet treats as the same device)"
    )
    return Outcome.QUEUED
