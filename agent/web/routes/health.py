"""A liveness probe for the container and the process manager: no login, no database."""

from fastapi import APIRouter

router = APIRouter()


@router.get("/healthz")
def health() -> dict:
    return {"ok": True}
