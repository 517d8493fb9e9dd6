"""Read the header of a Little Endian DICOM file quickly, for series loading.

pydicom's ``dcmread`` spends most of its time per element in Python bookkeeping; loading a CT
series means reading hundreds of headers of which only a dozen values are used. This reader
walks the top-level elements of the commonest encodings (Explicit VR Little Endian, which is
what scanners and PACS export, uncompressed or compressed, and Implicit VR Little Endian,
the default transfer syntax many archives still hold) with `struct`, keeps every
non-sequence element as a pydicom ``RawDataElement`` (so values are converted by pydicom,
lazily, exactly as ``dcmread`` would), skips sequences (and, in implicit VR, private
elements), and stops at Pixel Data, noting its offset and length.

Anything else (another transfer syntax, no preamble, an element it cannot walk, a file cut
short) returns None and the caller falls back to ``pydicom.dcmread``; the result is checked
against ``dcmread`` on pydicom's own test files (tests/io/test_fast_header.py).
"""

from __future__ import annotations

import functools
import struct
from pathlib import Path

from pydicom.datadict import DicomDictionary, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian

PIXEL_DATA_TAG = 0x7FE00010
_MODALITY = 0x00080060
_NO_STOP = 0xFFFFFFFF
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
_SHORT_ELEMENT = struct.Struct("<HH2sH")
_SHORT_LENGTH = struct.Struct("<H")
_LONG_LENGTH = struct.Struct("<I")
_ITEM_HEADER = struct.Struct("<HHI")


@functools.lru_cache(maxsize=64)
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


def _skip_sequence(buffer: _Buffer, offset: int, implicit: bool) -> int:
    """Return the offset after an undefined-length sequence whose items start at `offset`.

    One walk for both encodings (PS3.5 section 7.5): items of defined length are stepped
    over; the elements of an undefined-length item are walked up to its delimiter, nested
    undefined-length sequences recursively. Raises `_UnsupportedError` at anything else.
    """
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
        while True:  # the elements of an undefined-length item, up to its delimiter
            if implicit:
                buffer.need(offset + 8)
                group, element, length = _ITEM_HEADER.unpack_from(buffer.data, offset)
                tag, vr, size = group << 16 | element, b"", 8
            else:
                tag, vr, length, size = _element_header(buffer, offset)
            offset += size
            if tag == _ITEM_END:
                break
            if length == _UNDEFINED:
                if not _opens_sequence(buffer, offset, tag, vr, implicit):
                    raise _UnsupportedError("undefined length outside a sequence")
                offset = _skip_sequence(buffer, offset, implicit)
            else:
                offset += length


def _opens_sequence(buffer: _Buffer, offset: int, tag: int, vr: bytes, implicit: bool) -> bool:
    """Whether an undefined-length element whose value starts at `offset` is a sequence.

    Explicit VR says so (SQ). Implicit VR: the data dictionary says so, or, for a private
    element, an item follows (pydicom's filereader.data_element_generator reads it so).
    """
    if not implicit:
        return vr == b"SQ"
    if _dictionary_vr(tag) == "SQ":
        return True
    buffer.need(offset + 4)
    return bool(tag >> 16 & 1) and buffer.data[offset : offset + 4] == b"\xfe\xff\x00\xe0"


def read_header(path: Path) -> Dataset | None:
    """Read a file's header up to its Pixel Data, when it is Explicit VR Little Endian.

    Parameters
    ----------
    path
        A DICOM Part 10 file.

    Returns
    -------
    Dataset or None
        The top-level elements before Pixel Data (sequences left out, and private elements
        of implicit VR files) with ``file_meta``,
        and Pixel Data as a deferred raw element (value None, ``value_tell`` its file
        offset, ``length`` its size, 0xFFFFFFFF for compressed data), as
        ``dcmread(path, defer_size=...)`` gives it. None when the file needs
        ``pydicom.dcmread`` (big endian or deflated data set, no preamble,
        unusual encoding, cut short, unreadable: pydicom then reports the problem).
    """
    header = _read_file(path, None)
    return header if header is None else header.dataset()


def read_partial_header(path: Path, tags: frozenset[int]) -> PartialHeader | None:
    """Read what `read_header` reads, keeping only some elements.

    The header is walked to Pixel Data, element header by element header, exactly as
    `read_header` walks it (so the file is None exactly when `read_header` gives None: a
    damaged or cut file is found as before), but only the elements of `tags` are made; in a
    structured report (Modality ``SR``) the walk stops at the first element after the
    largest of them: its content tree is for `napari_recist.io.sr_raw`, which checks the
    whole file, whose bytes are read then (`PartialHeader.report_bytes`).

    Parameters
    ----------
    path
        A DICOM Part 10 file.
    tags
        The top-level tags (``0xGGGGEEEE``) whose elements are kept. Pixel Data is kept too
        (deferred, as by `read_header`) when the walk reaches it.

    Returns
    -------
    PartialHeader or None
        The kept elements, or None when `read_header` would give None.
    """
    return _read_file(path, tags)


