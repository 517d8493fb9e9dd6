"""Read the header of an Explicit VR Little Endian DICOM file quickly, for series loading.

pydicom's ``dcmread`` spends most of its time per element in Python bookkeeping; loading a CT
series means reading hundreds of headers of which only a dozen values are used. This reader
walks the top-level elements of the commonest encoding (Explicit VR Little Endian, which is
what scanners and PACS
export, uncompressed or compressed) with `struct`, keeps every non-sequence element as a
pydicom ``RawDataElement`` (so values are converted by pydicom, lazily, exactly as
``dcmread`` would), skips sequences, and stops at Pixel Data, noting its offset and length.

Anything else (another transfer syntax, no preamble, an element it cannot walk, a file cut
short) returns None and the caller falls back to ``pydicom.dcmread``; the result is checked
against ``dcmread`` on pydicom's own test files (tests/io/test_fast_header.py).
"""

from __future__ import annotations

import struct
from pathlib import Path

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian

PIXEL_DATA_TAG = 0x7FE00010
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
# Explicit VR with a 2-byte reserved field and a 4-byte length (PS3.5 table 7.1-1).
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
# Explicit VR with a 2-byte length.
_SHORT_VRS = frozenset(
    {b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT",
     b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"}
)
_VR_NAME = {vr: vr.decode() for vr in _LONG_VRS | _SHORT_VRS}
_FIRST_READ = 16384
_TAG_VR = struct.Struct("<HH2s")
_SHORT_LENGTH = struct.Struct("<H")
_LONG_LENGTH = struct.Struct("<I")
_ITEM_HEADER = struct.Struct("<HHI")


def _explicit_little_endian_dataset(value: bytes) -> bool:
    """True for transfer syntaxes whose data set is Explicit VR Little Endian, not deflated.

    That is Explicit VR Little Endian itself and every compressed (encapsulated) syntax:
    JPEG, JPEG-LS, JPEG 2000, RLE (PS3.5 section 10 and annex A.4).
    """
    try:
        uid = UID(value.rstrip(b"\x00 ").decode("ascii"))
    except UnicodeDecodeError:
        return False
    if uid == ExplicitVRLittleEndian:
        return True
    return bool(uid.is_transfer_syntax and uid.is_compressed and uid.is_little_endian
                and not uid.is_implicit_VR and not uid.is_deflated)


class _UnsupportedError(Exception):
    """The file needs pydicom's full reader."""


class _Buffer:
    """The start of a file, extended on demand in large reads."""

    def __init__(self, handle: object) -> None:
        self.handle = handle
        self.data = handle.read(_FIRST_READ)  # type: ignore[attr-defined]

    def need(self, end: int) -> None:
        """Make sure bytes up to file offset `end` are loaded."""
        missing = end - len(self.data)
        if missing > 0:
            more = self.handle.read(max(missing, len(self.data)))  # type: ignore[attr-defined]
            if len(more) < missing:
                raise _UnsupportedError("file cut short")
            self.data += more


def _element_header(buffer: _Buffer, offset: int) -> tuple[int, bytes, int, int]:
    """Return (tag, VR, value length, header size) of the element at `offset`."""
    buffer.need(offset + 8)
    group, element, vr = _TAG_VR.unpack_from(buffer.data, offset)
    tag = group << 16 | element
    if group == 0xFFFE:  # item and delimitation tags have no VR
        (length,) = _LONG_LENGTH.unpack_from(buffer.data, offset + 4)
        return tag, b"", length, 8
    if vr in _LONG_VRS:
        buffer.need(offset + 12)
        (length,) = _LONG_LENGTH.unpack_from(buffer.data, offset + 8)
        return tag, vr, length, 12
    if not (vr.isalpha() and vr.isupper()):
        raise _UnsupportedError("not explicit VR")
    (length,) = _SHORT_LENGTH.unpack_from(buffer.data, offset + 6)
    return tag, vr, length, 8


def _skip_undefined_sequence(buffer: _Buffer, offset: int) -> int:
    """Return the offset after an undefined-length sequence whose items start at `offset`."""
    while True:
        buffer.need(offset + 8)
        group, element, length = _ITEM_HEADER.unpack_from(buffer.data, offset)
        tag = group << 16 | element
        offset += 8
        if tag == _SEQUENCE_END:
            return offset
        if tag != _ITEM:
            raise _UnsupportedError("unexpected element in a sequence")
        if length != _UNDEFINED:
            offset += length
            continue
        offset = _skip_undefined_item(buffer, offset)


def _skip_undefined_item(buffer: _Buffer, offset: int) -> int:
    """Return the offset after the elements of an undefined-length item and its delimiter."""
    while True:
        tag, vr, length, size = _element_header(buffer, offset)
        offset += size
        if tag == _ITEM_END:
            return offset
        if length == _UNDEFINED:
            if vr != b"SQ":
                raise _UnsupportedError("undefined length outside a sequence")
            offset = _skip_undefined_sequence(buffer, offset)
        else:
            offset += length


def read_header(path: Path) -> Dataset | None:
    """Read a file's header up to its Pixel Data, when it is Explicit VR Little Endian.

    Parameters
    ----------
    path
        A DICOM Part 10 file.

    Returns
    -------
    Dataset or None
        The top-level elements before Pixel Data (sequences left out) with ``file_meta``,
        and Pixel Data as a deferred raw element (value None, ``value_tell`` its file
        offset, ``length`` its size, 0xFFFFFFFF for compressed data), as
        ``dcmread(path, defer_size=...)`` gives it. None when the file needs
        ``pydicom.dcmread`` (implicit VR, big endian or deflated data set, no preamble,
        unusual encoding, cut short, unreadable: pydicom then reports the problem).
    """
    try:
        with open(path, "rb") as handle:
            return _read(_Buffer(handle), path)
    except (_UnsupportedError, struct.error, UnicodeDecodeError, OSError):
        return None


def _read(buffer: _Buffer, path: Path) -> Dataset | None:
    if buffer.data[128:132] != b"DICM":
        return None
    meta: dict[int, RawDataElement] = {}
    offset = 132
    while True:
        buffer.need(offset + 8)
        if buffer.data[offset : offset + 2] != b"\x02\x00":
            break
        tag, vr, length, size = _element_header(buffer, offset)
        buffer.need(offset + size + length)
        value = buffer.data[offset + size : offset + size + length]
        meta[tag] = RawDataElement(
            BaseTag(tag), vr.decode(), length, value, offset + size, False, True
        )
        offset += size + length
    syntax = meta.get(0x00020010)
    if syntax is None or not _explicit_little_endian_dataset(syntax.value):
        return None

    elements: dict[int, RawDataElement] = {}
    data = buffer.data
    unpack_head, unpack_long, unpack_short = (
        _TAG_VR.unpack_from, _LONG_LENGTH.unpack_from, _SHORT_LENGTH.unpack_from
    )
    while True:
        # The common case inline (this loop runs ~60 times per slice); near the end of
        # the loaded bytes, or for anything unusual, the careful `_element_header`.
        group, element, vr = (0xFFFE, 0, b"") if offset + 12 > len(data) else unpack_head(
            data, offset
        )
        if vr in _LONG_VRS:
            tag, length, size = group << 16 | element, unpack_long(data, offset + 8)[0], 12
        elif vr in _SHORT_VRS:
            tag, length, size = group << 16 | element, unpack_short(data, offset + 6)[0], 8
        else:
            try:
                buffer.need(offset + 1)
            except _UnsupportedError:
                break  # the file ends after a whole element, without Pixel Data
            tag, vr, length, size = _element_header(buffer, offset)
            if vr not in _VR_NAME:
                raise _UnsupportedError("item tag or unknown VR at the top level")
            data = buffer.data
        offset += size
        if vr == b"UN":
            raise _UnsupportedError("UN element: pydicom decides its VR from the dictionary")
        if tag == PIXEL_DATA_TAG:
            # Uncompressed or encapsulated (compressed: undefined length) alike, the value is
            # not read: its offset is kept; the decoder reads the fragments from the file.
            elements[tag] = RawDataElement(
                BaseTag(tag), _VR_NAME[vr], length, None, offset, False, True
            )
            break
        if length == _UNDEFINED:
            if vr != b"SQ":
                return None
            offset = _skip_undefined_sequence(buffer, offset)
            data = buffer.data
            continue
        end = offset + length
        if vr != b"SQ":
            if end > len(data):
                buffer.need(end)
                data = buffer.data
            elements[tag] = RawDataElement(
                BaseTag(tag), _VR_NAME[vr], length, data[offset:end], offset, False, True
            )
        offset = end

    # A FileDataset, like dcmread's, so that pydicom can read deferred values from the file.
    return FileDataset(
        str(path), elements, preamble=buffer.data[:128], file_meta=FileMetaDataset(meta),
        is_implicit_VR=False, is_little_endian=True,
    )
