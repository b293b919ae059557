"""`service_model::source` (source.rs): the workspace files a tool reads and
the out dir it writes, as the Rust tools do it."""

import os
from pathlib import PurePosixPath
from typing import List, Sequence

from taylordash_sdk import Failed, InvalidInput, out_dir, workspace_dir

SKIPPED_DIRS = ("__pycache__", "node_modules", "site", "target", "venv", "env", "htmlcov")
"""Directories no tool looks into: caches, builds, virtualenvs."""


def is_inside(path: str) -> bool:
    """Is `path` relative and inside the workspace (no `..`, no root)? (`Path::components`: `.` is dropped.)"""
    if not path or path.startswith("/"):
        return False
    return all(part not in ("..",) for part in path.split("/"))


def read_workspace(key: str, path: str) -> str:
    """A workspace file as text; `key` names the input in errors (`InvalidInput`)."""
    if not is_inside(path):
        raise InvalidInput(f"{key}: `{path}` must be a relative path inside the workspace")
    try:
        data = (workspace_dir() / path).read_bytes()
    except FileNotFoundError:
        raise InvalidInput(f"{key}: cannot read `{path}`: no such file in the workspace") from None
    except OSError as e:
        raise InvalidInput(f"{key}: cannot read `{path}`: {e.strerror or e}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(f"{key}: cannot read `{path}`: not UTF-8 text") from None


def _lossy(name: str) -> str:
    """`OsStr::to_string_lossy`: undecodable bytes of a file name become U+FFFD."""
    return os.fsencode(name).decode("utf-8", "replace")


def list_files(dir: str, suffixes: Sequence[str]) -> List[str]:
    """Files under `dir` of the workspace (recursively, sorted, hidden entries and
    `SKIPPED_DIRS` skipped) whose name ends with one of `suffixes` (all if empty).
    Workspace-relative with `/`. A symlink counts as a file (`DirEntry::file_type`)."""
    root = workspace_dir()
    out: List[str] = []

    def walk(rel: str, depth: int) -> None:
        if depth > 32:
            return
        try:
            with os.scandir(root / rel if rel else root) as it:
                names = []
                for e in it:
                    try:
                        names.append((_lossy(e.name), e.is_dir(follow_symlinks=False)))
                    except OSError:
                        continue
        except OSError:
            return
        names.sort()
        for name, is_dir in names:
            if name.startswith(".") or (is_dir and name in SKIPPED_DIRS):
                continue
            child = f"{rel}/{name}" if rel else name
            if is_dir:
                walk(child, depth + 1)
            elif not suffixes or any(name.endswith(s) for s in suffixes):
                out.append(child)

    start = dir.rstrip("/")
    if not start or is_inside(start):
        walk(start, 0)
    return out


def kind(v: object) -> str:
    """A JSON value's kind, as messages name it."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


class Out:
    """Files a tool writes into its out dir, remembered in order for its output JSON."""

    def __init__(self) -> None:
        self.files: List[str] = []

    def write(self, rel: str, contents: str) -> None:
        """Write `rel` (parents created) into the out dir."""
        if not is_inside(rel):
            raise Failed(f"refusing to write `{rel}` outside the out dir")
        path = out_dir() / PurePosixPath(rel)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise Failed(f"cannot create the directory of {rel} in the out dir: {e}") from None
        try:
            path.write_bytes(contents.encode("utf-8"))
        except OSError as e:
            raise Failed(f"cannot write {rel} into the out dir: {e}") from None
        self.files.append(rel)
