"""The QR poster of a post (A4, Bahasa Indonesia): SVG for printing at any size, PNG for sharing.

The first QR code is the officers' visit link (sambang), the second the residents' quick report
(lapor cepat); both are signed links bound to the post (hub/community/links.py). segno encodes the
QR codes (pure Python); the PNG is drawn with Pillow, whose bundled scalable font needs no system
fonts. Text comes from the caller's values and is escaped for SVG.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from xml.sax.saxutils import escape

import segno
from PIL import Image, ImageDraw, ImageFont

QUIET_ZONE = 4  # modules of white around a QR code, as the standard asks


@dataclass(frozen=True)
class PosterText:
    title: str = "POS KAMLING"
    sambang_heading: str = "SAMBANG POLISI"
    sambang_body: str = "Khusus petugas Polri: pindai untuk mencatat kunjungan ke pos ini."
    lapor_heading: str = "LAPOR CEPAT WARGA"
    lapor_body: str = "Lihat kejadian mencurigakan? Pindai dan laporkan ke Polsek. Tanpa akun, tanpa aplikasi."
    footer: str = "Keadaan darurat: telepon 110"


def qr_matrix(url: str) -> list[list[bool]]:
    """The QR code of `url` (error correction M: survives some dirt on a wall poster), quiet zone included."""
    code = segno.make(url, error="m", micro=False, boost_error=False)
    rows = [[bool(v) for v in row] for row in code.matrix]
    size = len(rows) + 2 * QUIET_ZONE
    blank = [False] * size
    return (
        [blank[:] for _ in range(QUIET_ZONE)]
        + [[False] * QUIET_ZONE + row + [False] * QUIET_ZONE for row in rows]
        + [blank[:] for _ in range(QUIET_ZONE)]
    )


def _svg_qr(matrix: list[list[bool]], x: float, y: float, size: float) -> str:
    module = size / len(matrix)
    parts = []
    for r, row in enumerate(matrix):
        c = 0
        while c < len(row):
            if row[c]:
                start = c
                while c < len(row) and row[c]:
                    c += 1
                parts.append(
                    f"M{x + start * module:.2f} {y + r * module:.2f}h{(c - start) * module:.2f}v{module:.2f}"
                    f"h{-(c - start) * module:.2f}z"
                )
            else:
                c += 1
    return f'<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{"".join(parts)}"/>'


def _wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    line = ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return [*lines, line] if line else lines


def poster_svg(post_name: str, village: str, sambang_url: str, lapor_url: str, text: PosterText = PosterText()) -> str:
    """An A4 portrait poster as SVG (units: tenths of a millimetre)."""
    width, height = 2100, 2970
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="210mm" height="297mm" viewBox="0 0 {width} {height}">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<rect x="0" y="0" width="{width}" height="330" fill="#1a3d7c"/>',
        f'<text x="{width / 2}" y="150" font-family="sans-serif" font-size="110" font-weight="700" fill="#fff" '
        f'text-anchor="middle">{escape(text.title)}</text>',
        f'<text x="{width / 2}" y="270" font-family="sans-serif" font-size="80" fill="#fff" text-anchor="middle">'
        f"{escape(post_name)}</text>",
    ]
    if village:
        out.append(
            f'<text x="{width / 2}" y="440" font-family="sans-serif" font-size="60" fill="#333" '
            f'text-anchor="middle">{escape(village)}</text>'
        )
    size = 850
    for index, (heading, body, url, colour) in enumerate(
        (
            (text.sambang_heading, text.sambang_body, sambang_url, "#1a3d7c"),
            (text.lapor_heading, text.lapor_body, lapor_url, "#b00020"),
        )
    ):
        x = 150 + index * (size + 100)
        out.append(
            f'<text x="{x + size / 2}" y="640" font-family="sans-serif" font-size="68" font-weight="700" '
            f'fill="{colour}" text-anchor="middle">{escape(heading)}</text>'
        )
        out.append(
            f'<rect x="{x - 12}" y="700" width="{size + 24}" height="{size + 24}" fill="none" stroke="{colour}" '
            'stroke-width="12"/>'
        )
        out.append(_svg_qr(qr_matrix(url), x, 712, size))
        for n, line in enumerate(_wrap(body, 26)):
            out.append(
                f'<text x="{x + size / 2}" y="{1720 + n * 70}" font-family="sans-serif" font-size="52" '
                f'fill="#111" text-anchor="middle">{escape(line)}</text>'
            )
    out.append(
        f'<text x="{width / 2}" y="2700" font-family="sans-serif" font-size="80" font-weight="700" fill="#b00020" '
        f'text-anchor="middle">{escape(text.footer)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)  # Pillow's bundled scalable font (FreeType): no system font needed


def _centred(draw: ImageDraw.ImageDraw, cx: float, y: float, line: str, size: int, fill: str) -> None:
    font = _font(size)
    draw.text((cx - draw.textlength(line, font=font) / 2, y), line, font=font, fill=fill)


def _wrap_px(draw: ImageDraw.ImageDraw, text: str, size: int, width: float) -> list[str]:
    font = _font(size)
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}".strip()
        if line and draw.textlength(candidate, font=font) > width:
            lines.append(line)
            line = word
        else:
            line = candidate
    return [*lines, line] if line else lines


def poster_png(
    post_name: str, village: str, sambang_url: str, lapor_url: str, text: PosterText = PosterText(), dpi: int = 150
) -> bytes:
    """The same poster as a PNG (A4 at `dpi`)."""
    scale = dpi / 254  # SVG units are tenths of a millimetre
    width, height = round(2100 * scale), round(2970 * scale)
    image = Image.new("RGB", (width, height), "#ffffff")
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, round(330 * scale)), fill="#1a3d7c")
    _centred(draw, width / 2, 50 * scale, text.title, round(110 * scale), "#ffffff")
    _centred(draw, width / 2, 190 * scale, post_name, round(80 * scale), "#ffffff")
    if village:
        _centred(draw, width / 2, 380 * scale, village, round(60 * scale), "#333333")
    size = round(850 * scale)
    for index, (heading, body, url, colour) in enumerate(
        (
            (text.sambang_heading, text.sambang_body, sambang_url, "#1a3d7c"),
            (text.lapor_heading, text.lapor_body, lapor_url, "#b00020"),
        )
    ):
        x = round((150 + index * 950) * scale)
        _centred(draw, x + size / 2, 570 * scale, heading, round(68 * scale), colour)
        border = round(12 * scale)
        top = round(712 * scale)
        draw.rectangle(
            (x - 2 * border, top - 2 * border, x + size + 2 * border, top + size + 2 * border),
            outline=colour,
            width=border,
        )
        matrix = qr_matrix(url)
        module = max(1, size // len(matrix))  # whole pixels per module: uneven modules scan badly
        left = x + (size - module * len(matrix)) // 2
        upper = top + (size - module * len(matrix)) // 2
        for r, row in enumerate(matrix):
            for c, dark in enumerate(row):
                if dark:
                    draw.rectangle(
                        (
                            left + c * module,
                            upper + r * module,
                            left + (c + 1) * module - 1,
                            upper + (r + 1) * module - 1,
                        ),
                        fill="#000000",
                    )
        for n, line in enumerate(_wrap_px(draw, body, round(52 * scale), size)):
            _centred(draw, x + size / 2, (1670 + n * 70) * scale, line, round(52 * scale), "#111111")
    _centred(draw, width / 2, 2620 * scale, text.footer, round(80 * scale), "#b00020")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", dpi=(dpi, dpi))
    return buffer.getvalue()
