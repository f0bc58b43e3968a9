"""The text encoding of an uploaded file.

The encoding the user chose, else a byte-order mark's encoding (UTF-8, UTF-16/32
LE/BE), else UTF-8 when the whole file decodes as UTF-8 (checked by streaming it, so an
accent on row 50,000 is not missed), else the legacy encoding that reads 64 KiB around
the first non-UTF-8 byte best (by charset-normalizer's mess measure), the most common
one winning a tie, with how sure that guess is.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass

import charset_normalizer

from crmferry.errors import FileUnreadable, ValidationFailed
from crmferry.imports.reading.info import SAMPLE_BYTES
from crmferry.imports.reading.source import Source

CHUNK_BYTES = 1024 * 1024
# Control characters real text does not hold (tab, line breaks and FileMaker's vertical
# tab excepted): an encoding that decodes bytes into these is the wrong one.
_CONTROL = re.compile(r"[\x00-\x08\x0c\x0e-\x1f\x7f-\x9f]")

_BOMS = (
    # UTF-32 first: its little-endian mark starts with UTF-16's.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class Encoding:
    """The encoding a file is read in, how sure detection is of it (0-1), the other
    encodings it could be in, read differently, and a sentence for the user when it is
    not UTF-8."""

    name: str
    confidence: float = 1.0
    alternatives: tuple[str, ...] = ()
    note: str | None = None


# Below this confidence the upload says the encoding is a guess the user should check.
UNSURE = 0.8

# Legacy encodings tried, most common first: the order breaks ties between encodings
# that read a sample equally well (a short Western file is cp1252 before cp1250).
LEGACY_ENCODINGS = (
    "cp1252",
    "mac-roman",
    "gb18030",
    "cp932",
    "cp949",
    "big5",
    "euc_jp",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp874",
    "koi8-r",
    "iso8859-2",
    "iso8859-15",
    "cp850",
    "mac-turkish",
    "mac-iceland",
    "mac-latin2",
    "iso8859-1",
)
UNICODE_ENCODINGS = ("utf-8", "utf-8-sig", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
CHOOSABLE_ENCODINGS = UNICODE_ENCODINGS + LEGACY_ENCODINGS

LABELS = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 (with a byte-order mark)",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "utf-32-le": "UTF-32 LE",
    "utf-32-be": "UTF-32 BE",
    "cp1252": "Windows-1252 (Western European)",
    "mac-roman": "Mac Roman (Excel for Mac)",
    "gb18030": "GB18030 (Chinese, simplified)",
    "cp932": "Shift-JIS (Japanese)",
    "cp949": "EUC-KR (Korean)",
    "big5": "Big5 (Chinese, traditional)",
    "euc_jp": "EUC-JP (Japanese)",
    "cp1250": "Windows-1250 (Central European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "cp1253": "Windows-1253 (Greek)",
    "cp1254": "Windows-1254 (Turkish)",
    "cp1255": "Windows-1255 (Hebrew)",
    "cp1256": "Windows-1256 (Arabic)",
    "cp1257": "Windows-1257 (Baltic)",
    "cp874": "Windows-874 (Thai)",
    "koi8-r": "KOI8-R (Russian)",
    "iso8859-2": "ISO-8859-2 (Central European)",
    "iso8859-15": "ISO-8859-15 (Western European with €)",
    "cp850": "DOS 850 (Western European)",
    "mac-turkish": "Mac Turkish",
    "mac-iceland": "Mac Icelandic",
    "mac-latin2": "Mac Central European",
    "iso8859-1": "ISO-8859-1 (Latin-1)",
}

# Two encodings read a sample "equally well" when the share of odd characters in their
# text (see `_oddity`) differs by no more than this.
_TIE = 0.02
_TELLING_BYTES = 8 * 1024
# Non-ASCII characters a sample needs before a language model may break a tie.
_LANGUAGE_CHARS = 12
_CLEAR_LEAD = 0.05
_LATIN_CODE_PAGES = frozenset(
    {"cp1252", "cp1250", "cp1254", "cp1257", "iso8859-1", "iso8859-2", "iso8859-15", "cp850"}
    | {"mac-roman", "mac-latin2", "mac-turkish", "mac-iceland"}
)
_MAC_ROMAN_VARIANTS = frozenset(
    {"mac-turkish", "mac-iceland", "mac-croatian", "mac-romanian"}
)  # of the sample's lines that hold non-ASCII bytes


def detect_encoding(source: Source, head: bytes, chosen: str | None = None) -> Encoding:
    """The encoding `chosen` by the user (ValidationFailed if it is none we read), else a
    byte-order mark's, else UTF-8 if the whole file is, else a legacy guess.

    FileUnreadable when the file does not decode whole in the encoding found."""
    if chosen is not None:
        name = choosable_encoding(chosen)
        _require_decodable(source, name, f"read as {name}, the encoding chosen")
        return Encoding(name)
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            _require_decodable(source, encoding, f"marked as {encoding} by its byte-order mark")
            return Encoding(encoding)
    first_error = _first_decode_error(source, "utf-8")
    if first_error is None:
        return Encoding("utf-8")
    return _detect_legacy_encoding(source, _window(source, first_error))


def choosable_encoding(name: str) -> str:
    """The codec name of an encoding a user may choose; ValidationFailed for others."""
    try:
        canonical = codecs.lookup(name.strip()).name
    except LookupError:
        canonical = ""
    if canonical not in CHOOSABLE_ENCODINGS:
        message = "must be one of " + ", ".join(CHOOSABLE_ENCODINGS)
        raise ValidationFailed(
            f"Unknown encoding '{name}'.", [{"field": "encoding", "message": message}]
        )
    return canonical


def decode_sample(head: bytes, encoding: str, final: bool) -> str:
    """The sample as text, without a BOM; an incomplete multi-byte character at its end
    is left out unless `final` (the sample is the whole file)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        text = decoder.decode(head, final=final)
    except UnicodeDecodeError as exc:
        raise FileUnreadable(f"The start of the file is not valid {encoding}.") from exc
    return text.removeprefix("\ufeff")


