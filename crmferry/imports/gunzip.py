"""Gzip sources decompressed on the fly: a fetched file whose bytes start with gzip's
magic number is decompressed as it streams (never whole in memory, at most OUT_BYTES
of output per step), and decompression stops with PayloadTooLarge once it passes
CRMFERRY_MAX_DECOMPRESSED_BYTES, however small the compressed file (a gzip bomb).

The bytes decide, not the name: a `.gz` file served already decoded (HTTP
`Content-Encoding: gzip`) is read as it arrives. The stored upload is the
decompressed file, named without its `.gz`.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

from crmferry.config import Settings
from crmferry.errors import FileUnreadable, PayloadTooLarge

MAGIC = b"\x1f\x8b"
OUT_BYTES = 1024 * 1024
_GZIP_WBITS = 16 + zlib.MAX_WBITS


class DecompressedTooLarge(PayloadTooLarge):
    """A gzip file that decompresses past CRMFERRY_MAX_DECOMPRESSED_BYTES."""


def fetched_limit(settings: Settings) -> int:
    """The size limit of a stored fetched file: the larger of the two limits, since
    `limited_chunks` (what is fetched) and `maybe_gunzipped` (what it decompresses to)
    each apply their own on the way."""
    return max(settings.max_upload_bytes, settings.max_decompressed_bytes)


def limited_chunks(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """`chunks`, PayloadTooLarge once more than `limit` bytes have come (fetching stops)."""
    seen = 0
    for chunk in chunks:
        seen += len(chunk)
        if seen > limit:
            raise PayloadTooLarge(f"More than the limit of {limit:,} bytes came.")
        yield chunk


def plain_name(file_name: str) -> str:
    """The name of the decompressed file: "contacts.csv.gz" → "contacts.csv"."""
    stripped = file_name[:-3] if file_name.lower().endswith(".gz") else file_name
    return stripped or file_name


def maybe_gunzipped(chunks: Iterable[bytes], limit: int) -> Iterator[bytes]:
    """`chunks` as they come, or decompressed when they start with gzip's magic number
    (each member of a multi-member file in turn); DecompressedTooLarge past `limit`
    decompressed bytes, FileUnreadable for a broken or truncated gzip stream."""
    stream = iter(chunks)
    head = b""
    for chunk in stream:
        head += chunk
        if len(head) >= len(MAGIC):
            break
    if not head.startswith(MAGIC):
        if head:
            yield head
        yield from stream
        return
    yield from _gunzip(_prepend(head, stream), limit)


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _gunzip(chunks: Iterator[bytes], limit: int) -> Iterator[bytes]:
    inflater = zlib.decompressobj(_GZIP_WBITS)
    member_open = False  # a member has begun and not yet ended
    produced = 0
    try:
        for chunk in chunks:
            pending = chunk
            while pending:
                member_open = True
                out = inflater.decompress(pending, OUT_BYTES)
                pending = inflater.unconsumed_tail
                if inflater.eof:  # a member ended: what follows may be the next member
                    member_open = False
                    pending = inflater.unused_data + pending
                    inflater = zlib.decompressobj(_GZIP_WBITS)
                    if pending and not pending.startswith(MAGIC[:1]):
                        pending = b""  # trailing bytes after the last member: ignored
                produced += len(out)
                if produced > limit:
                    raise DecompressedTooLarge(
                        f"The file decompresses to more than the limit of {limit:,} bytes "
                        "(CRMFERRY_MAX_DECOMPRESSED_BYTES); decompression was stopped there."
                    )
                if out:
                    yield out
    except zlib.error as exc:
        raise FileUnreadable(f"The file is not a readable gzip stream ({exc}).") from None
    if member_open:
        raise FileUnreadable("The gzip stream stops before its end: the file is truncated.")
