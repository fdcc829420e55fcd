"""Intake's HTTP API: its routers, in the order its OpenAPI document lists them."""

from services.intake.api.clients import clients
from services.intake.api.export import export
from services.intake.api.privacy import privacy
from services.intake.api.routes import router

ROUTERS = (clients, router, privacy, export)

__all__ = ["ROUTERS", "clients", "export", "privacy", "router"]
