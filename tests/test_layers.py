"""The domain is one-way: every import between areas of ``winback/`` points down the layers
declared in ``winback.LAYERS`` (so there is no circle), and none hides inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

import winback

ROOT = Path(winback.__file__).parent
# The CLI (every module of winback/cli/) imports its commands' modules when the command runs
# (a fast ``--help``); it is the top of the domain, so those imports point down all the same.
LAZY_OK_AREAS = {"cli"}


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _area(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "winback":
        return None
    return parts[1] if len(parts) > 1 else "winback"


def _imports(path: Path, module: str):
    """(imported module, line, at module level) for every winback import of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                package = module.split(".")[
                    : len(module.split(".")) - node.level + (path.name == "__init__.py")
                ]
                base = ".".join(package + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            # ``from winback import clock`` imports the module winback.clock
            targets = [f"{base}.{a.name}" for a in node.names] if base == "winback" else [base]
        else:
            continue
        for target in targets:
            if target.startswith("winback"):
                yield target, node.lineno, id(node) in top


def _violations(root: Path, layers: tuple[str, ...]) -> list[str]:
    """Every import between areas that points up or sideways, or hides inside a function."""
    rank = {area: i for i, area in enumerate(layers)}
    wrong = []
    for path in sorted(root.rglob("*.py")):
        module = _module_name(path, root)
        for target, line, at_top in _imports(path, module):
            src, dst = _area(module), _area(target)
            if dst in (None, "winback") or src == dst:
                continue
            if rank[dst] >= rank[src]:
                wrong.append(f"{module}:{line} imports {target} ({src} is not above {dst})")
            elif not at_top and src not in LAZY_OK_AREAS:
                wrong.append(f"{module}:{line} imports {target} inside a function")
    return wrong


def test_every_area_has_a_layer():
    areas = {_area(_module_name(p)) for p in ROOT.rglob("*.py")} - {"winback"}
    assert areas <= set(winback.LAYERS), (
        f"place these in winback.LAYERS: {sorted(areas - set(winback.LAYERS))}"
    )


def test_imports_point_down_the_layers():
    wrong = _violations(ROOT, winback.LAYERS)
    assert not wrong, "\n".join(wrong)


def test_the_check_sees_a_circle_and_a_hidden_import(tmp_path):
    """The check itself, on a small tree: accounts -> surveys -> accounts (a circle, hidden in
    a function on one side) is reported on both sides; surveys -> clock is fine."""
    fake = tmp_path / "winback"
    for area in ("accounts", "surveys"):
        (fake / area).mkdir(parents=True)
        (fake / area / "__init__.py").write_text("")
    (fake / "__init__.py").write_text("")
    (fake / "accounts" / "service.py").write_text(
        "def f():\n    from winback.surveys.service import seed\n\n    return seed\n"
    )
    (fake / "surveys" / "service.py").write_text(
        "from winback import clock\nfrom winback.accounts.service import f\n\nseed = f, clock\n"
    )
    wrong = _violations(fake, ("clock", "accounts", "surveys"))
    assert wrong == [
        "winback.accounts.service:2 imports winback.surveys.service (accounts is not above surveys)",
    ]
    wrong = _violations(fake, ("clock", "surveys", "accounts"))
    assert wrong == [
        "winback.accounts.service:2 imports winback.surveys.service inside a function",
        "winback.surveys.service:2 imports winback.accounts.service (surveys is not above accounts)",
    ]
