"""Which library modules a rule's script runs: the transitive closure of its ``mwork`` imports.

Snakemake tracks a rule's script, not the modules the script imports. Every rule therefore lists the
closure computed here as inputs (``code=code_of(...)`` in ``rules/common.smk``), so editing a module
reruns exactly the rules whose scripts can execute it. The closure is read from the source with ``ast``
(imports inside functions included, nothing is executed), so it cannot drift from the code. Standard
library only: building the DAG imports neither torch nor any other heavy dependency.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

PACKAGE = "mwork"
# files a package reads as code at run time (the fused kernel's C source, mwork/plnd/qk_kernel.c): they
# belong to the closure of any module of their folder
DATA = ("*.c",)


def _module_file(root: Path, dotted: str) -> Path | None:
    """``mwork.tasks.data`` -> root/mwork/tasks/data.py (or a package's __init__.py); None if no such module."""
    base = root.joinpath(*dotted.split("."))
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imported(path: Path, package: list[str]) -> set[str]:
    """Dotted names of the package's modules that the file at ``path`` imports (absolute, or relative to
    ``package``, the dotted parts of the package the file belongs to)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - (node.level - 1)] if node.level else []
            mod = ".".join(base + ([node.module] if node.module else []))
            names.add(mod)
            names.update(f"{mod}.{a.name}" for a in node.names)  # `from mwork import io` imports a module
    return {n for n in names if n == PACKAGE or n.startswith(PACKAGE + ".")}


@cache
def _closure(script: Path, root: Path) -> tuple[str, ...]:
    seen: dict[str, Path] = {}
    todo = [(script, [])]  # a script outside the package has no package of its own
    while todo:
        path, package = todo.pop()
        for dotted in _imported(path, package):
            parts = dotted.split(".")
            for i in range(1, len(parts) + 1):  # importing a.b.c runs the __init__ of a and a.b
                name = ".".join(parts[:i])
                f = _module_file(root, name)
                if f is not None and name not in seen:
                    seen[name] = f
                    todo.append((f, parts[:i] if f.name == "__init__.py" else parts[:i - 1]))
    files = set(seen.values())
    files |= {d for f in seen.values() for pattern in DATA for d in f.parent.glob(pattern)}
    return tuple(sorted(str(f.relative_to(root)) for f in files))


def module_closure(script: str | Path, root: str | Path) -> list[str]:
    """Paths (relative to ``root``, the directory holding the ``mwork`` package) of every ``mwork`` module
    that running ``script`` can import, package ``__init__`` files and the packages' ``DATA`` files
    included, sorted."""
    return list(_closure(Path(script).resolve(), Path(root).resolve()))
