"""What `polekit agent run` loads: modules it never uses stay out of a gateway's memory."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

# Each of these cost the agent resident memory for nothing (see tests/bench/bench_agent_*.py):
# cbor2/msgpack (batches and control messages use protocol.core), urllib.request with
# http.client and email, hashlib (paho imports them for a proxy lookup and for websockets;
# deferred until first use),
# tempfile with shutil, bz2 and lzma (the status file), tomllib (TOML configs only).
NOT_LOADED = {
    "cbor2", "msgpack", "http.client", "email", "email.message", "urllib.response",
    "tempfile", "shutil", "bz2", "lzma", "tomllib", "_hashlib",
}  # fmt: skip


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", f"import sys\n{code}\nprint(repr(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    return set(ast.literal_eval(out.splitlines()[-1]))


def test_the_agent_does_not_load_modules_it_never_uses() -> None:
    # Compared with a bare interpreter: a site-wide .pth file may import some of them itself.
    loaded = _modules_after("import polekit.cli, edge.cli, edge.agent") - _modules_after("")
    assert "edge.agent" in loaded
    assert loaded & NOT_LOADED == set()


def test_deferred_modules_still_work_when_used() -> None:
    loaded = _modules_after(
        "import edge.transport.mqtt\n"
        "import urllib.request\n"
        "from urllib.request import Request\n"
        "assert isinstance(urllib.request.getproxies(), dict)\n"
        "assert Request('http://example.invalid/').host == 'example.invalid'\n"
        "import paho.mqtt.client as paho\n"
        "assert paho.urllib.request is urllib.request\n"
        "assert type(urllib.request) is type(sys)\n"
        "import hashlib\n"
        "assert hashlib.sha256(b'').hexdigest().startswith('e3b0c442')"
    )
    assert "http.client" in loaded
