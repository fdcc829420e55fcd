"""Pieces of the services' schema statements, which run at every start."""

from __future__ import annotations


def column_added_once(table: str, column: str, definition: str, fill: str) -> str:
    """Add `column` to `table` (`schema.table`) and give the rows kept before it their
    value (`fill`, an UPDATE) once, in the same statement, when the column is missing: not
    a scan of the table at every start. The qualified name stays in the text, so that
    `waypoint rebuild`'s shadow schema rewrites it like the rest."""
    return f"""
DO $added$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_attribute WHERE attrelid = '{table}'::regclass
        AND attname = '{column}' AND NOT attisdropped
    ) THEN
        ALTER TABLE {table} ADD COLUMN {column} {definition};
        {fill};
    END IF;
END
$added$;
"""


def table_made_once(table: str, definition: str, fill: str) -> str:
    """Create `table` (`schema.table`, its columns and key in `definition`) and fill it
    (`fill`, an INSERT ... SELECT from the rows kept so far) once, in the same statement,
    when it is missing: counters that triggers keep from then on (`kept_by_triggers`),
    made on an upgrade from what is already there. A later start finds the table and does
    nothing. Run it under a lock that holds the source rows still until the triggers
    exist."""
    return f"""
DO $made$
BEGIN
    IF to_regclass('{table}') IS NULL THEN
        CREATE TABLE {table} ({definition});
        {fill};
    END IF;
END
$made$;
"""


def kept_by_triggers(source: str, function: str, name: str, columns: list[str]) -> str:
    """The two triggers that run `function` (a row trigger keeping counters) on `source`:
    `<name>_counted` after every insert and delete, `<name>_recounted` after an update
    that changes one of `columns` (the counters' keys and conditions), not after others."""
    changed = "\n        OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in columns)
    return f"""CREATE OR REPLACE TRIGGER {name}_counted AFTER INSERT OR DELETE ON {source}
    FOR EACH ROW EXECUTE FUNCTION {function}();
CREATE OR REPLACE TRIGGER {name}_recounted
    AFTER UPDATE OF {", ".join(columns)} ON {source}
    FOR EACH ROW WHEN (
        {changed}
    ) EXECUTE FUNCTION {function}();
"""
