"""Compressed telemetry deliveries: a GPU batch or a robot file may be delivered as
`.jsonl`, `.jsonl.gz` (gzip) or `.jsonl.zst` (Zstandard) (DATA_CONTRACTS.md). The node
agent compresses with `compress`; ingestion decompresses with `decompress_capped`, which
stops at a size limit whatever the stream claims, so that a small file that expands to
gigabytes (a "zip bomb") costs at most the limit in memory and time.

Standard library and `zstandard` only: the node agent imports this module.
"""

from __future__ import annotations

import gzip
import io
import zlib

import zstandard

from ingestion.bounds import ZSTD_WINDOW_MAX_BYTES

JSONL = ".jsonl"
# codec name -> the suffix it adds after `.jsonl`; "none" is the plain file
CODECS: dict[str, str] = {"none": "", "gzip": ".gz", "zstd": ".zst"}
DELIVERY_SUFFIXES: tuple[str, ...] = tuple(JSONL + s for s in CODECS.values())

# The agent's levels: zstd 3 (its default, about 10x on a batch, hundreds of MB/s);
# gzip 6. The gzip header carries no time, so the same batch compresses to the same bytes.
ZSTD_LEVEL = 3
GZIP_LEVEL = 6
# Decompressed bytes asked for at a time.
READ_CHUNK_BYTES = 1 << 20

_ZSTD_MAGIC = 0xFD2FB528
_ZSTD_SKIPPABLE = 0x184D2A50      # 0x184D2A50..0x184D2A5F, low 4 bits free
_ZSTD_FRAME_HEADER_MAX = 18


class ContentTooLarge(Exception):
    """The stream decompresses to more than the limit (decompression stopped there)."""


class CorruptStream(Exception):
    """The bytes are not a complete, valid stream of their codec."""


def is_jsonl_delivery(name: str) -> bool:
    """Whether a file name is a JSON Lines delivery, plain or compressed."""
    return name.endswith(DELIVERY_SUFFIXES)


def codec_of(name: str) -> str:
    """The codec of a delivery file name (`none` for a plain `.jsonl`)."""
    for codec, suffix in CODECS.items():
        if suffix and name.endswith(JSONL + suffix):
            return codec
    return "none"


def delivery_stem(name: str) -> str:
    """The batch name: the file name without `.jsonl` and its codec suffix."""
    return name.removesuffix(CODECS[codec_of(name)]).removesuffix(JSONL)


def compress(data: bytes, codec: str) -> bytes:
    if codec == "zstd":
        return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compress(data)
    if codec == "gzip":
        return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    if codec == "none":
        return data
    raise ValueError(f"unknown codec {codec!r}: expected one of {', '.join(CODECS)}")


def decompress_capped(data: bytes, codec: str, max_bytes: int) -> bytes:
    """The decompressed bytes of `data`, at most `max_bytes`: ContentTooLarge as soon as
    more come out (never more than one read chunk past the limit is held), CorruptStream
    for a truncated or invalid stream."""
    if codec == "none":
        if len(data) > max_bytes:
            raise ContentTooLarge(len(data))
        return data
    if not data:
        raise CorruptStream(f"empty file: expected a {codec} stream")
    if codec == "gzip":
        reader = gzip.GzipFile(fileobj=io.BytesIO(data), mode="rb")
        errors: tuple[type[Exception], ...] = (OSError, EOFError, zlib.error)
    elif codec == "zstd":
        _check_zstd_frames(data)
        reader = zstandard.ZstdDecompressor(max_window_size=ZSTD_WINDOW_MAX_BYTES).stream_reader(
            io.BytesIO(data), read_across_frames=True)
        errors = (zstandard.ZstdError,)
    else:
        raise ValueError(f"unknown codec {codec!r}: expected one of {', '.join(CODECS)}")
    chunks: list[bytes] = []
    total = 0
    try:
        with reader:
            while True:
                chunk = reader.read(min(READ_CHUNK_BYTES, max_bytes + 1 - total))
                if not chunk:
                    break
                total += len(chunk)
                if total > max_bytes:
                    chunks.clear()
                    raise ContentTooLarge(total)
                chunks.append(chunk)
    except errors as e:
        raise CorruptStream(f"{type(e).__name__}: {e}") from None
    return b"".join(chunks)


def _check_zstd_frames(data: bytes) -> None:
    """Walk the frames and block headers of a zstd stream (RFC 8878, section 3.1) without
    decompressing: the decoder stops silently at the end of a truncated stream, so a cut
    file would otherwise read as a shorter one."""
    pos, end = 0, len(data)
    while pos < end:
        if end - pos < 4:
            raise CorruptStream(f"truncated: {end - pos} stray bytes at offset {pos}")
        magic = int.from_bytes(data[pos:pos + 4], "little")
        if magic & 0xFFFFFFF0 == _ZSTD_SKIPPABLE:
            if end - pos < 8:
                raise CorruptStream(f"truncated skippable frame at offset {pos}")
            pos += 8 + int.from_bytes(data[pos + 4:pos + 8], "little")
            if pos > end:
                raise CorruptStream("truncated skippable frame")
            continue
        if magic != _ZSTD_MAGIC:
            raise CorruptStream(f"no zstd frame at offset {pos} (magic {magic:#010x})")
        header = data[pos:pos + _ZSTD_FRAME_HEADER_MAX]
        try:
            size = zstandard.frame_header_size(header)
            checksum = zstandard.get_frame_parameters(header).has_checksum
        except zstandard.ZstdError as e:
            raise CorruptStream(f"frame header at offset {pos}: {e}") from None
        pos += size
        while True:
            if end - pos < 3:
                raise CorruptStream(f"truncated: the frame ends inside a block header at "
                                    f"offset {pos}")
            h = int.from_bytes(data[pos:pos + 3], "little")
            last, kind, block = h & 1, (h >> 1) & 3, h >> 3
            if kind == 3:
                raise CorruptStream(f"reserved block type at offset {pos}")
            pos += 3 + (1 if kind == 1 else block)
            if pos > end:
                raise CorruptStream(f"truncated: a block runs past the end of the file "
                                    f"({pos - end} bytes missing)")
            if last:
                break
        if checksum:
            pos += 4
            if pos > end:
                raise CorruptStream("truncated: the frame's checksum is missing")
