"""The QR poster: both links are in the QR codes, the text is escaped, the PNG is an A4 image."""

from __future__ import annotations

import io
from xml.etree import ElementTree

import segno
from PIL import Image

from hub.community.poster import poster_png, poster_svg, qr_matrix

SAMBANG = "https://polsek.example/sambang/eyJwIjoic2FtYmFuZyJ9.c2ln"
LAPOR = "https://polsek.example/lapor/eyJwIjoibGFwb3IifQ.c2ln"


def test_the_qr_matrix_is_segnos_code_with_a_quiet_zone() -> None:
    matrix = qr_matrix(SAMBANG)
    code = segno.make(SAMBANG, error="m", micro=False, boost_error=False)
    assert len(matrix) == len(code.matrix) + 8
    assert not any(matrix[0]) and matrix[4][4]  # quiet zone, then the finder pattern's corner


def test_the_svg_poster_names_the_post_escaped_and_parses() -> None:
    svg = poster_svg('Pos RW 01 <script>"x"</script>', "Sukamaju", SAMBANG, LAPOR)
    ElementTree.fromstring(svg)  # well-formed XML
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert "SAMBANG POLISI" in svg and "LAPOR CEPAT WARGA" in svg and "telepon 110" in svg


def test_the_png_poster_is_a4() -> None:
    image = Image.open(io.BytesIO(poster_png("Pos RW 01", "Sukamaju", SAMBANG, LAPOR, dpi=100)))
    assert image.format == "PNG"
    assert abs(image.size[1] / image.size[0] - 297 / 210) < 0.01
