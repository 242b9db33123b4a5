"""Where the client finds its server and token: flags, then the environment, then a config file."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

URL_VARIABLE = "TGRELAY_URL"
TOKEN_VARIABLE = "TGRELAY_TOKEN"


class ConfigError(Exception):
    """The configuration is missing something or cannot be read; the text says what and where."""


@dataclass(frozen=True)
class Settings:
    url: str
    token: str


def config_path(environ: Mapping[str, str] = os.environ) -> Path:
    """`$XDG_CONFIG_HOME/tgrelay/config.toml`, else `~/.config/tgrelay/config.toml`."""
    base = environ.get("XDG_CONFIG_HOME", "")
    # The XDG spec has a relative path ignored.
    root = Path(base) if base and Path(base).is_absolute() else Path(environ.get("HOME") or Path.home()) / ".config"
    return root / "tgrelay" / "config.toml"


def read_file(path: Path) -> dict[str, str]:
    """The file's url and token, those it has; nothing when there is no file."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    found = {}
    for key in ("url", "token"):
        if key in data:
            if not isinstance(data[key], str):
                raise ConfigError(f'In {path}, {key} must be a string in quotes: {key} = "...".')
            found[key] = data[key].strip()
    return found


def load(*, url: str | None = None, token: str | None = None, environ: Mapping[str, str] = os.environ) -> Settings:
    """The settings to use: each of url and token from the flag, else the environment, else the file."""
    path = config_path(environ)
    given = {"url": url, "token": token}
    variables = {"url": URL_VARIABLE, "token": TOKEN_VARIABLE}
    chosen = {key: given[key] or environ.get(variables[key], "").strip() for key in given}
    if not all(chosen.values()):
        from_file = read_file(path)
        chosen = {key: value or from_file.get(key, "") for key, value in chosen.items()}
    for key, flag in (("url", "--url"), ("token", "--token")):
        if not chosen[key]:
            what = "server address" if key == "url" else "API token"
            raise ConfigError(f'No {what}: set {variables[key]}, put {key} = "..." in {path}, or pass {flag}.')
    return Settings(url=chosen["url"], token=chosen["token"])
