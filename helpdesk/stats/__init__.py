"""Supervisor figures: per day, agent, unit and item, computed in SQL within the caller's scope."""
