"""The pure domain imports only `eventsourcing.domain` of the library (import-linter cannot
forbid subpackages of an external package, so this test does)."""

from __future__ import annotations

import ast
from importlib import resources
from pathlib import Path

ALLOWED = {"eventsourcing.domain", "eventsourcing.utils"}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_the_domain_uses_only_the_librarys_domain_modules() -> None:
    root = Path(str(resources.files("ledger.domain")))
    modules = sorted(root.rglob("*.py"))
    assert len(modules) > 10  # the walk found the package
    used = {
        (str(path.relative_to(root)), name)
        for path in modules
        for name in _imports(path)
        if name.split(".")[0] == "eventsourcing" and name not in ALLOWED
    }
    assert used == set()
