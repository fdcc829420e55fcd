"""Composition root of followup (so far: probes and OpenAPI; its capability has its own issue)."""

from __future__ import annotations

from fastapi import FastAPI

from shared.http import probes_only_app
from shared.settings import Settings, get_settings

SERVICE = "followup"


def create_app(settings: Settings | None = None) -> FastAPI:
    return probes_only_app(
        SERVICE,
        settings or get_settings(),
        "Aftercare: check-ins, contacts, action checks, bottlenecks, outcomes, feedback.",
    )
