"""The records package's PDF, for people: a cover page, a certification page for the records
officer to sign, and one section per comment (docs/design.md, "Search and export packages").

Comment text is untrusted and arbitrary. Nothing in it is markup (fpdf2 is given plain
strings, never its HTML or markdown modes); control and direction-override characters are
shown as escapes, as on screen (`display.safe_text`), and so is any character the bundled
font (DejaVu Sans, `resources/fonts/`) has no glyph for, so no text is silently dropped. A
very long text is cut for the PDF with a note: the whole of it is in records.jsonl.

Lines are wrapped here, word by word from the font's widths, and drawn one `text` call each:
fpdf2's `multi_cell` lays out every character in Python and is ten times slower, which an
export of a hundred thousand comments cannot afford.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fpdf import FPDF
from fpdf.fonts import TTFFont

from hsm_console.host.resources import resource_path

FONT = "DejaVu"
PDF_TEXT_CHARS = 4000  # of one comment's (or version's, note's) text; all of it is in JSONL
PAGE_WIDTH, PAGE_HEIGHT, MARGIN = 612.0, 792.0, 54.0  # US Letter, in points
SIZE, LEADING = 9.0, 11.5
_WIDTH = PAGE_WIDTH - 2 * MARGIN
_BOTTOM = PAGE_HEIGHT - MARGIN


class _Shown(dict[int, str]):
    """`str.translate` table, filled on first sight of each character: control, format and
    unassigned characters and those the font cannot draw become visible escapes."""

    def __init__(self, glyphs: Iterable[int]) -> None:
        super().__init__()
        self.glyphs = frozenset(glyphs)

    def __missing__(self, code: int) -> str:
        char = chr(code)
        shown = char
        if char == "\t":
            shown = "    "
        elif char != "\n" and (unicodedata.category(char)[0] == "C" or code not in self.glyphs):
            shown = f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
        self[code] = shown
        return shown


@dataclass(frozen=True)
class Line:
    text: str
    bold: bool = False
    indent: float = 0.0


class PackagePdf:
    """Builds the PDF page by page, in memory; `output()` gives its bytes."""

    def __init__(self, title: str) -> None:
        pdf = FPDF(orientation="portrait", unit="pt", format="letter")
        pdf.set_auto_page_break(False)
        pdf.set_margins(MARGIN, MARGIN, MARGIN)
        pdf.add_font(FONT, "", str(resource_path("fonts", "DejaVuSans.ttf")))
        pdf.add_font(FONT, "B", str(resource_path("fonts", "DejaVuSans-Bold.ttf")))
        pdf.set_title(title)
        pdf.set_creator("HSM Console")
        self.pdf = pdf
        self.title = title
        # What both faces can draw: site and author names are set in bold too.
        faces = [pdf.fonts[FONT.lower()], pdf.fonts[f"{FONT.lower()}B"]]
        self._faces = [face for face in faces if isinstance(face, TTFFont)]
        self._shown = _Shown(set.intersection(*(set(face.cmap) for face in self._faces)))
        self._widths: dict[tuple[bool, str], float] = {}
        self._style: tuple[bool, float] | None = None
        self.y = _BOTTOM  # a page is started by the first line

    def shown(self, text: str) -> str:
        """Text as the PDF can draw it."""
        return text.translate(self._shown)

    def new_page(self) -> None:
        self.pdf.add_page()
        self._font(False, 7.0)
        self.pdf.text(MARGIN, PAGE_HEIGHT - MARGIN / 2, f"{self.title} — page {self.pdf.page}")
        self._font(False)
        self.y = MARGIN + SIZE

    def heading(self, text: str, size: float = 12.0) -> None:
        self.space(LEADING if self.y > MARGIN + SIZE else 0)
        lines = self.wrap(text, bold=True, size=size)
        self._need(size * 1.4 * len(lines) + 3 * LEADING)  # never alone at a page's foot
        for line in lines:
            self._need(size * 1.4)
            self._font(True, size)
            self.pdf.text(MARGIN, self.y, line)
            self.y += size * 1.4
        self._font(False)

    def lines(self, lines: Sequence[Line]) -> None:
        for line in lines:
            for part in self.wrap(line.text, bold=line.bold, indent=line.indent):
                self._need(LEADING)
                self._font(line.bold)
                self.pdf.text(MARGIN + line.indent, self.y, part)
                self.y += LEADING

    def paragraph(self, text: str, indent: float = 0.0, limit: int = PDF_TEXT_CHARS) -> None:
        """Untrusted text: made visible, cut at `limit` characters with a note."""
        cut = text[:limit]
        lines = [Line(self.shown(cut), indent=indent)]
        if len(text) > limit:
            rest = f"[… {len(text) - limit:,} more characters: the whole text is in records.jsonl]"
            lines.append(Line(rest, bold=True, indent=indent))
        self.lines(lines)

    def space(self, points: float = LEADING / 2) -> None:
        self.y += points

    def rule(self) -> None:
        self._need(LEADING)
        self.pdf.line(MARGIN, self.y - SIZE / 2, PAGE_WIDTH - MARGIN, self.y - SIZE / 2)
        self.y += LEADING / 2

    def output(self) -> bytes:
        """The document; the font files are closed after it."""
        try:
            return bytes(self.pdf.output())
        finally:
            self.close()

    def close(self) -> None:
        """Let go of the font files (fontTools reads them lazily, and keeps them open)."""
        for face in self._faces:
            face.close()

    # --- layout ------------------------------------------------------------------------

    def _need(self, height: float) -> None:
        if self.y + height > _BOTTOM:
            self.new_page()

    def _font(self, bold: bool, size: float = SIZE) -> None:
        if self._style != (bold, size):  # fpdf2's set_font costs, even for the same font
            self._style = (bold, size)
            self.pdf.set_font(FONT, "B" if bold else "", size)

    def _width(self, word: str, bold: bool) -> float:
        """The width of `word` at SIZE, from the face's own table (no font switching)."""
        key = (bold, word)
        width = self._widths.get(key)
        if width is None:
            width = self._faces[bold].get_text_width(word, SIZE, None)[1]
            if len(self._widths) < 200_000:  # words repeat; a megabyte of noise does not
                self._widths[key] = width
        return width

    def wrap(
        self, text: str, *, bold: bool = False, indent: float = 0.0, size: float = SIZE
    ) -> list[str]:
        """Lines that fit the page's width, broken between words, inside a word too long."""
        scale = size / SIZE
        room = (_WIDTH - indent) / scale
        space = self._width(" ", bold)
        out: list[str] = []
        for paragraph in text.split("\n"):
            line: list[str] = []
            used = 0.0
            for word in paragraph.split(" "):
                width = self._width(word, bold)
                if line and used + space + width <= room:
                    line.append(word)
                    used += space + width
                    continue
                if line:
                    out.append(" ".join(line))
                while width > room:  # a word wider than a line: cut it where it fills one
                    cut = self._fitting(word, room, bold)
                    out.append(word[:cut])
                    word = word[cut:]
                    width = self._width(word, bold)
                line, used = [word], width
            out.append(" ".join(line))
        return out

    def _fitting(self, word: str, room: float, bold: bool) -> int:
        low, high = 1, len(word)
        while low < high:  # the longest start of `word` that fits, at least one character
            middle = (low + high + 1) // 2
            if self._width(word[:middle], bold) <= room:
                low = middle
            else:
                high = middle - 1
        return low
