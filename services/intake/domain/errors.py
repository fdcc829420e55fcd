"""Intake's domain error: a broken rule, mapped once to problem+json."""

from __future__ import annotations


class IntakeError(Exception):
    """A rule of the intake was broken; `code` is stable, `field` names the input at fault."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
