"""Photos from phones: only JPEG or PNG, bounded in size, location metadata removed on request.

No image library decodes anything here: a photo is checked by its signature and walked by its
container structure (JPEG segments, PNG chunks), which is all that removing metadata needs. A
file that is not well formed is refused rather than guessed at.

JPEG: the APPn segments that carry EXIF (and its GPS block) and XMP are APP1; IPTC (place names)
is APP13; comments are COM. These go; APP0 (JFIF) and APP14 (Adobe, needed to decode some
colour spaces) stay. Everything from the start of scan on is copied as is.
PNG: `eXIf` holds EXIF, and the text chunks (`tEXt`, `zTXt`, `iTXt`) may hold XMP: they go.
"""

from __future__ import annotations

import struct

MAX_PHOTO_BYTES = 5 * 1024 * 1024
JPEG = "image/jpeg"
PNG = "image/png"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_JPEG_DROP = frozenset({0xE1, 0xED, 0xFE})  # APP1 (EXIF, XMP), APP13 (IPTC), COM
_PNG_DROP = frozenset({b"eXIf", b"tEXt", b"zTXt", b"iTXt"})
# Markers without a length field: TEM and RSTn (SOI/EOI are handled on their own).
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})


class PhotoError(ValueError):
    """A photo that is refused. `reason`: too_large, not_an_image, damaged."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def photo_type(data: bytes, max_bytes: int = MAX_PHOTO_BYTES) -> str:
    """The MIME type of an acceptable photo, by its bytes (never by the name or the browser's claim)."""
    if len(data) > max_bytes:
        raise PhotoError("too_large")
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(PNG_SIGNATURE):
        return PNG
    raise PhotoError("not_an_image")


def strip_jpeg_metadata(data: bytes) -> bytes:
    """The JPEG without its EXIF/XMP (APP1), IPTC (APP13) and comment segments; PhotoError if malformed."""
    if not data.startswith(b"\xff\xd8"):
        raise PhotoError("not_an_image")
    out = bytearray(b"\xff\xd8")
    pos = 2
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise PhotoError("damaged")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:  # EOI before any scan: nothing more to copy
            out += data[pos : pos + 2]
            return bytes(out)
        if marker in _STANDALONE:
            out += data[pos : pos + 2]
            pos += 2
            continue
        if pos + 4 > len(data):
            raise PhotoError("damaged")
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise PhotoError("damaged")
        if marker == 0xDA:  # start of scan: the compressed image and whatever follows, untouched
            out += data[pos:]
            return bytes(out)
        if marker not in _JPEG_DROP:
            out += data[pos:end]
        pos = end


def strip_png_metadata(data: bytes) -> bytes:
    """The PNG without its eXIf and text chunks; PhotoError if malformed."""
    if not data.startswith(PNG_SIGNATURE):
        raise PhotoError("not_an_image")
    out = bytearray(PNG_SIGNATURE)
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise PhotoError("damaged")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length  # length, type, data, CRC
        if end > len(data):
            raise PhotoError("damaged")
        if kind not in _PNG_DROP:
            out += data[pos:end]
        pos = end
        if kind == b"IEND":
            return bytes(out)
    raise PhotoError("damaged")  # no IEND


def clean_photo(data: bytes, keep_location: bool, max_bytes: int = MAX_PHOTO_BYTES) -> tuple[bytes, str]:
    """An accepted photo (bytes, MIME type): metadata removed unless `keep_location`."""
    kind = photo_type(data, max_bytes)
    if keep_location:
        return data, kind
    return (strip_jpeg_metadata(data) if kind == JPEG else strip_png_metadata(data)), kind
