"""Read an agent config file (YAML or TOML) into AgentConfig; errors name the field and line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import yaml

from drivers.sdk.driver import Driver
from edge.config import AgentConfig
from edge.units import dec_hook, schema_hook

_PATH_RE = re.compile(r" - at `(\$[^`]*)`$")
_PATH_PART_RE = re.compile(r"\.([^.\[]+)|\[(\d+)\]")


class ConfigError(Exception):
    """A config document is unreadable or invalid; says which file, field and line."""

    def __init__(
        self, message: str, *, file: str, field: str | None = None, line: int | None = None
    ):
        self.message = message
        self.file = file
        self.field = field
        self.line = line
        where = file if line is None else f"{file}:{line}"
        what = f"{field}: {message}" if field else message
        super().__init__(f"{where}: {what}")


def load_config(path: str | Path) -> AgentConfig:
    """Read and validate a config file; raises ConfigError naming the field and line."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the config file ({exc.strerror})", file=file) from exc
    return parse_config(text, file=file)


def parse_config(text: str, *, file: str = "<config>") -> AgentConfig:
    """Validate config text; TOML when the file name ends in .toml, YAML otherwise."""
    lines: dict[str, int] = {}
    raw: Any
    if file.endswith(".toml"):
        import tomllib  # only for TOML configs: not carried by an agent that reads YAML

        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"not valid TOML: {exc}", file=file) from exc
    else:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            raw = yaml.safe_load(text)
        except yaml.MarkedYAMLError as exc:
            line = exc.problem_mark.line + 1 if exc.problem_mark else None
            raise ConfigError(f"not valid YAML: {exc.problem}", file=file, line=line) from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"not valid YAML: {exc}", file=file) from exc
        if node is not None:
            _index_lines(node, "$", lines)
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping with at least device_id", file=file)
    return convert_config(raw, file=file, lines=lines)


def convert_config(
    raw: dict[str, Any], *, file: str, lines: dict[str, int] | None = None
) -> AgentConfig:
    """Validate an already-parsed document into AgentConfig."""
    try:
        return msgspec.convert(raw, AgentConfig, dec_hook=dec_hook)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _PATH_RE.search(message)
        field = match.group(1) if match else None
        if match:
            message = message[: match.start()]
        field = _resolve_map_keys(field, raw)
        line = _line_for(field, lines or {})
        raise ConfigError(message, file=file, field=_readable(field), line=line) from exc


def locate(file: str, field: str) -> int | None:
    """The line of a field (e.g. `buses[0].devices[1].driver`) in a YAML config file.

    For problems found after parsing, such as an unknown driver; None where unknown (TOML).
    """
    if file.endswith(".toml"):
        return None
    try:
        node = yaml.compose(Path(file).read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (OSError, yaml.YAMLError):
        return None
    if node is None:
        return None
    lines: dict[str, int] = {}
    _index_lines(node, "$", lines)
    return _line_for("$." + field, lines)


def json_schema(drivers: Sequence[Driver] | None = None) -> dict[str, Any]:
    """JSON Schema of the agent config, for editors and for the fleet's validation.

    Each driver (default: every installed one) adds its channel names under `$defs`.
    """
    from edge.driver_schema import add_driver_schemas

    if drivers is None:
        from drivers.registry import default_registry

        registry = default_registry()
        drivers = [registry.load(info.name) for info in registry.available()]
    schema = msgspec.json.schema(AgentConfig, schema_hook=schema_hook)
    return add_driver_schemas(schema, drivers)


def _index_lines(node: yaml.Node, path: str, lines: dict[str, int]) -> None:
    """Record the 1-based line of every node under its msgspec-style path ($.a[0].b)."""
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = f"{path}.{key.value}"
            lines[child] = key.start_mark.line + 1
            _index_lines(value, child, lines)
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, f"{path}[{index}]", lines)


def _resolve_map_keys(field: str | None, raw: Any) -> str | None:
    """msgspec writes `[...]` for a mapping key; name the key when only one can be meant."""
    if field is None or "[...]" not in field:
        return field
    head, _, rest = field.partition("[...]")
    node = _walk(raw, head)
    if not isinstance(node, dict):
        return field
    candidates = [key for key in node if len(node) == 1 or _walk(node[key], "$" + rest) is not None]
    if len(candidates) != 1:
        return field
    return _resolve_map_keys(f"{head}.{candidates[0]}{rest}", raw)


def _walk(node: Any, path: str) -> Any:
    """Follow a `$.a[0].b` path through parsed YAML/TOML; None when it is not there."""
    for name, index in _PATH_PART_RE.findall(path[1:]):
        if name:
            node = node.get(name) if isinstance(node, dict) else None
        elif isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            return None
    return node


def _line_for(field: str | None, lines: dict[str, int]) -> int | None:
    """The line of the deepest node on the error's path that the file actually has."""
    if field is None:
        return None
    path = field
    while path:
        if path in lines:
            return lines[path]
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return lines.get("$")


def _readable(field: str | None) -> str | None:
    """`$.buses[0].devices[1].poll` -> `buses[0].devices[1].poll`."""
    if field is None or field == "$":
        return None
    return field[2:] if field.startswith("$.") else field