def _detect_legacy_encoding(source: Source, sample: bytes) -> Encoding:
    """The legacy encoding that reads `sample` best, checked against the whole file.

    Each of LEGACY_ENCODINGS (and charset-normalizer's own candidates) that decodes the
    sample's non-ASCII lines is scored by charset-normalizer's mess measure; among those
    within _TIE of the best, the first in LEGACY_ENCODINGS wins (Mac Roman first when
    lines end in CR alone, as Excel for Mac writes them). If cp1252 then fails on a byte
    it leaves undefined, latin-1 (which decodes every byte) is the fallback."""
    scored, ranked = _scored(sample)
    if not scored:
        raise FileUnreadable(
            "The file is not text in any encoding we recognise (UTF-8, UTF-16 with a "
            "byte-order mark, Windows/ISO/Mac code pages, GB18030, Shift-JIS, Big5, "
            "EUC-KR): it looks binary."
        )
    best = min(mess for _, mess, _ in scored)
    ties = [(name, text) for name, mess, text in scored if mess <= best + _TIE]
    name, text = _tie_winner(ties, ranked)
    others = [(n, m) for n, m, t in scored if t != text]
    close = tuple(n for n, t in ties if t != text)
    confidence = _confidence(best, others, close)
    agreed = not close or ranked[:1] == [name]  # charset-normalizer's language model too
    if name in _MULTIBYTE and best == 0 and agreed and sum(c >= "\x80" for c in text) >= 10:
        # bytes decode strictly as East Asian text, every character plausible: by chance
        # that hardly happens
        confidence = max(confidence, 0.95)
    if name.startswith(("utf-16", "utf-32")):
        raise FileUnreadable("The file looks like UTF-16/32 text without a byte-order mark.")
    if _first_decode_error(source, name) is not None:
        if name != "cp1252":
            raise FileUnreadable(f"The file mixes text encodings: part of it is not {name}.")
        name, confidence = "iso8859-1", min(confidence, 0.6)
    return Encoding(name, confidence, close[:3], _note(name, confidence, close))


def _tie_winner(ties: list[tuple[str, str]], ranked: list[str]) -> tuple[str, str]:
    """Among encodings that read the sample equally well: with enough non-ASCII text to
    tell languages apart, the one charset-normalizer ranks first (its language models
    tell Polish from French, Greek from Russian, Korean from Chinese), Mac Roman standing
    for its regional variants; with little text, the most common (the first)."""
    names = [name for name, _ in ties]
    if sum(c >= "\x80" for c in ties[0][1]) >= _LANGUAGE_CHARS:
        for name in ranked:
            if name in _MAC_ROMAN_VARIANTS and "mac-roman" in names:
                name = "mac-roman"
            if name in names:
                return ties[names.index(name)]
    return ties[0]


def _scored(sample: bytes) -> tuple[list[tuple[str, float, str]], list[str]]:
    """(encoding, oddity, text) for each candidate that decodes the sample's telling
    lines into text without control characters, in preference order; and
    charset-normalizer's ranking of the encodings it finds."""
    telling = _telling_lines(sample)
    order = list(LEGACY_ENCODINGS)
    if b"\r" in sample and b"\n" not in sample:
        order.insert(0, order.pop(order.index("mac-roman")))
    ranked = _language_ranking(telling)
    order += sorted(set(ranked) - set(order) - {"utf-8", "ascii"})
    scored = []
    for name in order:
        decoder = codecs.getincrementaldecoder(name)(errors="strict")
        try:
            text = decoder.decode(telling, final=False)
        except UnicodeDecodeError:
            if name == "cp1252" and _cp1252_but_undefined(telling):
                # Western text with a byte cp1252 leaves undefined: latin-1 keeps it
                scored.append(
                    ("iso8859-1", _oddity(_latin1_text(telling), name), telling.decode("latin-1"))
                )
            continue
        if _CONTROL.search(text):
            continue
        scored.append((name, _oddity(text, name), text))
    return scored, ranked


