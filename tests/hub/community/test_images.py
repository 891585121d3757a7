"""Photo checks and metadata removal without an image library: EXIF (with GPS) goes unless kept."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from hub.community.images import (
    PhotoError,
    clean_photo,
    photo_type,
    strip_jpeg_metadata,
    strip_png_metadata,
)

GPS_MARK = b"GPSLatitude-6.2000"


def _jpeg_with_exif() -> bytes:
    """A real JPEG (Pillow) with an APP1 EXIF segment and a COM comment carrying a location marker."""
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "#c33").save(buffer, format="JPEG")
    plain = buffer.getvalue()
    exif = b"Exif\x00\x00" + GPS_MARK
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    com = b"\xff\xfe" + struct.pack(">H", len(GPS_MARK) + 2) + GPS_MARK
    return plain[:2] + app1 + com + plain[2:]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_with_exif() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "#3c3").save(buffer, format="PNG")
    plain = buffer.getvalue()
    ihdr_end = 8 + 12 + 13
    return (
        plain[:ihdr_end]
        + _chunk(b"eXIf", b"MM\x00*" + GPS_MARK)
        + _chunk(b"tEXt", b"Comment\x00" + GPS_MARK)
        + plain[ihdr_end:]
    )


def test_jpeg_exif_and_comments_are_removed_and_the_image_still_decodes() -> None:
    original = _jpeg_with_exif()
    assert GPS_MARK in original
    stripped = strip_jpeg_metadata(original)
    assert GPS_MARK not in stripped
    assert stripped.startswith(b"\xff\xd8") and stripped.endswith(b"\xff\xd9")
    assert Image.open(io.BytesIO(stripped)).size == (16, 16)
    assert strip_jpeg_metadata(stripped) == stripped  # nothing left to remove


def test_png_exif_and_text_chunks_are_removed() -> None:
    original = _png_with_exif()
    stripped = strip_png_metadata(original)
    assert GPS_MARK in original and GPS_MARK not in stripped
    assert Image.open(io.BytesIO(stripped)).size == (8, 8)


def test_location_is_kept_only_when_the_resident_shares_it() -> None:
    photo = _jpeg_with_exif()
    assert GPS_MARK in clean_photo(photo, keep_location=True)[0]
    cleaned, kind = clean_photo(photo, keep_location=False)
    assert kind == "image/jpeg" and GPS_MARK not in cleaned


def test_only_jpeg_and_png_within_the_limit() -> None:
    with pytest.raises(PhotoError) as caught:
        photo_type(b"GIF89a....")
    assert caught.value.reason == "not_an_image"
    with pytest.raises(PhotoError) as caught:
        photo_type(b"<svg onload=alert(1)>")
    assert caught.value.reason == "not_an_image"
    with pytest.raises(PhotoError) as caught:
        photo_type(b"\xff\xd8\xff" + b"\x00" * 100, max_bytes=50)
    assert caught.value.reason == "too_large"


@pytest.mark.parametrize(
    "damaged",
    [
        b"\xff\xd8\xff\xe1\xff\xff",  # a segment longer than the file
        b"\xff\xd8\x00\x00",  # not a marker
        b"\xff\xd8\xff\xe1\x00\x01",  # length below 2
        b"\xff\xd8",  # ends before any scan
    ],
)
def test_a_damaged_jpeg_is_refused_not_guessed(damaged: bytes) -> None:
    with pytest.raises(PhotoError) as caught:
        strip_jpeg_metadata(damaged)
    assert caught.value.reason == "damaged"


def test_a_png_without_its_end_is_refused() -> None:
    with pytest.raises(PhotoError):
        strip_png_metadata(_png_with_exif()[:-12])
