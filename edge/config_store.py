"""The agent's durable config state: immutable documents plus one atomically replaced pointer.

```
state/docs/doc-<sha>.json   one desired config as received (version, issued_at, config)
state/state.json            which doc is active, which was before, trial flag, anti-rollback
```

Every transition is one atomic replacement of state.json, written after the documents it
names are on disk, so a SIGKILL at any step leaves the old or the new state, never a mix.
A state still marked `trial` at start-up means the agent died inside a health window: it
goes back to the previous config (a gateway never bricks itself on an unproven config).
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
from pathlib import Path
from typing import Any, Literal

import msgspec

from edge.atomic_files import Checkpoint, atomic_write, fsync_dir, no_checkpoint, remove_temporaries

log = logging.getLogger(__name__)
STATE_FILE = "state.json"
DOCS_DIR = "docs"
KILL_ENV = "POLEKIT_APPLY_KILL_AT"
_MAX_FAILED = 16
Status = Literal["applied", "rejected", "rolled_back"]


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    """The last result to report on config/reported (kept until the broker has it)."""

    version: int
    status: Status
    reason: str | None = None


class StoredDoc(msgspec.Struct, frozen=True, kw_only=True):
    """A verified desired config as kept on disk."""

    version: int
    issued_at: float
    config: dict[str, Any]


class StoreState(msgspec.Struct, kw_only=True):
    """state.json: the pointer to the active document and the anti-rollback memory."""

    active: str | None = None
    """Doc file name in force; None: the local (bundle or --config) config."""
    active_version: int = 0
    previous: str | None = None
    previous_version: int = 0
    trial: bool = False
    """True between the swap and the end of the health window."""
    highest: int = 0
    """Highest version ever tried (applied or rolled back): older ones are replays."""
    last_issued_at: float = 0.0
    """issued_at of the newest accepted document: a signed rollback must be newer still."""
    failed: dict[int, str] = msgspec.field(default_factory=dict)
    outcome: Outcome | None = None


def digest(config: dict[str, Any]) -> str:
    """A content hash of a config dict (canonical JSON), used in doc file names."""
    canonical = msgspec.json.encode(config, order="sorted")
    return hashlib.sha256(canonical).hexdigest()[:24]


def checkpoint_from_env() -> Checkpoint:
    """A checkpoint that SIGKILLs this process at step N (or named step) of $POLEKIT_APPLY_KILL_AT.

    Only fault-injection tests set the variable; without it the checkpoint does nothing.
    """
    target = os.environ.get(KILL_ENV)
    if not target:
        return no_checkpoint
    count = 0

    def checkpoint(name: str) -> None:
        nonlocal count
        count += 1
        if target in (str(count), name):
            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


class ConfigStore:
    """Reads and moves the durable config state of one agent."""

    def __init__(self, directory: str | Path, *, checkpoint: Checkpoint = no_checkpoint) -> None:
        self.directory = Path(directory)
        self._docs = self.directory / DOCS_DIR
        self._checkpoint = checkpoint
        self._docs.mkdir(parents=True, exist_ok=True)
        remove_temporaries(self.directory)
        remove_temporaries(self._docs)
        self.state = self._load()

    def _load(self) -> StoreState:
        path = self.directory / STATE_FILE
        try:
            return msgspec.json.decode(path.read_bytes(), type=StoreState)
        except FileNotFoundError:
            return StoreState()
        except (OSError, msgspec.DecodeError) as exc:
            # Atomic writes make this unreachable short of disk damage; start on the local config.
            log.error(  # noqa: TRY400 - the cause is in the message, a traceback adds nothing
                "config state %s is unreadable (%s); using the local config", path, exc
            )
            return StoreState()

    def _save(self, state: StoreState, step: str) -> None:
        self._checkpoint(f"save:{step}")
        atomic_write(
            self.directory / STATE_FILE, msgspec.json.encode(state), checkpoint=self._checkpoint
        )
        self.state = state
        self._checkpoint(f"saved:{step}")

    def recover(self) -> Outcome | None:
        """Finish what a killed agent left: a config still on trial goes back to the previous."""
        if self.state.trial:
            return self.revert("the agent restarted during the health window")
        return None

    def read(self, name: str | None) -> StoredDoc | None:
        """A stored document by file name; None for the local config or an unreadable file."""
        if name is None:
            return None
        try:
            return msgspec.json.decode((self._docs / name).read_bytes(), type=StoredDoc)
        except (OSError, msgspec.DecodeError) as exc:
            log.error("config document %s is unreadable: %s", name, exc)  # noqa: TRY400
            return None

    def active(self) -> StoredDoc | None:
        """The document in force (on trial or committed); None: the local config."""
        return self.read(self.state.active)

    def stage(self, doc: StoredDoc) -> str:
        """Write a verified document to disk (not yet in force); returns its file name."""
        name = f"doc-{doc.version}-{digest(doc.config)}.json"
        path = self._docs / name
        if not path.exists():
            atomic_write(path, msgspec.json.encode(doc), checkpoint=self._checkpoint)
        self._checkpoint("staged")
        return name

    def swap(self, name: str | None, doc: StoredDoc) -> None:
        """Put a staged document (None: the local config) in force, on trial until commit()
        or revert()."""
        old = self.state
        self._save(
            msgspec.structs.replace(
                old,
                active=name,
                active_version=doc.version,
                previous=old.active,
                previous_version=old.active_version,
                trial=True,
            ),
            "swap",
        )

    def commit(self, issued_at: float) -> Outcome:
        """The trial passed: keep the active document for good."""
        old = self.state
        outcome = Outcome(version=old.active_version, status="applied")
        self._save(
            msgspec.structs.replace(
                old,
                trial=False,
                highest=max(old.highest, old.active_version),
                last_issued_at=max(old.last_issued_at, issued_at),
                outcome=outcome,
            ),
            "commit",
        )
        self._prune()
        return outcome

    def revert(self, reason: str) -> Outcome:
        """The trial failed: the previous config is in force again; remember why."""
        old = self.state
        failed = dict(old.failed)
        failed[old.active_version] = reason
        while len(failed) > _MAX_FAILED:
            del failed[min(failed)]
        doc = self.active()
        outcome = Outcome(version=old.active_version, status="rolled_back", reason=reason)
        self._save(
            msgspec.structs.replace(
                old,
                active=old.previous,
                active_version=old.previous_version,
                trial=False,
                highest=max(old.highest, old.active_version),
                last_issued_at=max(old.last_issued_at, doc.issued_at if doc else 0.0),
                failed=failed,
                outcome=outcome,
            ),
            "revert",
        )
        self._prune()
        return outcome

    def record(self, outcome: Outcome) -> None:
        """Remember an outcome that changed nothing else (a rejection), to report it."""
        self._save(msgspec.structs.replace(self.state, outcome=outcome), "record")

    def _prune(self) -> None:
        """Delete documents neither active nor previous."""
        keep = {self.state.active, self.state.previous}
        removed = False
        for path in self._docs.glob("doc-*.json"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
                removed = True
        if removed:
            fsync_dir(self._docs)
