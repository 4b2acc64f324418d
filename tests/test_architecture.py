"""Dependencies point one way (ARCHITECTURE.md): ``web`` wires ``hub``, ``storage`` and
``adapters``; the core never knows which server, database or channel it runs with."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each package may never import, at any depth (a function-level import counts too).
# ``hub`` may import the standard library, msgpack, redis and msgspec (the flow document's
# one schema: issue 14 chose msgspec for parsing frames and documents).
FORBIDDEN = {
    "hub": {
        "web",
        "storage",
        "adapters",
        "sqlalchemy",
        "asyncpg",
        "aiosqlite",
        "starlette",
        "uvicorn",
        "httpx",
    },
    "storage": {"web", "adapters", "starlette", "uvicorn", "httpx"},
    "adapters": {"web", "storage", "sqlalchemy", "starlette", "uvicorn"},
}


def imported_packages(path: Path) -> set[str]:
    """The top-level names of every module ``path`` imports (relative imports excluded)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_a_package_imports_nothing_it_may_not(package: str) -> None:
    breaches = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in sorted((ROOT / package).rglob("*.py"))
    }
    assert {file: bad for file, bad in breaches.items() if bad} == {}


def test_the_check_sees_a_breach(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from web.config import Settings\n    import sqlalchemy.orm\n")
    assert imported_packages(module) == {"web", "sqlalchemy"}