def _read_file(path: Path, keep: frozenset[int] | None) -> PartialHeader | None:
    try:
        with open(path, "rb") as handle:
            return _read(_Buffer(handle), path, keep)
    except (_UnsupportedError, struct.error, UnicodeDecodeError, OSError):
        return None


class BeyondStopError(Exception):
    """A `PartialHeader` was asked for an element it did not keep (a programming error).

    Deliberately not an exception the folder scan takes as a damaged file, so that a new use
    of a tag not kept fails loudly instead of reading as "absent".
    """


class PartialHeader:
    """Some elements of a header, as `read_partial_header` read them.

    Answers what the folder scan asks of a header, with the values pydicom gives:
    ``get_item(tag)`` (the raw element; None when absent), ``"Keyword" in header``,
    ``get("Keyword", default)`` and ``file_meta`` (the last two through a pydicom
    ``Dataset`` of the kept elements, made on first use; `dataset`). Asking for a tag that
    was not kept raises `BeyondStopError`.
    """

    __slots__ = ("filename", "kept", "report_bytes", "_elements", "_meta", "_preamble",
                 "_implicit", "_dataset")

    def __init__(self, path: Path, elements: dict[int, RawDataElement],
                 meta: dict[int, RawDataElement], preamble: bytes, implicit: bool,
                 kept: frozenset[int] | None) -> None:
        self.filename = str(path)
        self.kept = kept  # None: every element (`read_header`)
        # A structured report's whole file, read with its header (`read_partial_header`).
        self.report_bytes: bytes | None = None
        self._elements = elements
        self._meta = meta
        self._preamble = preamble
        self._implicit = implicit
        self._dataset: Dataset | None = None

    def _check(self, tag: int) -> int:
        if self.kept is not None and tag not in self.kept and tag != PIXEL_DATA_TAG:
            raise BeyondStopError(f"({tag >> 16:04X},{tag & 0xFFFF:04X}) is not kept by this "
                                  "partial header")
        return tag

    def get_item(self, tag: int, keep_deferred: bool = True) -> RawDataElement | None:
        """The raw element of a tag, unconverted (None when absent)."""
        return self._elements.get(self._check(int(tag)))

    def __contains__(self, keyword: object) -> bool:
        tag = tag_for_keyword(keyword) if isinstance(keyword, str) else None
        if tag is None:
            raise BeyondStopError(f"{keyword!r} is not a DICOM keyword")
        return self._check(tag) in self._elements

    def get(self, keyword: str, default: object = None) -> object:
        """The value pydicom gives the element (`default` when absent)."""
        tag = tag_for_keyword(keyword)
        if tag is None:
            raise BeyondStopError(f"{keyword!r} is not a DICOM keyword")
        self._check(tag)
        return self.dataset().get(keyword, default)

    @property
    def file_meta(self) -> FileMetaDataset:
        """The file meta group."""
        return self.dataset().file_meta  # type: ignore[no-any-return]

    def dataset(self) -> Dataset:
        """The kept elements as a pydicom dataset, as ``dcmread`` would hold them."""
        if self._dataset is None:
            self._dataset = _dataset(Path(self.filename), self._elements, self._meta,
                                     self._preamble, self._implicit)
        return self._dataset


def _report(path: Path, elements: dict[int, RawDataElement], meta: dict[int, RawDataElement],
            buffer: _Buffer, implicit: bool, keep: frozenset[int] | None) -> PartialHeader:
    """The partial header of a structured report, with the whole file's bytes (one read)."""
    buffer.data += buffer.handle.read()  # type: ignore[attr-defined]
    header = PartialHeader(path, elements, meta, buffer.data[:128], implicit, keep)
    header.report_bytes = buffer.data
    return header


def _is_report(elements: dict[int, RawDataElement]) -> bool:
    modality = elements.get(_MODALITY)
    return modality is not None and modality.value.rstrip(b"\x00 ") == b"SR"


def _read(buffer: _Buffer, path: Path, keep: frozenset[int] | None) -> PartialHeader | None:
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
            tag, vr.decode(), length, value, offset + size, False, True
        )
        offset += size + length
    syntax = meta.get(0x00020010)
    if syntax is not None and _implicit_little_endian(syntax.value):
        return _read_implicit(buffer, path, meta, offset, keep)
    if syntax is None or not _explicit_little_endian_dataset(syntax.value):
        return None

    elements: dict[int, RawDataElement] = {}
    data = buffer.data
    stop = _NO_STOP if keep is None else max(keep)
    passed = keep is None  # past the last kept tag (keeping all: never)
    unpack_head, unpack_long, unpack_short = (
        _TAG_VR.unpack_from, _LONG_LENGTH.unpack_from, _SHORT_LENGTH.unpack_from
    )
    unpack_element = _SHORT_ELEMENT.unpack_from
    while True:
        # The commonest case first: an element with a 2-byte length (no sequence, not Pixel
        # Data, not the first element after the last kept tag), in one unpack.
        if offset + 12 <= len(data):
            group, element, vr, length = unpack_element(data, offset)
            if vr in _SHORT_VRS:
                tag = group << 16 | element
                if tag != PIXEL_DATA_TAG and (passed or tag <= stop):
                    end = offset + 8 + length
                    if end > len(data):
                        buffer.need(end)
                        data = buffer.data
                    if keep is None or tag in keep:
                        elements[tag] = RawDataElement(
                            tag, _VR_NAME[vr], length, data[offset + 8 : end], offset + 8,
                            False, True,
                        )
                    offset = end
                    continue
        # The other cases inline (this loop runs ~60 times per slice); near the end of
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
                tag, _VR_NAME[vr], length, None, offset, False, True
            )
            break
        if tag > stop and not passed:
            passed = True
            if _is_report(elements):
                return _report(path, elements, meta, buffer, False, keep)
        if length == _UNDEFINED:
            if vr != b"SQ":
                return None
            offset = _skip_sequence(buffer, offset, implicit=False)
            data = buffer.data
            continue
        end = offset + length
        if vr != b"SQ":
            if end > len(data):
                buffer.need(end)
                data = buffer.data
            if keep is None or tag in keep:
                elements[tag] = RawDataElement(
                    tag, _VR_NAME[vr], length, data[offset:end], offset, False, True
                )
        offset = end

    return PartialHeader(path, elements, meta, buffer.data[:128], False, keep)


