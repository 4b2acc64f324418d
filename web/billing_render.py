"""An invoice as a person reads it: an HTML page (jinja2) and a PDF (fpdf2).

fpdf2 is pure Python (no system libraries, unlike WeasyPrint's Pango). Names and
addresses in Bosnia and Herzegovina need č, ć, đ, š and ž, which PDF's built-in fonts do
not have: the PDF embeds DejaVu Sans where the machine has it (Debian's
``fonts-dejavu-core``), and otherwise falls back to Helvetica with those letters written
without their marks, rather than failing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).parent
_env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape())
FONT_PATHS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)
FONT_BOLD_PATHS = tuple(p.with_name("DejaVuSans-Bold.ttf") for p in FONT_PATHS)


def money(minor: int, currency: str = "") -> str:
    """Minor units as ``1,234.50`` (and the currency code when given)."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    text = f"{sign}{whole:,}.{cents:02d}"
    return f"{text} {currency}".strip()


def title_of(invoice: dict[str, Any]) -> str:
    return "Credit note" if invoice["kind"] == "credit_note" else "Invoice"


def render_html(invoice: dict[str, Any]) -> str:
    template = _env.get_template("invoice.html")
    return template.render(
        invoice=invoice,
        title=title_of(invoice),
        money=lambda minor: money(minor, invoice["currency"]),
    )


def _plain(text: str) -> str:
    """``text`` in Latin-1, marks dropped where a letter has none there (core fonts)."""
    out = []
    for char in text.replace("đ", "dj").replace("Đ", "Dj"):
        if ord(char) < 256:
            out.append(char)
        else:
            base = unicodedata.normalize("NFKD", char).encode("latin-1", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


class _Pdf:
    """A small writer over FPDF with the one font this document uses."""

    def __init__(self) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_title("Invoice")
        self.pdf.set_creator("Inviaro")
        self.pdf.add_page()
        regular = next((p for p in FONT_PATHS if p.exists()), None)
        bold = next((p for p in FONT_BOLD_PATHS if p.exists()), None)
        self.text: Callable[[str], str] = _plain
        self.family = "helvetica"
        if regular is not None:
            self.pdf.add_font("body", "", str(regular))
            self.pdf.add_font("body", "B", str(bold or regular))
            self.family, self.text = "body", str

    def line(self, text: str, size: int = 10, bold: bool = False, width: float = 0) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)
        self.pdf.cell(width, size * 0.55, self.text(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def row(self, cells: list[str], widths: list[float], bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", 9)
        for i, (text, width) in enumerate(zip(cells, widths, strict=True)):
            last = i == len(cells) - 1
            self.pdf.cell(
                width,
                6,
                self.text(text),
                border="B",
                align="L" if i == 0 else "R",
                new_x=XPos.LMARGIN if last else XPos.RIGHT,
                new_y=YPos.NEXT if last else YPos.TOP,
            )


def render_pdf(invoice: dict[str, Any]) -> bytes:
    """The invoice as a one-page A4 PDF (more pages for very many lines)."""
    doc = _Pdf()
    currency = invoice["currency"]
    doc.line(f"{title_of(invoice)} {invoice['number']}", size=16, bold=True)
    issued = f"Issued {invoice['issued_at'][:10]}"
    if invoice.get("period"):
        issued += f" · period {invoice['period']}"
    doc.line(issued)
    if invoice.get("note"):
        doc.line(invoice["note"], size=9)
    doc.line("")
    doc.line("From", size=9, bold=True)
    for text in invoice["seller"]:
        doc.line(text)
    doc.line("")
    buyer = invoice["buyer"]
    doc.line("To", size=9, bold=True)
    for text in (buyer["company_name"], buyer["address"], buyer["country"]):
        doc.line(text)
    if buyer.get("vat_id"):
        doc.line(f"VAT {buyer['vat_id']}")
    doc.line("")
    widths = [90.0, 25.0, 35.0, 40.0]
    doc.row(["Description", "Quantity", "Unit price", "Amount"], widths, bold=True)
    for item in invoice["lines"]:
        doc.row(
            [
                str(item["description"]),
                str(item["quantity"]),
                money(int(item["unit_price"]), currency),
                money(int(item["amount"]), currency),
            ],
            widths,
        )
    doc.row(["Net", "", "", money(invoice["net"], currency)], widths)
    doc.row([f"VAT {invoice['vat_percent']} %", "", "", money(invoice["vat"], currency)], widths)
    doc.row(["Total", "", "", money(invoice["total"], currency)], widths, bold=True)
    return bytes(doc.pdf.output())
