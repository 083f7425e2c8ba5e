"""API keys of an inventory's appliances: from a variable, a file (read once) or inline.

Part of `inventory_check`. No error or warning ever contains a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from orchestrator.core.userfile import NotRegularFileError, TooLargeError, read_regular
from orchestrator.inventory.yamlfile import KEY_SOURCES, Where, looks_secret, show

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from orchestrator.inventory.document import Document

__all__ = ["KeyReader"]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_KEY_FILE_LIMIT = 4096  # bytes; an API key is a few dozen


@dataclass
class KeyReader:
    """Reads each appliance's key from its one source, collecting warnings for inline keys."""

    doc: Document
    env: Mapping[str, str]
    warnings: list[str]
    files: dict[Path, SecretStr] = field(default_factory=dict)  # each key file read once

    def api_key(
        self,
        raw: dict[str, Any],
        defaults: dict[str, Any],
        where: Where,
        name: str,
        *,
        required: bool = True,
    ) -> SecretStr | None:
        """The key from the appliance's source, else the defaults' (None: none, not required)."""
        for level, at in ((raw, where), (defaults, ("defaults",))):
            sources = [key for key in KEY_SOURCES if key in level]
            if len(sources) > 1:
                whose = name if level is raw else "defaults"
                message = f"{whose} sets both {sources[0]} and {sources[1]}; keep one"
                raise self.doc.error(at, message)
            if sources and not required and self.unset(sources[0], level[sources[0]]):
                return None  # console mode: a variable discover named, left unexported
            if sources:
                return self.read_key(sources[0], level[sources[0]], (*at, sources[0]), name)
        if not required:
            return None
        fix = "add api_key_env: VARIABLE or api_key_file: PATH to the appliance or to defaults"
        if self.doc.lines is not None:
            fix = "fill the api_key_env or api_key_file column"
        raise self.doc.error(where, f"no API key for {name}; {fix}")

    def unset(self, source: str, value: str) -> bool:
        """Whether `source` is a variable that is not set (or empty)."""
        return source == "api_key_env" and not self.env.get(value, "").strip()

    def read_key(self, source: str, value: str, where: Where, name: str) -> SecretStr:
        """The key named by one source: a variable, a file or the inline value."""
        if source == "api_key_env":
            return self.env_key(value, where, name)
        if source == "api_key_file":
            return self.file_key(value, where)
        if not self.doc.vendor:  # the vendor CSV gets one warning for the whole file
            whose = "in defaults" if where[0] == "defaults" else f"for {name}"
            hint = "prefer api_key_env or api_key_file"
            self.warnings.append(f"the API key {whose} is inline in {self.doc.file}; {hint}")
        return SecretStr(value)

    def env_key(self, variable: str, where: Where, name: str) -> SecretStr:
        """The key in environment variable `variable`."""
        if _ENV_NAME.fullmatch(variable) is None:
            fix = "write the variable's name (e.g. EXTRAHOP_API_KEY), not the key"
            raise self.doc.error(
                where, f"api_key_env {show(variable)} is not a variable name; {fix}"
            )
        secret = self.env.get(variable, "").strip()
        if not secret:
            raise self.doc.error(where, _unset(variable, name))
        return SecretStr(secret)

    def file_key(self, value: str, where: Where) -> SecretStr:
        """The key in a file (read once per file), which holds nothing else."""
        path = self.doc.resolve(value)
        if path not in self.files:
            secret = self.key_text(path, where)
            if not secret or len(secret.split()) > 1:
                problem = "is empty" if not secret else "holds more than the key"
                fix = "it must hold only the API key"
                raise self.doc.error(where, f"key file {show(path, None)} {problem}; {fix}")
            self.files[path] = SecretStr(secret)
        return self.files[path]

    def key_text(self, path: Path, where: Where) -> str:
        """The stripped text of a key file."""
        fix = "it must hold only the API key"
        try:
            return read_regular(path, limit=_KEY_FILE_LIMIT).decode("utf-8").strip()
        except TooLargeError:
            message = f"key file {show(path, None)} holds more than an API key; {fix}"
        except NotRegularFileError as exc:
            message = f"key file {show(path, None)} is not a regular file ({exc.kind}); {fix}"
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not UTF-8 text"
            fix = "put the API key in that file, or fix the path"
            message = f"cannot read key file {show(path, None)} ({reason}); {fix}"
        raise self.doc.error(where, message) from None


def _unset(variable: str, name: str) -> str:
    """Why the key of `name` is missing from `variable`, never repeating a pasted key."""
    if looks_secret(variable):
        problem = "names no variable that is set, and looks like an API key rather than"
        fix = "write the variable's name (e.g. EXTRAHOP_API_KEY), or put the key in a file"
        return f"api_key_env {problem} a variable name (value hidden); {fix} named by api_key_file"
    fix = f"export {variable}=... before running, or use api_key_file"
    return f"{variable} is unset or empty (the API key of {name}); {fix}"
