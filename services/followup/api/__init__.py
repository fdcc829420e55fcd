"""Follow-up's HTTP API: reads in `routes.py`, commands in `commands.py`, request and
response models in `schemas.py`, the answers built from a follow-up in `answers.py`;
`router` holds them all."""

from __future__ import annotations

from fastapi import APIRouter

from services.followup.api import commands, routes

router = APIRouter()
router.include_router(routes.router)
router.include_router(commands.router)

__all__ = ["router"]
