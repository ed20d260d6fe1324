"""What `kb ingest PATH...` reads: files as given, folders recursively, never outside a folder by accident.

A file named on the command line is read whatever its type (the loader says what it refuses). In a
folder, only supported types are taken, and a symbolic link is followed only when it stays inside the
folder: a link to `/etc/passwd` is skipped and reported, unless `follow_symlinks` (`--follow-symlinks`)
says to follow every link (folders linked twice, or in a loop, are still walked once).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import SUPPORTED_EXTENSIONS


@dataclass(frozen=True, order=True)
class Found:
    """A file to ingest, or (with `skipped` set) one left out, and why."""

    path: Path
    skipped: str = ""


def expand_paths(paths: Iterable[Path], follow_symlinks: bool = False) -> Iterator[Found]:
    """Files as given; folders recursively (supported types only), each folder's files in path order."""
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from sorted(_walk(path, follow_symlinks))
        else:
            yield Found(path)


def _walk(root: Path, follow: bool) -> Iterator[Found]:
    real_root = Path(os.path.realpath(root))
    visited = {real_root}
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.is_symlink():
                target = Path(os.path.realpath(path))
                inside = target == real_root or real_root in target.parents
                if target.is_dir():
                    if follow and not inside and target not in visited:
                        visited.add(target)
                        stack.append(path)
                    elif not follow and not inside:
                        yield Found(path, f"a link to the folder {target}, outside {root} "
                                          "(--follow-symlinks follows it)")
                    continue  # a link to a folder inside is walked under its real path
                if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
                    continue
                if inside or follow:
                    yield Found(path)
                else:
                    yield Found(path, f"a link to {target}, outside {root} (--follow-symlinks follows it)")
            elif entry.is_dir(follow_symlinks=False):
                real = Path(os.path.realpath(path))
                if real not in visited:
                    visited.add(real)
                    stack.append(path)
            elif path.suffix.lower() in SUPPORTED_EXTENSIONS:
                yield Found(path)  # a FIFO or device named like a document is refused when read, with a reason
