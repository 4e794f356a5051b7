"""The evaluation set's service guides: YAML (guides_*.yaml) rendered to Markdown articles.

Also an import folder for the KB (richer demo content):
`.venv/bin/python bench/kb_eval/guides.py --export DIR` then `.venv/bin/helpdesk kb import DIR`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


@dataclass
class Guide:
    slug: str
    title: str
    department: str
    tags: list[str]
    body: str  # Markdown


def _numbered(lines: list[str]) -> str:
    return "\n".join(f"{n}. {line}" for n, line in enumerate(lines, 1))


def render(entry: dict) -> Guide:
    """Sections in the order guides use: 事项说明, 办理条件, 所需材料, 办理流程, 收费标准, 办理时限, 办理地点,
    常见问题."""
    dept = entry["d"]
    place = entry.get("place") or f"各级政务服务中心{dept}窗口；支持网上办理的可通过冀时办APP或河北政务服务网申请。"
    parts = [
        f"## 事项说明\n\n{entry['intro']}",
        f"## 办理条件\n\n{_numbered(entry['cond'])}",
        f"## 所需材料\n\n{_numbered(entry['mat'])}",
        f"## 办理流程\n\n{_numbered(entry['steps'])}",
        f"## 收费标准\n\n{entry['fee']}",
        f"## 办理时限\n\n{entry['time']}",
        f"## 办理地点\n\n{place}",
    ]
    if entry.get("faq"):
        parts.append("## 常见问题\n\n" + "\n\n".join(f"**问：{q}？**\n\n答：{a}" for q, a in entry["faq"]))
    return Guide(entry["slug"], entry["t"], dept, list(entry.get("tags", [])), "\n\n".join(parts) + "\n")


def load_guides() -> list[Guide]:
    return [render(e) for f in sorted(HERE.glob("guides_*.yaml")) for e in yaml.safe_load(f.read_text("utf-8"))]


def load_queries(name: str = "queries.yaml") -> list[tuple[str, str, list[str]]]:
    """(kind, query, acceptable slugs); an empty list means the KB has no answer."""
    data = yaml.safe_load((HERE / name).read_text("utf-8"))
    return [(kind, q, list(want)) for kind, rows in data.items() for q, want in rows]


def export(folder: Path) -> int:
    """Write the guides in the KB's import format (YAML front matter + Markdown)."""
    folder.mkdir(parents=True, exist_ok=True)
    guides = load_guides()
    for g in guides:
        front = {"title": g.title, "slug": g.slug, "departments": [g.department], "tags": g.tags, "guide": True}
        text = "---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n\n" + g.body
        (folder / f"{g.slug}.md").write_text(text, encoding="utf-8")
    return len(guides)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--export", type=Path, required=True, help="folder to write the .md files into")
    print(f"wrote {export(parser.parse_args().export)} guides")
