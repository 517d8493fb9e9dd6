"""Read a structured report straight from its bytes: the content tree without pydicom's costs.

`sr_read` walks an SR's content tree touching a few hundred values; reading it with
``pydicom.dcmread`` and pydicom's lazy value conversion spends 95 % of the time in pydicom's
per-element machinery (raw elements, data elements, hooks, one `Dataset` per sequence item).
`read_dataset` parses the encoded file itself with `struct` (PS3.10 section 7: 128-byte
preamble, ``DICM``, the file meta group in Explicit VR Little Endian; PS3.5 section 7: data
elements, sequences and items of defined or undefined length) and returns `RawDataset`
objects that answer the accesses `sr_read` makes on pydicom datasets (keyword attributes,
``in``, ``get``, sequences as lists of items) with the values pydicom would give.

Exactness is by construction, never by approximation:

- Structure: only Explicit and Implicit VR Little Endian data sets are parsed, and only when
  every element, item and delimiter is where PS3.5 puts it and nowhere pydicom would read the
  file differently (a VR it would guess, an implicit/explicit switch, an undefined length
  outside a sequence, a ``UN`` element, a tag out of order, anything past the end of the file
  or of its item). Anything else makes `read_dataset` return None and the caller reads the
  file with pydicom, whose reading `sr_read`'s problem reports describe. A file parsed here is
  whole: every defined length fits and every undefined-length sequence and item is closed, so
  it is never a file pydicom would read cut short.
- Values: converted on first access. The common cases (CS, UI, SH, LO, UT, DS, FL ...) with
  the same operations pydicom 3.0's converters apply (same decoding, stripping, splitting and
  value classes: `pydicom.valuerep.DSfloat`, `pydicom.uid.UID`, `pydicom.multival.MultiValue`);
  any other VR, any value those cases are not sure of (a non-ASCII escape sequence, an unknown
  codec, a DS that is not a number, a text longer than its VR allows, a number field of the
  wrong size, a non-default pydicom setting or hook) is converted by pydicom's own
  ``convert_raw_data_element``, the function ``Dataset.__getitem__`` calls, so values,
  warnings and exceptions are pydicom's.

tests/io/test_sr_raw.py checks `sr_read.read_sr` through this reader against pydicom's on
every SR the project writes, on the real SRs of other tools and pydicom's test SRs, and on
damaged files.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterator
from typing import Any, Final

import pydicom
from pydicom import config
from pydicom.charset import convert_encodings, default_encoding
from pydicom.datadict import DicomDictionary, keyword_dict
from pydicom.dataelem import RawDataElement, convert_raw_data_element, empty_value_for_VR
from pydicom.hooks import hooks, raw_element_value, raw_element_vr
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pydicom.valuerep import MAX_VALUE_LEN, VR_REGEXES

_UNDEFINED: Final = 0xFFFFFFFF
_ITEM: Final = 0xFFFEE000
_ITEM_END: Final = 0xFFFEE00D
_SEQUENCE_END: Final = 0xFFFEE0DD
_CHARSET: Final = 0x00080005
_TRANSFER_SYNTAX: Final = 0x00020010
_GROUP_LENGTH: Final = 0x00020000
# PS3.5 table 7.1-1: VRs with a 2-byte reserved field and a 4-byte length (explicit VR).
_LONG_VRS: Final = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR",
                              "UT", "UV"})
_SHORT_VRS: Final = frozenset({"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FD", "FL", "IS", "LO",
                               "LT", "PN", "SH", "SL", "SS", "ST", "TM", "UI", "UL", "US"})
_VR_OF_BYTES: Final = {vr.encode("ascii"): vr for vr in _LONG_VRS | _SHORT_VRS}
_KNOWN_VRS: Final = _LONG_VRS | _SHORT_VRS
_SHORT_VR_OF_BYTES: Final = {vr.encode("ascii"): vr for vr in _SHORT_VRS}
# `_Source.header` refuses UN (pydicom replaces it by the dictionary VR): not inlined.
_LONG_VR_INLINE: Final = {vr.encode("ascii"): vr for vr in _LONG_VRS - {"UN"}}
_EXPLICIT: Final = struct.Struct("<HH2sH")
_LONG_LENGTH: Final = struct.Struct("<I")
_IMPLICIT: Final = struct.Struct("<HHI")
_ESC: Final = b"\x1b"
# The LUT descriptors pydicom's value hook corrects after conversion (pydicom.tag).
_LUT_DESCRIPTORS: Final = frozenset({0x00281101, 0x00281102, 0x00281103, 0x00283002})
# Value conversions below replicate pydicom 3.0's `pydicom.values` converters.
_VERIFIED_PYDICOM: Final = pydicom.__version__.startswith("3.0.")
_MISSING: Final = object()
_VALID_UID: Final = re.compile(VR_REGEXES["UI"])
# `RawDataset._convert` converts these inline (CS: any length; SH and LO: up to their
# PS3.5 length, beyond which pydicom warns).
_INLINE_TEXT: Final = {"CS": 0, "SH": MAX_VALUE_LEN["SH"], "LO": MAX_VALUE_LEN["LO"]}
# Sequences parsed inside one another at once (undefined-length ones, or those inside a
# sequence being parsed) deeper than this are left to pydicom (which runs out of recursion
# near 170 levels): interpreted, Python's recursion limit would stop the parser near 490;
# compiled by mypyc, nothing would, until the C stack overflows (a crash, not an exception).
# A TID 1500 report nests about 6.
_MAX_NESTING: Final = 128


class _NeedsPydicomError(Exception):
    """The file holds something this reader does not parse exactly as pydicom does."""


# What a malformed file can make the parser raise (it then hands the file to pydicom).
_PARSE_ERRORS: Final = (_NeedsPydicomError, struct.error, UnicodeError, LookupError, ValueError,
                 TypeError, KeyError, IndexError, OverflowError, RecursionError, MemoryError)


class RawAccessError(Exception):
    """`RawDataset` was used in a way it does not imitate (a programming error, not bad data).

    Deliberately not one of the exceptions `sr_read` takes as damaged content, so that a new
    kind of access fails the tests instead of becoming a problem pydicom would not report.
    """


class RawDataset:
    """One data set (the file's, or a sequence item) parsed from the encoded file.

    Answers what `sr_read` asks of a pydicom ``Dataset``: ``ds.Keyword`` (AttributeError when
    absent), ``ds.get("Keyword", default)``, ``"Keyword" in ds`` and, for sequences, a list of
    `RawDataset` items. Values are those pydicom gives (see the module docstring).
    """

    __slots__ = ("_raw", "_values", "_charset", "_source", "file_meta")

    def __init__(self, source: _Source, charset: str | list[str]) -> None:
        self._raw: dict[int, tuple[str, int, int]] = {}  # tag -> (VR, value offset, length)
        self._values: dict[int, Any] = {}  # tag -> converted value (sequences at parse time)
        self._charset = charset
        self._source = source
        self.file_meta: RawDataset | None = None

    def __getattr__(self, name: str) -> Any:
        tag = keyword_dict.get(name)
        if tag is not None:
            value = self._value(tag)
            if value is not _MISSING:
                return value
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def get(self, key: object, default: Any = None) -> Any:
        """The value of a keyword, or `default` when absent (as ``Dataset.get``)."""
        # (`key` is not typed str: compiled by mypyc, a tag would raise TypeError at the call)
        tag = keyword_dict.get(key) if isinstance(key, str) else None
        if tag is None:
            if not isinstance(key, str):
                raise RawAccessError("RawDataset.get takes keywords only")
            return getattr(self, key, default)  # not a DICOM keyword: e.g. file_meta
        value = self._values.get(tag, _MISSING)
        if value is not _MISSING:
            return value
        raw = self._raw.get(tag)
        if raw is None:
            return default
        vr, offset, length = raw  # (not `*raw`: compiled, a star call goes through Python)
        try:
            value = self._convert(tag, vr, offset, length)
        except AttributeError:  # as getattr inside Dataset.get
            return default
        self._values[tag] = value
        return value

    def __contains__(self, key: object) -> bool:
        tag = keyword_dict.get(key) if isinstance(key, str) else key
        return tag in self._values or tag in self._raw

    def __getitem__(self, key: object) -> Any:
        raise RawAccessError("RawDataset has no data elements: use keyword attributes")

    def __iter__(self) -> Iterator[Any]:
        raise RawAccessError("RawDataset has no data elements: use keyword attributes")

    def __len__(self) -> int:
        return len(self._values.keys() | self._raw.keys())

    def _value(self, tag: int) -> Any:
        value = self._values.get(tag, _MISSING)
        if value is not _MISSING:
            return value
        raw = self._raw.get(tag)
        if raw is None:
            return _MISSING
        vr, offset, length = raw
        value = self._convert(tag, vr, offset, length)
        self._values[tag] = value
        return value

    def _convert(self, tag: int, vr: str, offset: int, length: int) -> Any:
        source = self._source
        if not source.fast:  # a pydicom setting or hook changes conversions: pydicom converts
            return self._pydicom_value(tag, vr, offset, length)
        if length == 0:
            return empty_value_for_VR(vr)  # pydicom.values.convert_value
        if vr in _INLINE_TEXT:
            # The commonest values of a content tree (code values, schemes, meanings, value
            # types), as `_string` / `_text` convert one value in the default character set.
            value = source.data[offset : offset + length]
            if b"\\" not in value:
                if vr == "CS":
                    return value.decode(default_encoding).rstrip(" \x00")
                if (length <= _INLINE_TEXT[vr] and _ESC not in value
                        and self._charset == default_encoding):
                    return value.decode(default_encoding).rstrip("\0 ")
        if vr == "SQ":
            # A defined-length sequence, parsed now, as pydicom parses it when first accessed;
            # when its items are not what this reader parses exactly, pydicom's conversion of
            # the element (below) reads them, with pydicom's outcome.
            try:
                return source.sequence(offset, length, offset + length, self._charset)[0]
            except _PARSE_ERRORS:
                pass
        converter = _CONVERTERS.get(vr)
        if converter is not None and tag not in _LUT_DESCRIPTORS:
            try:
                converted = converter(vr, source.data[offset : offset + length], self._charset)
            except Exception:  # noqa: BLE001 - pydicom decides what happens to such a value
                converted = _MISSING
            if converted is not _MISSING:
                return converted
        return self._pydicom_value(tag, vr, offset, length)

    def _pydicom_value(self, tag: int, vr: str, offset: int, length: int) -> Any:
        """The value pydicom itself gives the element (as ``Dataset.__getitem__`` converts it)."""
        source = self._source
        charset = default_encoding if tag == _CHARSET else self._charset
        raw = RawDataElement(BaseTag(tag), None if source.implicit else vr, length,
                             source.data[offset : offset + length], offset, source.implicit,
                             True)
        return convert_raw_data_element(raw, encoding=charset).value


# ------------------------------------------------------------------ replicated conversions
# Each returns the value pydicom 3.0 gives for a non-empty value, or _MISSING (or raises)
# when pydicom's own conversion must decide.


def _first_encoding(charset: str | list[str]) -> str:
    # pydicom.values.convert_value and charset.decode_bytes: the first encoding, without
    # escape sequences (checked by the caller).
    if charset == default_encoding:
        return default_encoding  # (the same text; typed str even where pydicom is untyped)
    if isinstance(charset, str):
        return charset or default_encoding
    return charset[0] if charset else default_encoding


def _multi(values: list[str], kind: Callable[[str], Any]) -> Any:
    return kind(values[0]) if len(values) == 1 else MultiValue(kind, values)


def _string(vr: str, value: bytes, charset: Any) -> Any:
    # convert_string / multi_string (AS, CS and, without datetime conversion, DA, DT, TM).
    if b"\\" not in value:
        return value.decode(default_encoding).rstrip(" \x00")
    return _multi(value.decode(default_encoding).rstrip(" \x00").split("\\"), str)


def _ae(vr: str, value: bytes, charset: Any) -> Any:
    # convert_AE_string: leading and trailing spaces are not significant.
    return _multi([part.strip() for part in value.decode(default_encoding).split("\\")], str)


def _ui(vr: str, value: bytes, charset: Any) -> Any:
    # convert_UI; UID validates (warns) as pydicom's does, since it is pydicom's class. A
    # single UID that pydicom's own rule (VR_REGEXES["UI"], at most 64 characters) finds
    # valid, so that its validation would say nothing, is made without validating again.
    parts = value.decode(default_encoding).rstrip("\0 ").split("\\")
    if len(parts) == 1 and len(parts[0]) <= 64 and _VALID_UID.fullmatch(parts[0]):
        return UID(parts[0], config.IGNORE)
    return _multi(parts, UID)


def _ds(vr: str, value: bytes, charset: Any) -> Any:
    # convert_DS_string: DSfloat (or DSdecimal) per value; a value that is not a number
    # raises here and pydicom's conversion (which retries other VRs) decides.
    text = value.decode(default_encoding).strip()
    return _multi(text.rstrip(" \x00").split("\\"), pydicom.valuerep.DSclass)


def _is(vr: str, value: bytes, charset: Any) -> Any:
    # convert_IS_string.
    return _multi(value.decode(default_encoding).rstrip(" \x00").split("\\"),
                  pydicom.valuerep.IS)


def _text(vr: str, value: bytes, charset: Any) -> Any:
    # convert_text (SH, LO, UC): decode, split, validate the length (pydicom warns when it
    # is exceeded: then pydicom converts, to warn), strip trailing spaces and nulls.
    if _ESC in value:
        return _MISSING
    limit = MAX_VALUE_LEN.get(vr)
    if b"\\" not in value and (limit is None or len(value) <= limit):
        return value.decode(_first_encoding(charset)).rstrip("\0 ")  # one value, not too long
    parts = value.decode(_first_encoding(charset)).split("\\")
    # (a decoded part is never longer than the bytes: the cheap test first)
    if limit is not None and len(value) > limit and any(len(part) > limit for part in parts):
        return _MISSING
    stripped = [part.rstrip("\0 ") for part in parts]
    return stripped[0] if len(stripped) == 1 else MultiValue(str, stripped)


def _single_text(vr: str, value: bytes, charset: Any) -> Any:
    # convert_single_string (ST, LT, UT): no splitting.
    if _ESC in value:
        return _MISSING
    text = value.decode(_first_encoding(charset))
    limit = MAX_VALUE_LEN.get(vr)
    if limit is not None and len(text) > limit:
        return _MISSING
    return text.rstrip("\0 ")


def _numbers(code: str) -> Callable[[str, bytes, Any], Any]:
    size = struct.calcsize("=" + code)

    def convert(vr: str, value: bytes, charset: Any) -> Any:
        # convert_numbers; a length that is not a multiple raises in pydicom.
        if len(value) % size:
            return _MISSING
        numbers = struct.unpack(f"<{len(value) // size}{code}", value)
        return numbers[0] if len(numbers) == 1 else list(numbers)

    return convert


def _bytes(vr: str, value: bytes, charset: Any) -> Any:
    return value  # convert_OBvalue / convert_OWvalue: the bytes as they are


_CONVERTERS: Final[dict[str, Callable[[str, bytes, Any], Any]]] = {
    "AE": _ae, "AS": _string, "CS": _string, "UI": _ui, "DS": _ds, "IS": _is,
    "SH": _text, "LO": _text, "UC": _text, "ST": _single_text, "LT": _single_text,
    "UT": _single_text, "FL": _numbers("f"), "FD": _numbers("d"), "US": _numbers("H"),
    "SS": _numbers("h"), "UL": _numbers("L"), "SL": _numbers("l"), "OB": _bytes,
    "OW": _bytes, "OF": _bytes, "OD": _bytes, "OL": _bytes, "OV": _bytes,
}


def conversions_replicable() -> bool:
    """True when pydicom converts values as the functions above do (its default settings)."""
    if not _VERIFIED_PYDICOM:
        return False
    settings_default = (
        not config.use_DS_numpy and not config.use_IS_numpy and not config.use_DS_decimal
        and not config.datetime_conversion and not config.use_none_as_empty_text_VR_value
        and config.data_element_callback is None and not hooks.raw_element_kwargs
    )
    own_hooks = (hooks.raw_element_vr is raw_element_vr
                 and hooks.raw_element_value is raw_element_value)
    return settings_default and own_hooks


# ---------------------------------------------------------------------------- structure


class _Source:
    """The bytes of a file and how its data set is encoded, shared by all its datasets.

    Walks the encoded data set; raises `_NeedsPydicomError` at anything unusual.
    """

    __slots__ = ("data", "implicit", "fast")

    def __init__(self, data: bytes, implicit: bool, fast: bool) -> None:
        self.data = data
        self.implicit = implicit
        self.fast = fast  # the replicated conversions may be used (default pydicom settings)

    def header(self, offset: int) -> tuple[int, str, int, int]:
        """(tag, VR, value length, header size) of the element at `offset`."""
        data = self.data
        if offset + 8 > len(data):
            raise _NeedsPydicomError("element header past the end")
        if self.implicit:
            group, element, length = _IMPLICIT.unpack_from(data, offset)
            tag = group << 16 | element
            if group == 0xFFFE:
                return tag, "", length, 8
            entry = DicomDictionary.get(tag)
            vr = entry[0] if entry is not None else ""
            if vr not in _KNOWN_VRS:
                # private, retired-repeater, group-length or ambiguous ("US or SS") tags:
                # pydicom works their VR out itself
                raise _NeedsPydicomError(f"no single dictionary VR for ({group:04X},{element:04X})")
            return tag, vr, length, 8
        group, element, vr_bytes, length = _EXPLICIT.unpack_from(data, offset)
        tag = group << 16 | element
        if group == 0xFFFE:
            return tag, "", _LONG_LENGTH.unpack_from(data, offset + 4)[0], 8
        vr = _VR_OF_BYTES.get(vr_bytes, "UN")  # (a str, as in the implicit branch: mypyc)
        if vr == "UN":
            # pydicom guesses implicit VR (unknown VR bytes), or replaces UN with the
            # dictionary VR
            raise _NeedsPydicomError(f"VR {vr_bytes!r} at ({group:04X},{element:04X})")
        if vr in _LONG_VRS:
            if offset + 12 > len(data):
                raise _NeedsPydicomError("element header past the end")
            return tag, vr, _LONG_LENGTH.unpack_from(data, offset + 8)[0], 12
        return tag, vr, length, 8

    def dataset(self, offset: int, end: int | None, charset: str | list[str],
                depth: int = 0) -> tuple[RawDataset, int]:
        """Parse elements from `offset` up to `end`, or up to an item delimiter when None.

        `depth` counts the sequences being parsed around it (`_MAX_NESTING`).
        """
        dataset = RawDataset(self, charset)
        raw = dataset._raw  # noqa: SLF001 - filled here, by its owner's parser
        previous = -1
        data = self.data
        limit = len(data) if end is None else end
        explicit = not self.implicit
        unpack = _EXPLICIT.unpack_from
        unpack_long = _LONG_LENGTH.unpack_from
        group: int
        element: int
        length: int
        tag: int
        size: int
        vr_bytes: bytes
        while True:
            if offset == end:
                return dataset, offset
            if explicit and offset + 8 <= limit:
                # The common case inline: an explicit VR element with a 2-byte length.
                group, element, vr_bytes, length = unpack(data, offset)
                vr = _SHORT_VR_OF_BYTES.get(vr_bytes)
                if vr is not None and group != 0xFFFE:
                    tag = group << 16 | element
                    if tag <= previous:
                        raise _NeedsPydicomError(f"tag {tag:08X} out of order")
                    previous = tag
                    offset += 8
                    if offset + length > limit:
                        raise _NeedsPydicomError("value past the end of its item or file")
                    raw[tag] = (vr, offset, length)
                    if tag == _CHARSET:
                        # pydicom reads Specific Character Set at once: it decodes the rest
                        dataset._charset = convert_encodings(dataset._value(tag))  # noqa: SLF001
                    offset += length
                    continue
                # Then an explicit VR element with a 4-byte length (SQ, UT, OB...; not UN).
                vr = _LONG_VR_INLINE.get(vr_bytes)
                if vr is not None and group != 0xFFFE and offset + 12 <= limit:
                    tag = group << 16 | element
                    length = unpack_long(data, offset + 8)[0]
                    offset += 12
                else:
                    tag, vr, length, size = self.header(offset)
                    offset += size
            else:
                tag, vr, length, size = self.header(offset)
                offset += size
            if tag == _ITEM_END and end is None:
                if length != 0:
                    raise _NeedsPydicomError("item delimiter with a length")
                return dataset, offset
            if tag >> 16 == 0xFFFE or tag <= previous:
                raise _NeedsPydicomError(f"tag {tag:08X} out of place")
            previous = tag
            if vr == "SQ" and length == _UNDEFINED:
                # pydicom parses undefined-length sequences with their data set, the others
                # when first accessed (`RawDataset._convert`)
                items, offset = self.sequence(offset, length, limit, dataset._charset,  # noqa: SLF001
                                              depth)
                if offset > limit:
                    raise _NeedsPydicomError("sequence past the end of its item")
                dataset._values[tag] = items  # noqa: SLF001
                continue
            if length == _UNDEFINED:
                raise _NeedsPydicomError("undefined length outside a sequence")
            if offset + length > limit:
                raise _NeedsPydicomError("value past the end of its item or file")
            raw[tag] = (vr, offset, length)
            if tag == _CHARSET:
                dataset._charset = convert_encodings(dataset._value(tag))  # noqa: SLF001
            offset += length

    def sequence(self, offset: int, length: int, limit: int, charset: str | list[str],
                 depth: int = 0) -> tuple[list[RawDataset], int]:
        """Parse a sequence's items; return them and the offset after the sequence."""
        if depth >= _MAX_NESTING:
            raise _NeedsPydicomError("sequences nested too deep")
        items: list[RawDataset] = []
        end = None if length == _UNDEFINED else offset + length
        if end is not None and end > limit:
            raise _NeedsPydicomError("sequence past the end of its item or file")
        data = self.data
        group: int
        element: int
        item_length: int
        while True:
            if end is not None and offset == end:
                return items, offset
            if offset + 8 > (len(data) if end is None else end):
                raise _NeedsPydicomError("item header past the end")
            group, element, item_length = _IMPLICIT.unpack_from(data, offset)
            tag = group << 16 | element
            offset += 8
            if tag == _SEQUENCE_END and end is None:
                if item_length != 0:
                    raise _NeedsPydicomError("sequence delimiter with a length")
                return items, offset
            if tag != _ITEM:
                raise _NeedsPydicomError(f"{tag:08X} where a sequence item belongs")
            if item_length == _UNDEFINED:
                item, offset = self.dataset(offset, None, charset, depth + 1)
            else:
                item_end = offset + item_length
                if item_end > (len(data) if end is None else end):
                    raise _NeedsPydicomError("item past the end of its sequence")
                item, offset = self.dataset(offset, item_end, charset, depth + 1)
            items.append(item)


def _file_meta(data: bytes) -> tuple[RawDataset, int]:
    """The file meta group (always Explicit VR Little Endian) and the offset after it."""
    source = _Source(data, implicit=False, fast=conversions_replicable())
    parser = source
    meta = RawDataset(source, default_encoding)
    offset = 132
    previous = -1
    while offset + 8 <= len(data) and data[offset : offset + 2] == b"\x02\x00":
        tag, vr, length, size = parser.header(offset)
        if vr == "SQ" or length == _UNDEFINED or tag <= previous:
            raise _NeedsPydicomError("unusual file meta group")
        previous = tag
        offset += size
        if offset + length > len(data):
            raise _NeedsPydicomError("file meta element past the end")
        meta._raw[tag] = (vr, offset, length)  # noqa: SLF001
        offset += length
    group_length = meta._value(_GROUP_LENGTH)  # noqa: SLF001
    if group_length is _MISSING or group_length != offset - 144:
        # sr_read's truncation check counts on (0002,0000): pydicom's reading decides
        raise _NeedsPydicomError("file meta group length missing or wrong")
    return meta, offset


def read_dataset(data: bytes) -> RawDataset | None:
    """Parse a DICOM file's data set, or None when it needs ``pydicom.dcmread``.

    Parameters
    ----------
    data
        The whole file.

    Returns
    -------
    RawDataset or None
        The top-level data set (its ``file_meta`` the file meta group), answering keyword
        access as a pydicom dataset would. None for anything it does not parse exactly as
        pydicom does: no preamble and ``DICM``, a transfer syntax other than Explicit or
        Implicit VR Little Endian (big endian, deflated, compressed), a command group, an
        unusual or damaged encoding, a file cut short. Never raises.
    """
    try:
        if len(data) < 132 or data[128:132] != b"DICM":
            return None
        meta, offset = _file_meta(data)
        syntax = meta._value(_TRANSFER_SYNTAX)  # noqa: SLF001
        if syntax == ExplicitVRLittleEndian:
            implicit = False
        elif syntax == ImplicitVRLittleEndian:
            implicit = True
            # pydicom reads an implicit data set as explicit when its first element looks
            # explicit (filereader._is_implicit_vr): left to pydicom
            vr = data[offset + 4 : offset + 6]
            if len(vr) == 2 and 0x40 < vr[0] < 0x5B and 0x40 < vr[1] < 0x5B:
                return None
        else:
            return None
        if offset >= len(data) or data[offset : offset + 2] == b"\x00\x00":
            return None  # empty data set, or a command group (pydicom reads it apart)
        source = _Source(data, implicit, conversions_replicable())
        dataset, end = source.dataset(offset, len(data), default_encoding)
        if end != len(data):
            return None
        dataset.file_meta = meta
        return dataset
    except _PARSE_ERRORS:
        return None
