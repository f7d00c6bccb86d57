"""Files, directories (recursively) and globs given on the command line."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from lexboard.errors import SourceError

_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class FileSource:
    """One argument the user gave, and the files it stands for (sorted)."""

    label: str
    files: tuple[Path, ...]


def _walk(directory: Path) -> list[Path]:
    found = []
    for path in sorted(directory.rglob("*")):
        if any(part.startswith(".") for part in path.relative_to(directory).parts):
            continue
        if path.is_file() or (path.is_symlink() and not path.exists()):
            found.append(path)
    return found


def expand(argument: str) -> FileSource:
    """The files of one PATH argument; SourceError when it names nothing."""
    if _GLOB_CHARS & set(argument):
        matches = sorted(Path(m) for m in glob.glob(argument, recursive=True))
        files: list[Path] = []
        for match in matches:
            files.extend(_walk(match) if match.is_dir() else [match])
        if not files:
            raise SourceError(f"{argument}: no files match this pattern")
        return FileSource(argument, tuple(files))
    path = Path(argument)
    if path.is_dir():
        return FileSource(argument, tuple(_walk(path)))
    if path.is_file():
        return FileSource(argument, (path,))
    if path.is_symlink():
        raise SourceError(f"{argument}: broken symbolic link")
    if path.exists():
        raise SourceError(f"{argument}: not a regular file or directory")
    raise SourceError(f"{argument}: no such file or directory")
