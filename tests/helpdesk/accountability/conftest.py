"""Fixtures of the accountability tests (the world builder lives in world.py)."""

from tests.helpdesk.accountability.world import db_url, sessions

__all__ = ["db_url", "sessions"]
