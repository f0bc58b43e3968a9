"""The text encoding of an uploaded file.

A byte-order mark's encoding (UTF-8, UTF-16/32 LE/BE), else UTF-8 when the whole
file decodes as UTF-8 (checked by streaming it, so an accent on row 50,000 is not
missed), else charset-normalizer's guess on 64 KiB around the first non-UTF-8 byte,
preferring cp1252 (what Windows and Excel write in the West) when no other code page
fits clearly better.
"""

from __future__ import annotations

import codecs

import charset_normalizer

from crmferry.errors import FileUnreadable
from crmferry.imports.reading.info import SAMPLE_BYTES, StrPath

CHUNK_BYTES = 1024 * 1024

_BOMS = (
    # UTF-32 first: its little-endian mark starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def detect_encoding(path: StrPath, head: bytes) -> str:
    """A byte-order mark's encoding, else UTF-8 if the whole file is, else a legacy guess.

    FileUnreadable when the file does not decode whole in the encoding found."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            _require_decodable(path, encoding, f"marked as {encoding} by its byte-order mark")
            return encoding
    first_error = _first_decode_error(path, "utf-8")
    if first_error is None:
        return "utf-8"
    return _detect_legacy_encoding(path, _window(path, first_error))


def decode_sample(head: bytes, encoding: str, final: bool) -> str:
    """The sample as text, without a BOM; an incomplete multi-byte character at its end
    is left out unless `final` (the sample is the whole file)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        text = decoder.decode(head, final=final)
    except UnicodeDecodeError as exc:
        raise FileUnreadable(f"The start of the file is not valid {encoding}.") from exc
    return text.removeprefix("\ufeff")


def _detect_legacy_encoding(path: StrPath, sample: bytes) -> str:
    """charset-normalizer's guess for `sample` (see `_prefer_cp1252`), checked against
    the whole file. If cp1252 fails on a byte it leaves undefined, latin-1 (which
    decodes every byte) is the fallback."""
    matches = charset_normalizer.from_bytes(sample)
    best = matches.best()
    if best is None:
        raise FileUnreadable(
            "The file is not text in any encoding we recognise (UTF-8, UTF-16 with a "
            "byte-order mark, Windows/ISO code pages): it looks binary."
        )
    encoding = _prefer_cp1252(matches, best)
    if encoding.startswith(("utf-16", "utf-32")):
        raise FileUnreadable("The file looks like UTF-16/32 text without a byte-order mark.")
    if _first_decode_error(path, encoding) is None:
        return encoding
    if encoding == "cp1252":
        return "latin-1"
    raise FileUnreadable(f"The file mixes text encodings: part of it is not {encoding}.")


def _prefer_cp1252(
    matches: charset_normalizer.CharsetMatches, best: charset_normalizer.CharsetMatch
) -> str:
    """cp1252 when it fits as well as the best guess, or when the best guess recognised
    no language (a few accents in a short file prove nothing, and cp1252 is what Windows
    and Excel write in the West); otherwise the best guess. Binary content decoded this
    way is still caught by the control-character check."""
    ties = [m for m in matches if m.chaos <= best.chaos]
    if best.coherence == 0 or any("cp1252" in m.could_be_from_charset for m in ties):
        return "cp1252"
    return codecs.lookup(best.encoding).name


def _require_decodable(path: StrPath, encoding: str, why: str) -> None:
    offset = _first_decode_error(path, encoding)
    if offset is not None:
        raise FileUnreadable(
            f"The file is {why}, but the bytes near offset {offset:,} are not valid {encoding}."
        )


def _first_decode_error(path: StrPath, encoding: str) -> int | None:
    """The byte offset (approximate) where decoding the whole file fails; None if it does not.

    Streamed in 1 MiB chunks: fast (the codecs are C) and memory-flat.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return max(offset + exc.start - len(exc.object) + len(chunk), offset)
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return offset
    return None


def _window(path: StrPath, offset: int) -> bytes:
    """About 64 KiB of the file around `offset`, starting at a line start."""
    start = max(0, offset - SAMPLE_BYTES // 2)
    with open(path, "rb") as file:
        file.seek(start)
        data = file.read(SAMPLE_BYTES)
    if start > 0 and b"\n" in data[: offset - start]:
        data = data[data.index(b"\n") + 1 :]
    return data
