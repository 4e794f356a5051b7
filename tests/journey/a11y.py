"""axe-core (from the axe-playwright-python package, which ships axe.min.js) run on a live page:
the serious and critical violations, one line each, so a test can collect them over many pages
and states and fail once with the whole list."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Page

AXE = Axe()
BLOCKING = ("serious", "critical")
# WCAG 2.0/2.1 A and AA rules (best practices are reported by axe too, but are not the target).
OPTIONS = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
           "resultTypes": ["violations"]}


async def violations(page: Page, where: str) -> list[str]:
    """'where: rule (impact): help [targets]' for each serious or critical violation on the page now."""
    results = await AXE.run(page, options=OPTIONS)
    out = []
    for v in results.response["violations"]:
        if v.get("impact") in BLOCKING:
            targets = [" ".join(map(str, n["target"])) for n in v["nodes"][:6]]
            out.append(f"{where}: {v['id']} ({v['impact']}): {v['help']} {targets}")
    return out
