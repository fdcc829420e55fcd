"""The services' schema statements, run at every start: idempotent, and cheap when there
is nothing to do. An index created and then dropped further down the same script was
built anew at every start (at 10 million events, about a second for each service's
script, twice: the service's and its projection's)."""

from __future__ import annotations

import re

import pytest

from shared.messaging.reproject import service_spec
from shared.serve import SERVICES


def scripts(service: str) -> dict[str, str]:
    spec = service_spec(service)
    found = {"service": spec.schema_sql, "projection": spec.projection.schema_sql}
    found.update({r.name: r.schema_sql for r in spec.read_models})
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_no_script_creates_an_index_it_drops_later(service: str) -> None:
    for name, sql in scripts(service).items():
        created = {
            m.group(1): m.start()
            for m in re.finditer(r"CREATE (?:UNIQUE )?INDEX IF NOT EXISTS (\w+)", sql)
        }
        for m in re.finditer(rf"DROP INDEX IF EXISTS {service}\.(\w+)", sql):
            index = m.group(1)
            assert not (index in created and created[index] < m.start()), (
                f"{service} {name}: {index} is made, then dropped, at every start"
            )
