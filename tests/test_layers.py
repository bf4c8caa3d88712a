"""The layers of deals/ import one way only: api -> services, selectors -> ingest, models.

Leaves every layer above ingest may use: `deals.errors` (what a failure says), `deals.failures`
(which kind an exception is) and `deals.money` (how an amount reads).

Read from the source with ast, so a stray import fails here before it makes a cycle.
"""

import ast
from pathlib import Path

import pytest

DEALS = Path(__file__).resolve().parent.parent / "deals"


def imported_modules(path: Path) -> set[str]:
    """The dotted names a module imports (`from deals.api import views` gives both)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def deals_imports(path: Path) -> set[str]:
    return {name for name in imported_modules(path) if name.split(".")[0] == "deals"}


def modules(under: Path) -> list[Path]:
    return sorted(path for path in under.rglob("*.py") if "migrations" not in path.parts)


def relative(path: Path) -> str:
    return str(path.relative_to(DEALS.parent))


@pytest.mark.parametrize("path", modules(DEALS), ids=relative)
def test_nothing_outside_api_imports_api(path):
    if DEALS / "api" in path.parents:
        return
    assert not {name for name in deals_imports(path) if name.startswith("deals.api")}


@pytest.mark.parametrize("path", modules(DEALS / "ingest"), ids=relative)
def test_ingest_imports_only_errors_and_itself(path):
    outside = {name for name in deals_imports(path) if not name.startswith("deals.ingest")}
    assert {name for name in outside if not name.startswith("deals.errors")} == set()


@pytest.mark.parametrize("path", modules(DEALS / "api"), ids=relative)
def test_api_reaches_the_domain_only_through_services_selectors_and_leaves(path):
    leaves = ("deals.errors", "deals.failures", "deals.money")
    layers = ("deals.api", "deals.services", "deals.selectors", *leaves)
    outside = {
        name for name in deals_imports(path) if name != "deals" and not name.startswith(layers)
    }
    assert outside == set()


@pytest.mark.parametrize("path", modules(DEALS / "management"), ids=relative)
def test_commands_call_services_and_selectors_not_models(path):
    assert not {name for name in deals_imports(path) if name.startswith("deals.models")}