_MULTIBYTE = frozenset({"gb18030", "cp932", "cp949", "big5", "euc_jp"})
_CP1252_UNDEFINED = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])
_USUAL_SYMBOLS = set("€£¥¢©®™°±§¶·•…–—‘’“”„‚«»‹›¡¿½¼¾×÷ªº¹²³µ")


def _cp1252_but_undefined(data: bytes) -> bool:
    try:
        data.translate(None, _CP1252_UNDEFINED).decode("cp1252")
    except UnicodeDecodeError:
        return False
    return True


def _latin1_text(data: bytes) -> str:
    return data.translate(None, _CP1252_UNDEFINED).decode("cp1252")


def _oddity(text: str, encoding: str) -> float:
    """The share of the non-ASCII characters that real text rarely holds where they
    stand: a symbol outside the usual ones, a run of three non-ASCII Latin letters (Western
    words mix them with ASCII ones), an accented capital right after a small letter, a
    letter of another script touching an ASCII letter, and for GB18030 a character
    outside GB2312's common ones (other East Asian text read as GB18030 is full of them)."""
    odd = total = run = 0
    previous = " "
    for char in text:
        if char < "\x80":
            run = 0
            previous = char
            continue
        total += 1
        category = unicodedata.category(char)
        if category[0] != "L":
            run = 0
            odd += char not in _USUAL_SYMBOLS and category not in ("Zs", "Pi", "Pf", "Pd", "Sc")
        elif unicodedata.name(char, "").startswith("LATIN"):
            run += 1
            odd += run >= 3 or (char.isupper() and previous.islower())
        else:
            run = 0
            odd += previous.isascii() and previous.isalpha()
            if encoding == "gb18030" and "\u4e00" <= char <= "\u9fff":
                odd += not _in_gb2312(char)
        previous = char
    return odd / total if total else 0.0


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _language_ranking(telling: bytes) -> list[str]:
    """charset-normalizer's encodings for `telling`, the best language first. Between
    Latin code pages (whose texts differ in a few letters) only a clear lead counts
    (coherence ahead by _CLEAR_LEAD): a few words' language models disagree from one
    sample to the next; otherwise the list is empty."""
    matches = list(charset_normalizer.from_bytes(telling))
    names = [codecs.lookup(m.encoding).name for m in matches]
    if not names or names[0] not in _LATIN_CODE_PAGES:
        return names
    latin = sorted(
        (m for m in matches if codecs.lookup(m.encoding).name in _LATIN_CODE_PAGES),
        key=lambda m: -m.coherence,
    )
    if len(latin) > 1 and latin[0].coherence - latin[1].coherence < _CLEAR_LEAD:
        return []
    return [codecs.lookup(m.encoding).name for m in latin]


def _telling_lines(sample: bytes) -> bytes:
    """The sample's lines that hold non-ASCII bytes, up to _TELLING_BYTES: only they tell
    one encoding from another, and scoring them alone is quick."""
    lines = [line for line in sample.splitlines(keepends=True) if not line.isascii()]
    kept, size = [], 0
    for line in lines:
        kept.append(line)
        size += len(line)
        if size >= _TELLING_BYTES:
            break
    return b"".join(kept) or sample


def _confidence(best: float, others: list[tuple[str, float]], close: tuple[str, ...]) -> float:
    """1 when no other encoding reads the sample at all; 0.5 when one reads it as well
    but differently; in between, more the further the runner-up is behind."""
    if close:
        return 0.5
    if not others:
        return 1.0
    margin = min(mess for _, mess in others) - best
    return round(min(0.99, 0.6 + 2 * margin), 2)


def _note(name: str, confidence: float, close: tuple[str, ...]) -> str:
    label = LABELS.get(name, name)
    if confidence >= UNSURE:
        return f"The file is not UTF-8; it was read as {label}."
    also = ", ".join(LABELS.get(n, n) for n in close[:3])
    maybe = f" It could also be {also}." if also else ""
    return (
        f"The file is not UTF-8 and its encoding is a guess: it was read as {label}.{maybe} "
        "Check the accents and symbols in the preview, and choose the encoding if they "
        "look wrong."
    )


def _require_decodable(source: Source, encoding: str, why: str) -> None:
    offset = _first_decode_error(source, encoding)
    if offset is not None:
        raise FileUnreadable(
            f"The file is {why}, but the bytes near offset {offset:,} are not valid {encoding}."
        )


def _first_decode_error(source: Source, encoding: str) -> int | None:
    """The byte offset (approximate) where decoding the whole file fails; None if it does not.

    Streamed in 1 MiB chunks: fast (the codecs are C) and memory-flat.
    """
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with source.open() as file:
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


def _window(source: Source, offset: int) -> bytes:
    """About 64 KiB of the file around `offset`, starting at a line start."""
    start = max(0, offset - SAMPLE_BYTES // 2)
    data = source.read_range(start, SAMPLE_BYTES)
    if start > 0 and b"\n" in data[: offset - start]:
        data = data[data.index(b"\n") + 1 :]
    return data
