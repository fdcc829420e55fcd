"""Composition root of referral (so far: probes and OpenAPI; its capability has its own issue)."""

from __future__ import annotations

from fastapi import FastAPI

from shared.http import probes_only_app
from shared.settings import Settings, get_settings

SERVICE = "referral"


def create_app(settings: Settings | None = None) -> FastAPI:
    return probes_only_app(
        SERVICE,
        settings or get_settings(),
        "The partner directory and closed-loop referrals with consent-limited sharing.",
    )