def _implicit_little_endian(value: bytes) -> bool:
    return value.rstrip(b"\x00 ") == ImplicitVRLittleEndian.encode()


def _dictionary_vr(tag: int) -> str | None:
    """The one VR the data dictionary gives a standard tag; None for private or unknown."""
    entry = DicomDictionary.get(tag)
    return entry[0] if entry is not None and tag >> 16 & 1 == 0 else None


def _read_implicit(
    buffer: _Buffer, path: Path, meta: dict[int, RawDataElement], offset: int,
    keep: frozenset[int] | None,
) -> PartialHeader | None:
    """The top-level elements of an Implicit VR Little Endian data set, as dcmread keeps them.

    pydicom keeps implicit VR elements raw with no VR (it looks the VR up when the value is
    first used), so they are kept the same way. Sequences are told by the data dictionary
    and skipped, as private elements are (their VR, sequence or not, depends on pydicom's
    private dictionary); a tag the dictionary does not know, an undefined length that is not
    a sequence, or a first element that looks explicit (pydicom then reads the data set as
    explicit VR, filereader._is_implicit_vr) leaves the file to pydicom.
    """
    buffer.need(offset + 8)
    first_vr = buffer.data[offset + 4 : offset + 6]
    if 0x40 < first_vr[0] < 0x5B and 0x40 < first_vr[1] < 0x5B:
        return None
    elements: dict[int, RawDataElement] = {}
    stop = _NO_STOP if keep is None else max(keep)
    passed = keep is None
    while True:
        try:
            buffer.need(offset + 8)
        except _UnsupportedError:
            if offset == len(buffer.data):
                break  # the file ends after a whole element, without Pixel Data
            raise
        group, element, length = _ITEM_HEADER.unpack_from(buffer.data, offset)
        tag = group << 16 | element
        offset += 8
        if tag == PIXEL_DATA_TAG:
            elements[tag] = RawDataElement(tag, None, length, None, offset, True, True)
            break
        private = group & 1
        vr = None if private else _dictionary_vr(tag)
        if not private and vr is None and element != 0:
            return None  # pydicom would guess ('UN', with a warning)
        if tag > stop and not passed:
            passed = True
            if _is_report(elements):
                return _report(path, elements, meta, buffer, True, keep)
        if length == _UNDEFINED:
            # pydicom (filereader.data_element_generator) takes a private element of
            # undefined length for a sequence when an item follows
            if not _opens_sequence(buffer, offset, tag, b"", implicit=True):
                return None
            offset = _skip_sequence(buffer, offset, implicit=True)
            continue
        end = offset + length
        if vr != "SQ" and not private:
            buffer.need(end)
            if keep is None or tag in keep:
                elements[tag] = RawDataElement(
                    tag, None, length, buffer.data[offset:end], offset, True, True
                )
        offset = end
    return PartialHeader(path, elements, meta, buffer.data[:128], True, keep)


def _dataset(
    path: Path, elements: dict[int, RawDataElement], meta: dict[int, RawDataElement],
    preamble: bytes, implicit: bool,
) -> Dataset:
    """A dataset as ``dcmread`` gives it, built without its per-file costs.

    It has what pydicom needs to read a deferred value from the file later (`filename`,
    `fileobj_type`, `timestamp`), but no ``os.stat`` for the timestamp (None skips pydicom's
    "file changed" check) and no re-validation of the file meta group, which holds only
    group 2 elements by construction (the loop above stops at the first other group).
    """
    file_meta = FileMetaDataset()
    file_meta._dict.update(meta)  # noqa: SLF001 - validated by construction, see above
    dataset = Dataset(elements)
    dataset.file_meta = file_meta
    dataset.preamble = preamble
    dataset.filename = str(path)
    dataset.fileobj_type = open
    dataset.timestamp = None
    dataset.set_original_encoding(implicit, True)
    return dataset
