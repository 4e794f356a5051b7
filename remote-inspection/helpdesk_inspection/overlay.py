"""Marks drawn over the camera during a snapshot (normalised to the frame), as SVG for the HTML report
and as vector strokes over a copy of the image in the PDF. The evidence image itself is never changed."""

from __future__ import annotations

import math
from typing import Any

COLORS = {"agent": (228, 0, 43), "applicant": (0, 103, 192)}


def _pts(mark: dict[str, Any], w: float, h: float) -> list[tuple[float, float]]:
    return [(float(x) * w, float(y) * h) for x, y in mark.get("points", [])]


def strokes(mark: dict[str, Any], w: float, h: float) -> list[list[tuple[float, float]]]:
    """Polylines (in a w×h box) that draw one mark: a circle as a 36-gon, an arrow with its head."""
    pts = _pts(mark, w, h)
    if not pts:
        return []
    kind = mark.get("kind")
    if kind == "pointer":
        r = max(w, h) * 0.012
        return [[(pts[0][0] + r * math.cos(a / 12 * math.pi), pts[0][1] + r * math.sin(a / 12 * math.pi))
                 for a in range(25)]]
    if kind == "circle" and len(pts) > 1:
        (cx, cy), (ex, ey) = pts[0], pts[-1]
        r = math.hypot(ex - cx, ey - cy)
        return [[(cx + r * math.cos(a / 18 * math.pi), cy + r * math.sin(a / 18 * math.pi)) for a in range(37)]]
    lines = [pts]
    if kind == "arrow" and len(pts) > 1:
        (ax, ay), (bx, by) = pts[0], pts[-1]
        ang, head = math.atan2(by - ay, bx - ax), max(w, h) * 0.03
        lines += [[(bx, by), (bx - head * math.cos(ang + d), by - head * math.sin(ang + d))] for d in (-0.5, 0.5)]
    return lines


def paths(marks: list[dict[str, Any]], width: int, height: int) -> list[dict[str, str]]:
    """SVG path data, colour and stroke width for each stroke, in image pixels (the report template
    writes the <svg> around them, autoescaped)."""
    out = []
    for mark in marks:
        r, g, b = COLORS.get(str(mark.get("by")), COLORS["agent"])
        for line in strokes(mark, width, height):
            d = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(line))
            out.append({"d": d, "color": f"rgb({r},{g},{b})", "width": f"{max(width, height) * 0.006:.1f}"})
    return out


def draw_pdf(pdf: Any, marks: list[dict[str, Any]], x: float, y: float, w: float, h: float) -> None:
    """Strokes over an image already placed at (x, y) with size w×h (mm) in an fpdf2 document."""
    pdf.set_line_width(0.6)
    for mark in marks:
        pdf.set_draw_color(*COLORS.get(str(mark.get("by")), COLORS["agent"]))
        for line in strokes(mark, w, h):
            pdf.polyline([(x + px, y + py) for px, py in line])
    pdf.set_draw_color(0, 0, 0)
