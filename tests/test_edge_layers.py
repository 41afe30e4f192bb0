"""The edges are siblings: the JSON API (api/) and the pages (web/) both stand on the shared
edge package (edge/) and the domain, and never import each other; edge/ imports neither.
Read from the source with ast, so an import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_packages(package: str) -> dict[str, set[str]]:
    """Top-level package of every import in ``package``'s modules: name -> {"file:line", ...}."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                found.setdefault(name.split(".")[0], set()).add(where)
    return found


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [("api", {"web"}), ("web", {"api"}), ("edge", {"api", "web"}), ("winback", {"api", "web", "edge"})],
)
def test_the_edges_do_not_import_each_other(package, forbidden):
    imports = imported_packages(package)
    assert imports, f"{package} has no imports: the walk found no modules"
    wrong = {name: sorted(places) for name, places in imports.items() if name in forbidden}
    assert not wrong, f"{package} imports {wrong}"


def test_the_walk_sees_what_it_forbids():
    """The check could fail: both edges do import the shared edge package."""
    assert "edge" in imported_packages("api") and "edge" in imported_packages("web")
