"""`pip install polekit[edge]` stays small: no web stack, no ORM, and the agent runs from it."""

from __future__ import annotations

import ast
import subprocess
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "litestar", "sqlalchemy", "alembic", "uvicorn", "asyncpg", "aiosqlite", "starlette",
    "fastapi", "jinja2", "cryptography", "amqtt", "httpx", "aiohttp",
}  # fmt: skip


def test_edge_extra_installs_no_web_stack_and_runs_the_agent(tmp_path: Path) -> None:
    env_dir = tmp_path / "edge-venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", f"{REPO}[edge]"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]

    listed = subprocess.run(
        [python, "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installed = {line.split("==")[0].lower() for line in listed.splitlines() if "==" in line}
    assert installed & FORBIDDEN == set(), f"edge install pulled {installed & FORBIDDEN}"
    assert {"pymodbus", "aiomqtt", "msgspec", "cbor2"} <= installed

    # The agent's verbs work from the edge install (outside the repo, so nothing leaks in).
    agent_help = subprocess.run(
        [str(env_dir / "bin" / "polekit"), "agent", "schema"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert agent_help.returncode == 0, agent_help.stderr[-3000:]
    assert '"AgentConfig"' in agent_help.stdout
    imports = subprocess.run(
        [python, "-c", "import sys, edge.agent, edge.cli; print(repr(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    top_level = {name.split(".")[0] for name in ast.literal_eval(imports)}
    assert "edge" in top_level
    assert top_level & ({"fleet"} | FORBIDDEN) == set(), "the agent imports fleet-side code"
