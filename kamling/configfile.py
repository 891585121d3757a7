"""Load YAML or TOML config files into pydantic models, with errors that name file and field."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ValidationError

ModelT = TypeVar("ModelT", bound=BaseModel)


class ConfigError(Exception):
    """A config file that cannot be used; the message names the file and the field."""


def read_mapping(path: Path) -> dict[str, Any]:
    """Parse a .yaml/.yml/.toml file into a dict, or raise ConfigError."""
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".toml":
            data: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise ConfigError(f"{path}: unknown config format {path.suffix!r}; use .yaml, .yml or .toml")
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings")
    return data


def format_validation_error(path: Path | str, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "(top level)"
        lines.append(f"  {field}: {err.get('msg')}")
    return "\n".join(lines)


def load_model(model: type[ModelT], path: Path, overrides: dict[str, Any] | None = None) -> ModelT:
    """Read `path` and validate it as `model`; ConfigError names the file and each bad field."""
    data = read_mapping(path)
    if overrides:
        data.update(overrides)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from None


def known_time_zone(value: str) -> str:
    """Validator: an IANA zone name this machine knows (Indonesia: WIB, WITA, WIT)."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use e.g. Asia/Jakarta, Asia/Makassar, Asia/Jayapura") from None
    return value
