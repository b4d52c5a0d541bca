"""The records package's PDF, for people: a cover page, a certification page for the records
officer to sign, and one section per comment (docs/design.md, "Search and export packages").

Comment text is untrusted and arbitrary. Nothing in it is markup (fpdf2 is given plain
strings, never its HTML or markdown modes); control and direction-override characters are
shown as escapes, as on screen (`display.safe_text`), and so is any character the bundled
font (DejaVu Sans, `resources/fonts/`) has no glyph for, so no text is silently dropped. A
very long text is cut for the PDF with a note: the whole of it is in records.jsonl.

Lines are wrapped here from the font's widths (a line that fits whole is measured once, not
word by word) and written straight into the page's content stream: each character becomes its
glyph's code in the font's subset through one `str.translate` table per face, filled on first
sight through fpdf2's own subset (`subset.pick`, as its `encode_text` does). fpdf2's `text`
does the same one character at a time in Python, and `multi_cell` lays out every character:
an export of a hundred thousand comments (some 700,000 lines) cannot afford either. Each page
is compressed as soon as it is done (`_PagesCompressed`): fpdf2 would hold every page's raw
content until `output`, some 190 MB for 14,000 pages.
"""

from __future__ import annotations

import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from fpdf import FPDF
from fpdf.enums import PDFResourceType
from fpdf.fonts import TTFFont
from fpdf.output import OutputProducer, PDFPage
from fpdf.syntax import Name, PDFContentStream
from fpdf.util import escape_parens

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


class _Glyphs(dict[int, str]):
    """`str.translate` table of one face: a character as its glyph's code in the subset (as
    one character, so that the line's UTF-16BE is the PDF string's content)."""

    def __init__(self, face: TTFFont) -> None:
        super().__init__()
        self.face = face

    def __missing__(self, code: int) -> str:
        glyph = self.face.subset.pick(code)  # registers the glyph for the subset
        self[code] = coded = "" if glyph is None else chr(glyph)
        return coded


class _PagesCompressed(OutputProducer):
    """fpdf2's output (its `output_producer_class`) for pages whose content `PackagePdf`
    compressed itself, page by page (fpdf2's compression is off for them)."""

    def _add_pages(self, _slice: slice = slice(0, None)) -> list[PDFPage]:
        pages = super()._add_pages(_slice)
        for page in pages:
            assert isinstance(page.contents, PDFContentStream)
            page.contents.filter = Name("FlateDecode")
        return pages


class Line(NamedTuple):  # a tuple: some 700,000 are made for a large package
    text: str
    bold: bool = False
    indent: float = 0.0


class PackagePdf:
    """Builds the PDF page by page, in memory; `output()` gives its bytes."""

    def __init__(self, title: str) -> None:
        pdf = FPDF(orientation="portrait", unit="pt", format="letter")
        pdf.set_auto_page_break(False)
        pdf.set_compression(False)  # each page is compressed when done (`_done`)
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
        self._glyphs = [_Glyphs(face) for face in self._faces]
        self._widths: dict[tuple[bool, str], float] = {}
        self._style: tuple[bool, float] | None = None  # of the page's last text
        self._ops: list[bytes] = []  # the page's content, written when the page is done
        self.y = _BOTTOM  # a page is started by the first line

    def shown(self, text: str) -> str:
        """Text as the PDF can draw it."""
        return text.translate(self._shown)

    def new_page(self) -> None:
        self._done()
        self.pdf.add_page()
        self._style = None
        self._text(MARGIN, PAGE_HEIGHT - MARGIN / 2, f"{self.title} — page {self.pdf.page}",
                   False, 7.0)  # fmt: skip
        self.y = MARGIN + SIZE

    def heading(self, text: str, size: float = 12.0) -> None:
        self.space(LEADING if self.y > MARGIN + SIZE else 0)
        lines = self.wrap(text, bold=True, size=size)
        self._need(size * 1.4 * len(lines) + 3 * LEADING)  # never alone at a page's foot
        for line in lines:
            self._need(size * 1.4)
            self._text(MARGIN, self.y, line, True, size)
            self.y += size * 1.4

    def lines(self, lines: Sequence[Line]) -> None:
        for text, bold, indent in lines:
            for part in self.wrap(text, bold=bold, indent=indent):
                if self.y + LEADING > _BOTTOM:  # `_need`, inlined: some 700,000 lines
                    self.new_page()
                self._text(MARGIN + indent, self.y, part, bold)
                self.y += LEADING

    def line(self, text: str) -> None:
        """`lines([Line(text)])` without its wrapping for a line that fits whole (most): the
        index of a large package is some 100,000 of them."""
        if "\n" in text or self._measure(text, False) > _WIDTH:
            self.lines([Line(text)])
            return
        if self.y + LEADING > _BOTTOM:
            self.new_page()
        self._text(MARGIN, self.y, text, False)
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
        at = PAGE_HEIGHT - self.y + SIZE / 2
        self._ops.append(b"%.2f %.2f m %.2f %.2f l S" % (MARGIN, at, PAGE_WIDTH - MARGIN, at))
        self.y += LEADING / 2

    def output(self) -> bytearray:
        """The document; the font files are closed after it."""
        try:
            self._done()
            return self.pdf.output(output_producer_class=_PagesCompressed)
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

    def _text(self, x: float, y: float, text: str, bold: bool, size: float = SIZE) -> None:
        """What fpdf2's `text` writes, without its per-character Python (module docstring)."""
        if self._style != (bold, size):  # the font stays set across text objects
            self._style = (bold, size)
            face = self._faces[bold]
            self.pdf._resource_catalog.add(PDFResourceType.FONT, face.i, self.pdf.page)
            self._ops.append(b"BT /F%d %.2f Tf ET" % (face.i, size))
        coded = escape_parens(text.translate(self._glyphs[bold]).encode("utf-16-be"))
        self._ops.append(b"BT %.2f %.2f Td (%s) Tj ET" % (x, PAGE_HEIGHT - y, coded))

    def _done(self) -> None:
        """The page's content written and compressed (nothing is added to a page after)."""
        if not self.pdf.page:
            return
        if self._ops:
            self.pdf._out(b"\n".join(self._ops))
            self._ops.clear()
        page = self.pdf.pages[self.pdf.page]
        assert isinstance(page.contents, bytearray)
        page.contents = bytearray(zlib.compress(page.contents))

    def _measure(self, text: str, bold: bool) -> float:
        """The width of `text` at SIZE, from the face's own width table."""
        return sum(map(self._faces[bold].cw.__getitem__, map(ord, text))) * SIZE * 0.001

    def _width(self, word: str, bold: bool) -> float:
        key = (bold, word)
        width = self._widths.get(key)
        if width is None:
            width = self._measure(word, bold)
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
            if self._measure(paragraph, bold) <= room:  # most lines: no word by word
                out.append(paragraph)
                continue
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
