"""Planning's error: a rule of planning broken (mapped once to problem+json)."""

from __future__ import annotations


class PlanningError(Exception):
    """A rule of planning was broken; `code` is stable, `field` names the input at fault.

    For a goal that is not SMART, `failures` maps each failed criterion to a sentence.
    """

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        failures: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.failures = failures or {}
