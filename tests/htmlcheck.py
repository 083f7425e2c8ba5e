"""Test helper: read an HTML page as a browser's parser would, and find the timeline in it."""

from __future__ import annotations

import html.parser
from dataclasses import dataclass, field

VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr"})


@dataclass
class Page:
    """What the timeline of a page holds, and every tag of it."""

    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)  # each timeline row's name, top to bottom
    segments: dict[str, list[str]] = field(default_factory=dict)  # row -> its segments' classes
    marks: list[str] = field(default_factory=list)  # the classes of the vertical marks
    text: str = ""

    def with_class(self, tag: str, css: str) -> list[dict[str, str]]:
        """The attributes of each `tag` whose class list holds `css`."""
        return [a for t, a in self.tags if t == tag and css in a.get("class", "").split()]


class _Reader(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self.open: list[tuple[str, str | None]] = []  # (tag, the row it opens)
        self.texts: list[str] = []

    def _row(self) -> str | None:
        return next((row for _, row in reversed(self.open) if row is not None), None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.page.tags.append((tag, values))
        classes = values.get("class", "").split()
        row = values["data-name"] if tag == "g" and "row" in classes else None
        if row is not None:
            self.page.rows.append(row)
            self.page.segments[row] = []
        if tag == "rect" and "seg" in classes and self._row() is not None:
            self.page.segments[self._row() or ""].append(" ".join(classes[1:]))
        if tag == "g" and "mark" in classes:
            self.page.marks.append(" ".join(classes[1:]))
        if tag not in VOID:
            self.open.append((tag, row))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.open, f"</{tag}> closes nothing"
        opened, _ = self.open.pop()
        assert opened == tag, f"<{opened}> closed by </{tag}>"

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def read_page(text: str) -> Page:
    """Parse `text`; fails on a tag closed out of order or left open."""
    reader = _Reader()
    reader.feed(text)
    reader.close()
    assert [tag for tag, _ in reader.open] == [], "tags left open"
    reader.page.text = " ".join(" ".join(reader.texts).split())
    return reader.page


def assert_self_contained(text: str) -> None:
    """Nothing on the page loads anything: no script, stylesheet, image, font or frame."""
    page = read_page(text)
    for tag, attrs in page.tags:
        assert tag not in {"script", "link", "img", "iframe", "object", "embed"}, tag
        assert "src" not in attrs, (tag, attrs)
        assert "href" not in attrs, (tag, attrs)
    lowered = text.lower()
    assert "url(" not in lowered
    assert "@import" not in lowered
