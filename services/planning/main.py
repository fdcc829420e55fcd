"""Composition root of planning (so far: probes and OpenAPI; its capability has its own issue)."""

from __future__ import annotations

from fastapi import FastAPI

from shared.http import probes_only_app
from shared.settings import Settings, get_settings

SERVICE = "planning"


def create_app(settings: Settings | None = None) -> FastAPI:
    return probes_only_app(
        SERVICE,
        settings or get_settings(),
        "The personal development plan (POP): goals, actions, agreement, revisions.",
    )
