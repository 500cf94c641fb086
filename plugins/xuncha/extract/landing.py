"""A landing area that trusts no file: what is in an export folder is looked at (lstat), never followed.

Export spec §2: an export is one folder whose files sit directly in it. Anyone who can write into a landing folder
(local, SFTP) can also put there a symbolic link to any file the loader may read, a hard link to one, a device, a
FIFO (which would block a reader forever) or a socket. None of those is a file of the export: `check_tree` refuses
them with rule `file.not_regular` before anything is opened, and `open_regular` opens a file only with
O_NOFOLLOW and only if what it opened is still the regular file that was checked. No problem quotes what such an
entry points at or holds: a report names the entry and its kind, nothing else.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from xuncha.errors import Problem

RULE = "file.not_regular"

_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def kind_of(mode: int) -> str | None:
    """What a non-regular, non-directory entry is ("a symbolic link", ...); None for a regular file or folder."""
    for test, name in _KINDS:
        if test(mode):
            return name
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "not a regular file"


def check_tree(export_dir: Path) -> list[Problem]:
    """Every entry of `export_dir` (the folder itself included, sub-folders walked) that is not a regular file or a
    folder, and every regular file with hard links outside the export (st_nlink above the links found inside).
    Uses lstat only: nothing is opened or followed. Returns one `file.not_regular` problem per entry."""
    problems: list[Problem] = []
    try:
        top = os.lstat(export_dir)
    except OSError as exc:
        return [Problem(RULE, f"the export folder cannot be examined ({exc.strerror})", file=export_dir.name)]
    if not stat.S_ISDIR(top.st_mode):
        what = kind_of(top.st_mode) or "not a folder"
        return [Problem(RULE, f"the export folder itself is {what}; an export is a real folder of regular files",
                        file=export_dir.name)]
    links: dict[tuple[int, int], list[tuple[str, os.stat_result]]] = {}
    stack = [(export_dir, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            problems.append(Problem(RULE, f"folder cannot be listed ({exc.strerror})", file=prefix or export_dir.name))
            continue
        for entry in entries:
            rel = prefix + entry.name
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                stack.append((Path(entry.path), rel + "/"))
            elif stat.S_ISREG(st.st_mode):
                links.setdefault((st.st_dev, st.st_ino), []).append((rel, st))
            else:
                problems.append(Problem(RULE, f"{_printable(rel)} is {kind_of(st.st_mode)}, not a regular file of the "
                                              "export: refused without being opened", file=_printable(rel)))
    for found in links.values():
        for rel, st in found:
            if st.st_nlink > len(found):
                problems.append(Problem(RULE, f"{_printable(rel)} is a hard link to a file outside the export "
                                              f"({st.st_nlink} links, {len(found)} inside): refused without being opened",
                                        file=_printable(rel)))
    return sorted(problems, key=lambda p: p.file or "")


def open_regular(path: Path):
    """Open `path` for reading with O_NOFOLLOW (and O_NONBLOCK, so a FIFO swapped in cannot hang us) and return a
    binary file object; OSError if it is a link or not a regular file at the time it is opened."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OSError(f"{path.name}: not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _printable(name: str, limit: int = 120) -> str:
    """A file name as it may appear in a report: control characters escaped, at most `limit` characters."""
    text = name.encode("unicode_escape").decode("ascii") if not name.isprintable() else name
    return text if len(text) <= limit else text[:limit] + "…"
