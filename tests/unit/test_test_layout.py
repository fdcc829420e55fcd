"""The test suite's one shape: no test module imports another. Set-ups come from
`tests/scenarios.py`, the bad-request rows from `tests/bad_requests.py`, tokens, problems and
streams from `tests/support.py`, other services' events for the unit tests of reactions from
`tests/reacting.py` (and the conftests, the console's `journey.py` and
`browsing.py`): a test module is read alone, and a change to one never breaks another."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def imported_test_modules(source: str) -> list[str]:
    """The `test_*` modules a module's source imports (at any depth, however spelled)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            modules = [base] if base else []
            # `from . import test_x` and `from tests.unit import test_x` name the module last.
            modules += [f"{base}.{alias.name}".lstrip(".") for alias in node.names]
        else:
            continue
        found += [m for m in modules if m.split(".")[-1].startswith("test_")]
    return found


def test_the_finder_sees_every_spelling_of_an_import_of_a_test_module() -> None:
    source = "\n".join(
        (
            "from tests.integration.test_planning_api import send",
            "import tests.unit.test_auth",
            "from .test_plan_flow import agree_both",
            "from tests.unit import test_periods",
            "def f():",
            "    from tests.integration.test_referral_loop import referred",
            "from tests.scenarios import an_accepted_case",
            "from tests.support import bearer",
            "import pytest",
        )
    )
    assert imported_test_modules(source) == [
        "tests.integration.test_planning_api",
        "tests.unit.test_auth",
        "test_plan_flow",
        "tests.unit.test_periods",
        "tests.integration.test_referral_loop",
    ]


def test_no_test_module_imports_another() -> None:
    # The helpers too: a helper that imported a test module would join the two again.
    modules = sorted(TESTS.rglob("*.py"))
    assert len([m for m in modules if m.name.startswith("test_")]) > 50, modules
    offenders = {
        str(path.relative_to(TESTS)): imported
        for path in modules
        if (imported := imported_test_modules(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}, (
        "a test module imports another; move the helper to tests/scenarios.py, "
        "tests/bad_requests.py or tests/support.py"
    )
