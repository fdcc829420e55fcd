"""The rules of referral's input shared by the directory and the referrals: the
service's error, and what counts as text."""

from __future__ import annotations


class ReferralError(Exception):
    """A rule of referral was broken; `code` is stable, `field` names the input at fault."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def _text(value: str | None) -> str | None:
    """Stripped text, or None for nothing at all."""
    if value is None:
        return None
    value = value.strip()
    return value or None
