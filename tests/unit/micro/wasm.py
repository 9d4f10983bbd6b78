"""Run code on the real MicroPython interpreter (the WebAssembly port under Node)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RUNNER = REPO / "tests" / "micro" / "run.mjs"
PACKAGE = REPO / "tests/micro/node_modules/@micropython/micropython-webassembly-pyscript"


def node() -> str:
    """The node executable; an error naming the fix when the toolchain is missing."""
    found = shutil.which("node")
    if found is None or not PACKAGE.is_dir():
        raise RuntimeError("node or the MicroPython wasm package is missing: run `make setup`")
    return found


def run_suite(*modules: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run tests/micro test modules (all by default) on MicroPython."""
    return subprocess.run(
        [node(), str(RUNNER), *modules],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )


def run_script(code: str, timeout: float = 300) -> str:
    """Run a script on MicroPython (the agent sources importable) and return its stdout."""
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as handle:
        handle.write(code)
        path = Path(handle.name)
    try:
        result = subprocess.run(
            [node(), str(RUNNER), "--script", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=REPO,
        )
    finally:
        path.unlink()
    if result.returncode != 0:
        raise AssertionError(f"MicroPython script failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout
