"""Alembic version files (a package so they ship in the wheel); add one with `make migration m=...`."""
