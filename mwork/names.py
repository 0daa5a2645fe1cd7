"""Names that become paths: a model, corpus or file name is one plain entry of its folder, and a path the
workflow writes to stays inside the folder it belongs to. A module of its own (no imports from the rest
of the library), so the rules that import it do not rerun when the config checks change."""

from __future__ import annotations

import re
from pathlib import Path

from .errors import MworkError

# letters, digits, _ . + -, not starting with a dot (no "..", no hidden files), never a separator
PLAIN_NAME = re.compile(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*")


def plain_name(name, where: str, what: str) -> None:
    """Refuse a name that would not stay a single entry of its folder (``..``, ``a/b``, ``/x``, ``.x``)."""
    if not isinstance(name, str) or not PLAIN_NAME.fullmatch(name):
        raise MworkError(f"{where}: {name!r} is not a plain {what}; it becomes a file or folder name, so use "
                         f"letters, digits, _ . + - only, not starting with a dot (no / or ..)")


def inside(path, where: str, folder: str, what: str) -> None:
    """Refuse a relative ``path`` that leaves ``folder`` (``""``: any folder), or an absolute one."""
    parts = Path(str(path)).parts
    if (not isinstance(path, str) or not parts or Path(path).is_absolute() or ".." in parts
            or (folder and parts[0] != folder)):
        inside_of = f" inside {folder}/" if folder else ""
        raise MworkError(f"{where}: {path!r} must be a relative path{inside_of} without '..' ({what})")
