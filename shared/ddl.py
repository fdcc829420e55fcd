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
