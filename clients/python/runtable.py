"""A runtable client for Python, written from docs/PROTOCOL.md: list, look up and watch a table,
call Node (or Python) objects, and register Python objects that any runtable peer can call.

One module, the standard library plus cbor2 (Debian: python3-cbor2). It never starts a broker of
its own (the broker is a Node program): see connect(start_command=...). Blocking API, with one
reader thread per connection; every refusal of bad input carries the same code as the Node side.
"""

from __future__ import annotations

import array
import collections
import collections.abc
import datetime as _dt
import itertools
import math
import os
import secrets
import select
import shlex
import shutil
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import cbor2

PROTOCOL_VERSION = 2

# Limits, as in PROTOCOL.md section 9 (the Node names in brackets).
MAX_FRAME_BYTES = 1024 * 1024  # [MAX_FRAME_BYTES] every frame, both directions
CHUNK_BYTES = 64 * 1024  # [CHUNK_BYTES] messages over this travel as chunks
DEFAULT_MAX_MESSAGE_BYTES = 1024 * 1024 * 1024  # [DEFAULT_MAX_MESSAGE_BYTES] a whole chunked message
MAX_TRANSFERS_IN_PROGRESS = 64  # [MAX_TRANSFERS_IN_PROGRESS] per connection and direction
TRANSFER_STALL_S = 30.0  # [DEFAULT_TRANSFER_STALL_MS]
HANDSHAKE_TIMEOUT_S = 5.0  # [HANDSHAKE_TIMEOUT_MS]
COMPLAINT_RELEVANCE_S = 2.0  # [COMPLAINT_RELEVANCE_MS] a Failure id 0 just before a close is its reason
MAX_REQUEST_ID = 0x7FFFFFFF
MAX_SOCKET_PATH_BYTES = 107
MAX_CALLS_IN_FLIGHT = 65536  # [MAX_CALLS_IN_FLIGHT] per connection
MAX_SUBSCRIPTIONS = 10_000  # [MAX_SUBSCRIPTIONS_PER_CONNECTION]
MAX_EVENT_NAME_BYTES = 256
STREAM_WINDOW = 256  # [STREAM_WINDOW] first credit; then half of it at a time
STREAM_BATCH = 64  # [STREAM_BATCH] items per StreamItems
MAX_STREAM_CREDIT = 1 << 20  # [MAX_STREAM_CREDIT]
MAX_DEPTH = 400  # nesting of a decoded value; deeper is undecodable here (Python's own stack)
RESUME_GRACE_S = 3.0  # a watched entry whose owner lives may come back after a broker restart
CALL_WORKERS = 32  # methods served at once by one Python owner

ERROR_CODES = frozenset(
    "NOT_REGISTERED ALREADY_REGISTERED OBJECT_GONE TIMEOUT ABORTED NO_SUCH_METHOD BAD_MONIKER "
    "BAD_ARGUMENT PROTOCOL ACCESS_DENIED TABLE_UNAVAILABLE FRAME_TOO_LARGE REMOTE ACTIVATION_FAILED".split()
)

K = type("Kind", (), dict(
    Hello=1, Welcome=2, Register=10, Revoke=11, List=12, Lookup=13, Touch=14, Watch=15, Unwatch=16,
    Status=17, Activate=18, Services=19, TableEvent=20, Lost=21, ListNames=22, ListPart=23, Call=30, Invoke=31, Cancel=32, Release=33, Subscribe=34,
    Unsubscribe=35, Event=36, Reply=40, Failure=41, StreamItems=50, StreamCredit=51, StreamEnd=52,
    StreamCancel=53, Chunk=60, Monitor=70, Unmonitor=71, CallRecords=72, Statistics=75,
))


class RuntableError(Exception):
    """Every failure, with a stable code (PROTOCOL.md section 8). REMOTE keeps the thrown error."""

    def __init__(self, code: str, message: str, remote: dict | None = None, cause: Any = None):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        #: With code REMOTE: name, message, code and stack of the error the remote method threw.
        self.remote = remote
        if cause is not None:
            self.__cause__ = cause if isinstance(cause, BaseException) else JSError("Error", str(cause))


# --- Values (PROTOCOL.md 3.2) ---


class BigInt(int):
    """An integer that was (or is to be) a JS BigInt: an 8-byte CBOR integer or a bignum."""

    def __repr__(self) -> str:
        return f"BigInt({int(self)})"


class Map(dict):
    """A JS Map (tag 259): a dict whose keys may be of any type."""


@dataclass(frozen=True)
class TypedArray:
    """A JS typed array: its type name and its bytes, little-endian (RFC 8746)."""

    name: str
    data: bytes

    def tolist(self) -> list:
        if self.name in ("Uint8Array", "Uint8ClampedArray"):
            return list(self.data)
        code = _TYPED_CODES[self.name]
        values = array.array(code)
        values.frombytes(self.data)
        if sys.byteorder != "little":
            values.byteswap()
        return values.tolist()


_TYPED_TAGS = {
    "Uint8Array": 64, "Uint8ClampedArray": 68, "Uint16Array": 69, "Uint32Array": 70,
    "BigUint64Array": 71, "Int8Array": 72, "Int16Array": 77, "Int32Array": 78,
    "BigInt64Array": 79, "Float32Array": 85, "Float64Array": 86,
}
_TYPED_BY_TAG = {tag: name for name, tag in _TYPED_TAGS.items()}
_BIG_ENDIAN_TAGS = {65: "Uint16Array", 66: "Uint32Array", 67: "BigUint64Array", 73: "Int16Array",
                    74: "Int32Array", 75: "BigInt64Array", 81: "Float32Array", 82: "Float64Array"}
_TYPED_CODES = {"Uint16Array": "H", "Uint32Array": "I", "BigUint64Array": "Q", "Int8Array": "b",
                "Int16Array": "h", "Int32Array": "i", "BigInt64Array": "q", "Float32Array": "f",
                "Float64Array": "d"}
# array.array type codes by the size of their items on this machine (C's long varies).
_ARRAY_TYPECODES = {
    code: {("u", 1): "Uint8Array", ("s", 1): "Int8Array", ("u", 2): "Uint16Array", ("s", 2): "Int16Array",
           ("u", 4): "Uint32Array", ("s", 4): "Int32Array", ("u", 8): "BigUint64Array",
           ("s", 8): "BigInt64Array"}[("u" if code.isupper() else "s", array.array(code).itemsize)]
    for code in "BbHhIiLlQq"
}
_ARRAY_TYPECODES.update({"f": "Float32Array", "d": "Float64Array"})


class JSError(Exception):
    """An Error value (tag 21108) as it arrived: name, message, code, stack, cause."""

    def __init__(self, name: str, message: str, code: Any = None, stack: str | None = None, cause: Any = None):
        super().__init__(message)
        self.name = name
        self.message = message
        self.code = code
        self.stack = stack
        self.cause = cause
        if isinstance(cause, BaseException):
            self.__cause__ = cause

    def __repr__(self) -> str:
        return f"JSError({self.name!r}, {self.message!r})"


@dataclass(frozen=True)
class Reference:
    """A reference (tag 21109) this client does not act on: a function or a ref() object."""

    kind: int
    id: int
    methods: tuple | None = None


class _StreamRef:
    """A stream this side produces, as the value of a Reply: tag 21109 over [2, id]."""

    def __init__(self, stream_id: int):
        self.id = stream_id


# Private marker tags, inserted by the decoder's scan and never accepted from a peer.
_BIGINT_MARK = 0x52544249  # 'RTBI': the next item was an 8-byte integer or a bignum
# Tags a peer must not send (PROTOCOL.md 3.2): cbor-x's packed tables and shared values, which
# the Node side refuses, and those cbor2 would read with meanings no other runtable peer gives them.
REFUSED_TAGS = frozenset({4, 5, 6, 14, 15, 25, 27, 28, 29, 30, 35, 36, 37, 51, 105, 256, 260, 261,
                          0x53687264, _BIGINT_MARK})
# Ranges cbor-x reads as packed prefixes and suffixes or record structures.
REFUSED_TAG_RANGES = ((216, 255), (27647, 32767), (57337, 65535), (1811939328, 2147483647))


def refused_tag(number: int) -> bool:
    return number in REFUSED_TAGS or any(low <= number <= high for low, high in REFUSED_TAG_RANGES)
ERROR_TAG = 21108
REFERENCE_TAG = 21109


class _Undecodable(Exception):
    pass


def _scan(data: bytes, allow_references: bool) -> list[int]:
    """Checks that `data` is exactly one well-formed item by the profile of PROTOCOL.md 3, before
    cbor2 allocates anything; returns the offsets of the items to mark as BigInt."""
    marks: list[int] = []
    end = len(data)

    def argument(at: int, info: int) -> tuple[int, int, int]:
        if info < 24:
            return info, at, 0
        size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
        if size is None:
            raise _Undecodable(f"reserved additional information {info}")
        if at + size > end:
            raise _Undecodable("unexpected end of CBOR data")
        return int.from_bytes(data[at:at + size], "big"), at + size, size

    def item(at: int, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise _Undecodable(f"nested deeper than {MAX_DEPTH}")
        if at >= end:
            raise _Undecodable("unexpected end of CBOR data")
        head = data[at]
        major, info = head >> 5, head & 0x1F
        at += 1
        if info == 31:
            if major in (2, 3):
                raise _Undecodable("indefinite length not supported for byte or text strings")
            if major in (4, 5):
                while True:
                    if at >= end:
                        raise _Undecodable("unexpected end of CBOR data")
                    if data[at] == 0xFF:
                        return at + 1
                    at = item(at, depth + 1)
                    if major == 5:
                        at = item(at, depth + 1)
            raise _Undecodable("unexpected break or indefinite length")
        if major == 7:
            if info in (28, 29, 30):
                raise _Undecodable(f"reserved additional information {info}")
            return argument(at, info)[1]
        value, at, size = argument(at, info)
        if major in (0, 1):
            if size == 8:
                marks.append(at - 9)
            return at
        if major in (2, 3):
            if value > end - at:
                raise _Undecodable("unexpected end of CBOR data")
            return at + value
        if major in (4, 5):
            count = value * (2 if major == 5 else 1)
            if count > end - at:
                raise _Undecodable("unexpected end of CBOR data")
            for _ in range(count):
                at = item(at, depth + 1)
            return at
        # A tag.
        if refused_tag(value):
            raise _Undecodable(f"CBOR tag {value} is not accepted by runtable")
        if value == REFERENCE_TAG and not allow_references:
            raise _Undecodable("functions and references can only travel in calls, their results and events")
        if value in (2, 3):
            marks.append(at - 1 - size)
        content = at
        after = item(at, depth + 1)
        if value == 1 and data[content] in (0x1B, 0x3B):
            # The JS decoder reads an 8-byte integer as a BigInt, and a date cannot be made of one.
            raise _Undecodable("a date of an 8-byte integer")
        return after

    at = item(0, 0)
    if at != end:
        raise _Undecodable("data read, but end of buffer not reached")
    return marks


def _mark(data: bytes, marks: list[int]) -> bytes:
    if not marks:
        return data
    tag = b"\xda" + _BIGINT_MARK.to_bytes(4, "big")
    parts, last = [], 0
    for at in marks:
        parts += [data[last:at], tag]
        last = at
    parts.append(data[last:])
    return b"".join(parts)


class _Decoding:
    """What a decode may need: the connection whose references the value can hold."""

    def __init__(self, session: "_CallSession | None"):
        self.session = session

    def tag(self, _decoder: Any, tag: cbor2.CBORTag) -> Any:
        number, value = tag.tag, tag.value
        if number == _BIGINT_MARK:
            return BigInt(value)
        if number in _TYPED_BY_TAG or number in _BIG_ENDIAN_TAGS:
            if not isinstance(value, bytes):
                raise _Undecodable(f"tag {number} over a {type(value).__name__}")
            if number in _BIG_ENDIAN_TAGS:
                name = _BIG_ENDIAN_TAGS[number]
                values = array.array(_TYPED_CODES[name])
                values.frombytes(value)
                if sys.byteorder == "little":
                    values.byteswap()
                return TypedArray(name, values.tobytes())
            return TypedArray(_TYPED_BY_TAG[number], value)
        if number == 259:
            return Map(value) if isinstance(value, dict) else value
        if number == ERROR_TAG:
            return _revive_error(value)
        if number == REFERENCE_TAG:
            if not (isinstance(value, list) and len(value) >= 2 and _is_number(value[0]) and _is_number(value[1])):
                raise _Undecodable("malformed reference")
            kind, ref = int(value[0]), int(value[1])
            if kind == 2 and self.session is not None:
                return self.session.import_stream(ref)
            if kind not in (0, 1, 2):
                raise _Undecodable("malformed reference")
            methods = tuple(value[2]) if len(value) > 2 and isinstance(value[2], list) else None
            return Reference(kind, ref, methods)
        return tag


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _revive_error(fields: Any) -> JSError:
    record = fields if isinstance(fields, dict) else {}
    name = record.get("name") if isinstance(record.get("name"), str) else "Error"
    message = record.get("message") if isinstance(record.get("message"), str) else ""
    stack = record.get("stack") if isinstance(record.get("stack"), str) else None
    return JSError(name, message, record.get("code"), stack, record.get("cause"))


def decode(data: bytes, session: "_CallSession | None" = None, allow_references: bool = False) -> Any:
    """One CBOR item, as PROTOCOL.md 3 reads it; raises RuntableError PROTOCOL if undecodable."""
    try:
        marks = _scan(data, allow_references or session is not None)
        return cbor2.loads(_mark(data, marks), tag_hook=_Decoding(session).tag)
    except _Undecodable as error:
        raise RuntableError("PROTOCOL", f"undecodable message: {error}") from None
    except RuntableError:
        raise
    except Exception as error:  # cbor2's own refusals: bad UTF-8, a bad date string, …
        raise RuntableError("PROTOCOL", f"undecodable message: {error}") from None


def _seconds(moment: _dt.datetime) -> int | float:
    millis = round(moment.timestamp() * 1000)
    return millis // 1000 if millis % 1000 == 0 and 0 <= millis < 2**32 * 1000 else millis / 1000


def _to_wire(value: Any, session: "_CallSession | None", depth: int = 0) -> Any:
    """A Python value as cbor2 should write it, by the table of PROTOCOL.md 3.2."""
    if depth > MAX_DEPTH:
        raise RuntableError("BAD_ARGUMENT", f"a value nested deeper than {MAX_DEPTH}")
    if value is None or isinstance(value, (bool, str)) or value is cbor2.undefined:
        return value
    if isinstance(value, BigInt) or (isinstance(value, int) and abs(value) > 2**53 - 1):
        number = int(value)
        return cbor2.CBORTag(2 if number >= 0 else 3, _magnitude(number if number >= 0 else -1 - number))
    if isinstance(value, int):
        # A JS number: integers up to 32 bits as CBOR integers, larger ones as float64 (as Node does).
        return value if -(2**32) <= value < 2**32 else float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, TypedArray):
        return cbor2.CBORTag(_TYPED_TAGS[value.name], value.data)
    if isinstance(value, array.array):
        name = _ARRAY_TYPECODES.get(value.typecode)
        if name is None or name not in _TYPED_TAGS:
            raise RuntableError("BAD_ARGUMENT", f"no typed array for array('{value.typecode}')")
        copy = array.array(value.typecode, value)
        if sys.byteorder != "little":
            copy.byteswap()
        return cbor2.CBORTag(_TYPED_TAGS[name], copy.tobytes())
    if isinstance(value, _dt.datetime):
        return cbor2.CBORTag(1, _seconds(value))
    if isinstance(value, _StreamRef):
        return cbor2.CBORTag(REFERENCE_TAG, [2, value.id])
    if isinstance(value, Reference):
        # Only back to the side that exported it, which is the one that knows the id.
        content = [value.kind, value.id] + ([list(value.methods)] if value.methods is not None else [])
        return cbor2.CBORTag(REFERENCE_TAG, content)
    if isinstance(value, BaseException):
        return cbor2.CBORTag(ERROR_TAG, _error_fields(value, session, depth, with_stack=True))
    if isinstance(value, (list, tuple)):
        return [_to_wire(item, session, depth + 1) for item in value]
    if isinstance(value, (set, frozenset)):
        return cbor2.CBORTag(258, [_to_wire(item, session, depth + 1) for item in value])
    if isinstance(value, dict):
        pairs = {_hashable(_to_wire(k, session, depth + 1)): _to_wire(v, session, depth + 1) for k, v in value.items()}
        if isinstance(value, Map) or not all(isinstance(k, str) for k in value):
            return cbor2.CBORTag(259, pairs)
        return pairs
    if isinstance(value, cbor2.CBORTag):
        return cbor2.CBORTag(value.tag, _to_wire(value.value, session, depth + 1))
    if callable(value):
        raise RuntableError("BAD_ARGUMENT", "the Python client cannot send functions")
    raise RuntableError("BAD_ARGUMENT", f"cannot send a {type(value).__name__}")


def _hashable(key: Any) -> Any:
    return tuple(key) if isinstance(key, list) else key


def _magnitude(number: int) -> bytes:
    return number.to_bytes(max(1, (number.bit_length() + 7) // 8), "big")


def _error_fields(error: BaseException, session: Any, depth: int, with_stack: bool, levels: int = 8) -> dict:
    if isinstance(error, JSError):
        name, message, code, stack = error.name, error.message, error.code, error.stack
        cause = error.cause
    else:
        name, message = type(error).__name__, str(error)
        code = getattr(error, "code", None)
        stack = "".join(traceback.format_exception(type(error), error, error.__traceback__, chain=False)).rstrip()
        cause = error.__cause__
    fields: dict = {"name": name, "message": message}
    if code is not None:
        fields["code"] = _to_wire(code, session, depth + 1)
    if with_stack and stack:
        fields["stack"] = stack
    if cause is not None and levels > 0:
        if isinstance(cause, BaseException):
            fields["cause"] = cbor2.CBORTag(ERROR_TAG, _error_fields(cause, session, depth + 1, with_stack, levels - 1))
        else:
            fields["cause"] = _to_wire(cause, session, depth + 1)
    return fields


def encode(value: Any, session: "_CallSession | None" = None) -> bytes:
    """The CBOR of a value or message; raises RuntableError BAD_ARGUMENT for what cannot travel."""
    try:
        return cbor2.dumps(_to_wire(value, session))
    except RuntableError:
        raise
    except Exception as error:
        raise RuntableError("BAD_ARGUMENT", f"cannot encode this value: {error}") from None


# --- Messages (PROTOCOL.md 6): what a receiver checks ---


def _fail(what: str) -> None:
    raise RuntableError("PROTOCOL", f"malformed message: {what}")


def _uint(m: dict, key: str, optional: bool = False) -> None:
    value = m.get(key)
    if optional and value is None:
        return
    # An 8-byte integer (BigInt) is refused, as the JS decoder makes a BigInt of it (3.1).
    if isinstance(value, float) and value.is_integer() and 0 <= value <= 2**53 - 1:
        m[key] = int(value)
        return
    if type(value) is not int or value < 0 or value > 2**53 - 1:
        _fail(f"{key} must be a non-negative integer")


def _text(m: dict, key: str) -> None:
    if not isinstance(m.get(key), str):
        _fail(f"{key} must be a string")


def _texts(m: dict, key: str) -> None:
    value = m.get(key)
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        _fail(f"{key} must be an array of strings")


def _opt_bool(m: dict, key: str) -> None:
    if m.get(key, cbor2.undefined) not in (cbor2.undefined, None) and not isinstance(m[key], bool):
        _fail(f"{key} must be a boolean")


def _plain_map(value: Any) -> bool:
    return type(value) is dict


def _array(m: dict, key: str) -> None:
    if not isinstance(m.get(key), list):
        _fail(f"{key} must be an array")


def _error_record(value: Any) -> None:
    if not isinstance(value, dict):
        _fail("error must be a map")
    _text(value, "code")
    _text(value, "message")


def _entry(value: Any) -> None:
    if not isinstance(value, dict):
        _fail("entry must be a map")
    _text(value, "moniker")
    _uint(value, "pid")
    _text(value, "endpoint")
    _uint(value, "object")
    _texts(value, "methods")
    if not _plain_map(value.get("metadata")):
        _fail("metadata must be a map with string keys")
    if not isinstance(value.get("registeredAt"), _dt.datetime) or not isinstance(value.get("changedAt"), _dt.datetime):
        _fail("entry dates")


def _call_record(value: Any) -> None:
    # Checked so that the vectors pass; this client neither monitors nor reports calls (it refuses Monitor).
    if not isinstance(value, dict):
        _fail("a call record must be a map")
    for key in ("moniker", "method", "outcome"):
        _text(value, key)
    for key in ("peerPid", "bytesIn", "bytesOut"):
        _uint(value, key)
    for key in ("ms", "endedAt"):
        number = value.get(key)
        if isinstance(number, bool) or not isinstance(number, (int, float)) or not number >= 0:
            _fail(f"{key} must be a non-negative number")
    for key in ("oneway", "stream", "callback"):
        _opt_bool(value, key)
    _uint(value, "items", True)
    for key in ("args", "result"):
        if not _absent(value, key):
            _text(value, key)


def _absent(m: dict, key: str) -> bool:
    return m.get(key, cbor2.undefined) is cbor2.undefined


def _opt_date(m: dict, key: str) -> None:
    if not _absent(m, key) and not isinstance(m[key], _dt.datetime):
        _fail(f"{key} must be a date")


def _opt_map(m: dict, key: str) -> None:
    if not _absent(m, key) and not _plain_map(m[key]):
        _fail(f"{key} must be a map with string keys")


_CHECKS: dict[int, Callable[[dict], None]] = {
    K.Hello: lambda m: (_uint(m, "version"), _uint(m, "pid"), _absent(m, "token") or _text(m, "token")),
    K.Welcome: lambda m: (_uint(m, "version"), _uint(m, "pid")),
    K.Register: lambda m: (_uint(m, "id"), _text(m, "moniker"), _text(m, "endpoint"), _uint(m, "object"),
                           _texts(m, "methods"), _plain_map(m.get("metadata")) or _fail("metadata must be a map"),
                           _opt_bool(m, "replace"), _opt_bool(m, "queue"), _opt_date(m, "registeredAt"),
                           _opt_date(m, "changedAt")),
    K.Revoke: lambda m: (_uint(m, "id"), _text(m, "moniker")),
    K.List: lambda m: (_uint(m, "id"), _text(m, "prefix"), _opt_bool(m, "parts")),
    # Sent only to a client whose List asked for parts (this one does not); the batch is read as a List's Reply is.
    K.ListPart: lambda m: (_uint(m, "id"), _plain_map(m.get("value")) or _fail("value must be a map"),
                           _uint(m["value"], "part")),
    K.ListNames: lambda m: (_uint(m, "id"), _text(m, "prefix")),
    K.Lookup: lambda m: (_uint(m, "id"), _text(m, "moniker")),
    K.Touch: lambda m: (_uint(m, "id"), _text(m, "moniker"), _opt_map(m, "metadata")),
    K.Watch: lambda m: (_uint(m, "id"), _text(m, "prefix")),
    K.Unwatch: lambda m: (_uint(m, "id"), _uint(m, "watch")),
    K.Status: lambda m: _uint(m, "id"),
    K.Activate: lambda m: (_uint(m, "id"), _text(m, "moniker")),
    K.Services: lambda m: _uint(m, "id"),
    K.TableEvent: lambda m: (_uint(m, "watch"),
                             m.get("type") in ("registered", "revoked", "changed") or _fail("type"),
                             _entry(m.get("entry"))),
    K.Lost: lambda m: _text(m, "moniker"),
    K.Call: lambda m: (_uint(m, "id"), _uint(m, "target"), _text(m, "method"), _array(m, "args"),
                       _opt_bool(m, "stack")),
    K.Invoke: lambda m: (_uint(m, "id"), _uint(m, "ref"), _text(m, "method"), _array(m, "args"),
                         _opt_bool(m, "stack")),
    K.Cancel: lambda m: _uint(m, "call"),
    K.Release: lambda m: (_uint(m, "ref"), _uint(m, "count")),
    K.Subscribe: lambda m: (_uint(m, "id"), _uint(m, "target"), _text(m, "event")),
    K.Unsubscribe: lambda m: (_uint(m, "target"), _text(m, "event")),
    K.Event: lambda m: (_uint(m, "target"), _text(m, "event"), _array(m, "args")),
    K.StreamItems: lambda m: (_uint(m, "stream"), _array(m, "values")),
    K.StreamCredit: lambda m: (_uint(m, "stream"), _uint(m, "credit")),
    K.StreamEnd: lambda m: (_uint(m, "stream"), _absent(m, "error") or _error_record(m["error"])),
    K.StreamCancel: lambda m: _uint(m, "stream"),
    K.Chunk: lambda m: (_uint(m, "transfer"), _uint(m, "offset"), _uint(m, "total"),
                        isinstance(m.get("data"), (bytes, TypedArray)) or _fail("data must be a byte string"),
                        _uint(m, "request", True), _uint(m, "reply", True)),
    K.Monitor: lambda m: (_uint(m, "id"), _text(m, "prefix"), _opt_bool(m, "values")),
    K.Unmonitor: lambda m: _uint(m, "monitor"),
    K.CallRecords: lambda m: (_uint(m, "monitor"), _array(m, "records"),
                              [_call_record(record) for record in m["records"]], _uint(m, "missed", True)),
    # Read (so that a vector or a stray request is a known message), never answered but with PROTOCOL.
    K.Statistics: lambda m: (_uint(m, "id"),
                             _absent(m, "moniker") != _absent(m, "prefix")
                             or _fail("Statistics needs a moniker or a prefix"),
                             _absent(m, "moniker") or _text(m, "moniker"), _absent(m, "prefix") or _text(m, "prefix")),
    K.Reply: lambda m: _uint(m, "id"),
    K.Failure: lambda m: (_uint(m, "id"), _error_record(m.get("error"))),
}


def to_message(value: Any) -> dict:
    """The value as a message, or RuntableError PROTOCOL naming what is wrong (PROTOCOL.md 5.3)."""
    if not isinstance(value, dict) or isinstance(value, Map):
        _fail("not a map")
    kind = value.get("kind")
    check = _CHECKS.get(kind) if type(kind) is int else None
    if check is None and isinstance(kind, float) and kind.is_integer():
        check = _CHECKS.get(int(kind))
        value["kind"] = int(kind)
    if check is None:
        _fail(f"unknown kind {kind}")
    check(value)
    return value


def _request_id(value: Any) -> int:
    """The id a Failure about a malformed message answers: its id if a positive integer, else 0."""
    raw = value.get("id") if isinstance(value, dict) else None
    if type(raw) is int and 0 < raw <= 2**53 - 1:
        return raw
    if isinstance(raw, float) and raw.is_integer() and 0 < raw <= 2**53 - 1:
        return int(raw)
    return 0


def error_of(record: dict) -> RuntableError:
    """A Failure's ErrorRecord as a RuntableError; an unknown code reads as PROTOCOL."""
    code = record.get("code") if record.get("code") in ERROR_CODES else "PROTOCOL"
    message = record.get("message", "")
    if code != "REMOTE":
        return RuntableError(code, message)
    name = record.get("name") if isinstance(record.get("name"), str) else "Error"
    remote = {"name": name, "message": message}
    if record.get("remoteCode") is not None:
        remote["code"] = record["remoteCode"]
    if isinstance(record.get("stack"), str):
        remote["stack"] = record["stack"]
    return RuntableError("REMOTE", f"{name}: {message}", remote, record.get("cause"))


def _remote_record(error: BaseException, with_stack: bool) -> dict:
    record: dict = {"code": "REMOTE", "message": str(error), "name": type(error).__name__}
    if isinstance(error, JSError):
        record["name"], record["message"] = error.name, error.message
    code = getattr(error, "code", None)
    if code is not None:
        record["remoteCode"] = code
    if with_stack:
        record["stack"] = "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()
    if error.__cause__ is not None:
        record["cause"] = cbor2.CBORTag(ERROR_TAG, _error_fields(error.__cause__, None, 0, with_stack, 7))
    return record


# --- Where the table lives (PROTOCOL.md 1) ---


def node_tmpdir() -> str:
    """Node's os.tmpdir() on POSIX: TMPDIR, else TMP, else TEMP, else /tmp, without a trailing /."""
    path = os.environ.get("TMPDIR") or os.environ.get("TMP") or os.environ.get("TEMP") or "/tmp"
    return path[:-1] if len(path) > 1 and path.endswith("/") else path


def table_dir(option: str | None = None) -> str:
    """The table directory: the option, else RUNTABLE_DIR, else $XDG_RUNTIME_DIR/runtable, else
    <tmpdir>/runtable-<uid>."""
    if option:
        return os.path.abspath(option)
    if os.environ.get("RUNTABLE_DIR"):
        return os.path.abspath(os.environ["RUNTABLE_DIR"])
    if os.environ.get("XDG_RUNTIME_DIR"):
        return os.path.join(os.environ["XDG_RUNTIME_DIR"], "runtable")
    return os.path.join(node_tmpdir(), f"runtable-{os.getuid()}")


def _check_private(path: str, what: str, want_dir: bool) -> os.stat_result:
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise RuntableError("ACCESS_DENIED", f"{what} {path} is a symbolic link; point RUNTABLE_DIR at a real directory")
    if want_dir and not stat.S_ISDIR(info.st_mode) or not want_dir and not stat.S_ISREG(info.st_mode):
        raise RuntableError("ACCESS_DENIED", f"{what} {path} is not a {'directory' if want_dir else 'regular file'}")
    if info.st_uid != os.getuid():
        raise RuntableError("ACCESS_DENIED", f"{what} {path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()})")
    if info.st_mode & 0o077:
        raise RuntableError("ACCESS_DENIED", f"{what} {path} is open to other users (mode {info.st_mode & 0o777:04o}); run chmod {'700' if want_dir else '600'} {path}")
    return info


def prepare_dir(path: str) -> None:
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as error:
        raise RuntableError("TABLE_UNAVAILABLE", f"cannot create table directory {path}: {error}") from None
    _check_private(path, "table directory", True)


def table_token(directory: str) -> str:
    """The table's token (<dir>/token), made if missing the way every peer makes it."""
    path = os.path.join(directory, "token")
    if not os.path.lexists(path):
        draft = f"{path}.{os.getpid()}.{secrets.token_hex(6)}"
        try:
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
            os.link(draft, path)  # never replaces a token someone else made first
        except FileExistsError:
            pass
        finally:
            try:
                os.unlink(draft)
            except FileNotFoundError:
                pass
    _check_private(path, "table token", False)
    with open(path, encoding="ascii", errors="replace") as source:
        token = source.read()
    if len(token) != 64 or any(c not in "0123456789abcdef" for c in token):
        raise RuntableError("ACCESS_DENIED", f"table token {path} is malformed; remove it and stop the broker (runtable broker stop)")
    return token


# --- Frames and connections (PROTOCOL.md 2, 4, 5) ---


class _Transfer:
    def __init__(self, total: int, refused: bool):
        self.total = total
        self.data = None if refused else bytearray(total)
        self.received = 0
        self.last = time.monotonic()


class _Pending:
    __slots__ = ("event", "value", "error", "on_reply")

    def __init__(self, on_reply: Callable[[Any], None] | None = None):
        self.event = threading.Event()
        self.value: Any = None
        self.error: RuntableError | None = None
        self.on_reply = on_reply


class Connection:
    """One runtable connection: frames, handshake, requests matched to answers, chunks."""

    def __init__(self, sock: socket.socket, token: str, peer_name: str, gone_code: str,
                 timeout: float, max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES):
        self.sock = sock
        self.token = token
        self.peer_name = peer_name
        self.gone_code = gone_code
        self.timeout = timeout
        self.max_message_bytes = max_message_bytes
        self.peer_pid = 0
        self.session: _CallSession | None = None
        self.on_message: Callable[[dict], None] = lambda message: None
        self.on_close: Callable[[RuntableError], None] = lambda error: None
        self._send_lock = threading.Lock()
        self._state = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._next_id = 1
        self._next_transfer = 1
        self._transfers: dict[int, _Transfer] = {}
        self._closed: RuntableError | None = None
        self._complaint: tuple[RuntableError, float] | None = None
        self._reading = False
        self.closed_event = threading.Event()

    # The handshake runs on the caller's thread; the reader thread starts after it.

    @classmethod
    def connect(cls, path: str, token: str, peer_name: str, gone_code: str, timeout: float) -> "Connection":
        if len(os.fsencode(path)) > MAX_SOCKET_PATH_BYTES:
            raise RuntableError("TABLE_UNAVAILABLE", f"socket path {path} is longer than {MAX_SOCKET_PATH_BYTES} bytes")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(min(timeout, HANDSHAKE_TIMEOUT_S))
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        connection = cls(sock, token, peer_name, gone_code, timeout)
        try:
            connection._write(encode({"kind": K.Hello, "version": PROTOCOL_VERSION, "pid": os.getpid(), "token": token}))
            message = connection._first_message()
            if message["kind"] == K.Failure:
                raise error_of(message["error"])
            if message["kind"] != K.Welcome:
                raise RuntableError("PROTOCOL", f"expected a handshake, got kind {message['kind']}")
            if message["version"] != PROTOCOL_VERSION:
                raise RuntableError("PROTOCOL", f"{peer_name} speaks protocol version {message['version']}; this runtable speaks {PROTOCOL_VERSION}. Upgrade the older side")
            connection.peer_pid = message["pid"]
        except RuntableError as error:
            connection._refuse(error)
            raise
        except OSError as error:
            sock.close()
            raise RuntableError(gone_code, f"connection to {peer_name} failed during the handshake: {error}") from None
        connection._start()
        return connection

    @classmethod
    def accept(cls, sock: socket.socket, token: str, timeout: float) -> "Connection | None":
        sock.settimeout(min(timeout, HANDSHAKE_TIMEOUT_S))
        connection = cls(sock, token, "caller", "OBJECT_GONE", timeout)
        try:
            message = connection._first_message()
            if message["kind"] != K.Hello:
                raise RuntableError("PROTOCOL", f"expected a handshake, got kind {message['kind']}")
            if message["version"] != PROTOCOL_VERSION:
                raise RuntableError("PROTOCOL", f"this peer speaks protocol version {PROTOCOL_VERSION}, you sent {message['version']}; upgrade the older side")
            given = message.get("token")
            if not isinstance(given, str) or not secrets.compare_digest(given.encode(), token.encode()):
                raise RuntableError("ACCESS_DENIED", "the Hello did not carry this table's token; only a process that can read the table directory may join")
            connection.peer_pid = message["pid"]
            connection._write(encode({"kind": K.Welcome, "version": PROTOCOL_VERSION, "pid": os.getpid()}))
        except RuntableError as error:
            connection._refuse(error)
            return None
        except OSError:
            sock.close()
            return None
        return connection

    def _first_message(self) -> dict:
        try:
            body = self._read_frame()
        except socket.timeout:
            raise RuntableError("TIMEOUT", f"{self.peer_name} did not complete the handshake") from None
        except _BadFrame as bad:
            raise RuntableError(bad.code, bad.message) from None
        if body is None:
            raise RuntableError(self.gone_code, f"connection to {self.peer_name} closed during the handshake")
        return to_message(decode(body))

    def _refuse(self, error: RuntableError) -> None:
        try:
            if error.code != "TIMEOUT":
                self._write(encode({"kind": K.Failure, "id": 0, "error": {"code": error.code, "message": error.message}}))
        except OSError:
            pass
        self._shutdown()

    def _start(self) -> None:
        self.sock.settimeout(None)
        self._reading = True
        threading.Thread(target=self._read_loop, name=f"runtable {self.peer_name}", daemon=True).start()

    def start(self) -> None:
        """Starts reading, once the receiver's handlers are in place (the accepting side)."""
        self._start()

    def _read_exactly(self, count: int) -> bytes | None:
        parts, left = [], count
        while left:
            if self._reading and not select.select([self.sock], [], [], 1.0)[0]:
                # Quiet for a second: a good time to drop transfers that stopped (5.4).
                self._drop_stalled()
                continue
            part = self.sock.recv(min(left, 1 << 20))
            if not part:
                return None
            parts.append(part)
            left -= len(part)
        return b"".join(parts)

    def _read_frame(self) -> bytes | None:
        header = self._read_exactly(4)
        if header is None:
            return None
        (length,) = struct.unpack(">I", header)
        # Checked before anything is read or allocated for the body.
        if length == 0:
            raise _BadFrame("PROTOCOL", "empty frame")
        if length > MAX_FRAME_BYTES:
            raise _BadFrame("FRAME_TOO_LARGE", f"peer announced a frame of {length} bytes; the limit here is {MAX_FRAME_BYTES}")
        return self._read_exactly(length)

    def _read_loop(self) -> None:
        reason: RuntableError | None = None
        try:
            while True:
                body = self._read_frame()
                if body is None:
                    break
                self._receive(body)
        except _BadFrame as bad:
            reason = RuntableError(bad.code, bad.message)
            self.send_failure(0, reason)
        except OSError as error:
            reason = RuntableError(self.gone_code, f"connection to {self.peer_name} closed: {error}")
        self._closed_by_peer(reason)

    def _receive(self, body: bytes) -> None:
        try:
            value = decode(body, self.session)
        except RuntableError as error:
            self.send_failure(0, error)
            return
        try:
            message = to_message(value)
        except RuntableError as error:
            self.send_failure(_request_id(value), error)
            return
        kind = message["kind"]
        if kind == K.Chunk:
            self._chunk(message)
            return
        if len(body) > self.max_message_bytes:
            error = RuntableError("FRAME_TOO_LARGE", f"a message of {len(body)} bytes was sent; the limit here is {self.max_message_bytes}")
            if kind == K.Reply:
                self._settle(message["id"], None, error)
            else:
                self.send_failure(message.get("id", 0) if kind != K.Failure else 0, error)
            return
        if kind == K.Reply:
            self._settle(message["id"], message.get("value", cbor2.undefined), None)
        elif kind == K.Failure:
            error = error_of(message["error"])
            if message["id"] == 0:
                self._complaint = (error, time.monotonic())
            else:
                self._settle(message["id"], None, error)
        else:
            self.on_message(message)

    def _chunk(self, chunk: dict) -> None:
        transfer_id = chunk["transfer"]
        data = chunk["data"].data if isinstance(chunk["data"], TypedArray) else chunk["data"]
        request = chunk.get("request") or 0
        self._drop_stalled()
        transfer = self._transfers.get(transfer_id)
        try:
            if transfer is None:
                if chunk["offset"] != 0:
                    raise RuntableError("PROTOCOL", f"chunk at offset {chunk['offset']} of transfer {transfer_id}, which never began")
                if len(self._transfers) >= MAX_TRANSFERS_IN_PROGRESS:
                    raise RuntableError("PROTOCOL", f"more than {MAX_TRANSFERS_IN_PROGRESS} transfers in progress")
                held = sum(len(t.data) for t in self._transfers.values() if t.data is not None)
                refused = chunk["total"] > self.max_message_bytes - held
                transfer = _Transfer(chunk["total"], refused)
                self._transfers[transfer_id] = transfer
                if refused:
                    self._advance(transfer_id, transfer, chunk, data)
                    raise RuntableError("FRAME_TOO_LARGE", f"a message of {chunk['total']} bytes was sent; the limit here is {self.max_message_bytes}")
            whole = self._advance(transfer_id, transfer, chunk, data)
        except RuntableError as error:
            if chunk.get("reply") is not None and error.code == "FRAME_TOO_LARGE":
                self._settle(chunk["reply"], None, error)
            else:
                self.send_failure(request, error)
            return
        if whole is not None:
            self._receive(bytes(whole))

    def _drop_stalled(self) -> None:
        now = time.monotonic()
        for stale in [t for t, v in self._transfers.items() if now - v.last > TRANSFER_STALL_S]:
            del self._transfers[stale]
            self.send_failure(0, RuntableError("PROTOCOL", f"transfer {stale} stalled; dropped"))

    def _advance(self, transfer_id: int, transfer: _Transfer, chunk: dict, data: bytes) -> bytearray | None:
        if chunk["offset"] != transfer.received or chunk["total"] != transfer.total:
            del self._transfers[transfer_id]
            raise RuntableError("PROTOCOL", f"transfer {transfer_id} is out of order")
        if not data or chunk["offset"] + len(data) > transfer.total:
            del self._transfers[transfer_id]
            raise RuntableError("PROTOCOL", f"chunk of transfer {transfer_id} overruns its announced size")
        if transfer.data is not None:
            transfer.data[chunk["offset"]:chunk["offset"] + len(data)] = data
        transfer.received += len(data)
        transfer.last = time.monotonic()
        if transfer.received < transfer.total:
            return None
        del self._transfers[transfer_id]
        return transfer.data

    # Sending

    def _write(self, body: bytes) -> None:
        with self._send_lock:
            self.sock.sendall(struct.pack(">I", len(body)) + body)

    def send(self, message: dict, request: int | None = None, reply: int | None = None) -> None:
        """Sends one message; over CHUNK_BYTES as a transfer of chunks, written back to back."""
        body = encode(message, self.session)
        if self._closed is not None:
            raise self._closed
        try:
            if len(body) <= CHUNK_BYTES:
                self._write(body)
                return
            if len(body) > self.max_message_bytes:
                raise RuntableError("FRAME_TOO_LARGE", f"message of {len(body)} bytes is over the limit of {self.max_message_bytes}")
            with self._send_lock:
                transfer = self._next_transfer
                self._next_transfer = 1 if transfer >= MAX_REQUEST_ID else transfer + 1
                for offset in range(0, len(body), CHUNK_BYTES):
                    chunk = {"kind": K.Chunk, "transfer": transfer, "offset": offset, "total": len(body)}
                    if request is not None:
                        chunk["request"] = request
                    if reply is not None:
                        chunk["reply"] = reply
                    chunk["data"] = body[offset:offset + CHUNK_BYTES]
                    framed = cbor2.dumps(chunk)
                    self.sock.sendall(struct.pack(">I", len(framed)) + framed)
        except OSError as error:
            raise RuntableError(self.gone_code, f"connection to {self.peer_name} closed: {error}") from None

    def send_failure(self, request_id: int, error: RuntableError | dict) -> None:
        record = error if isinstance(error, dict) else {"code": error.code, "message": error.message}
        try:
            self.send({"kind": K.Failure, "id": request_id, "error": record})
        except RuntableError:
            pass

    def reply(self, request_id: int, value: Any) -> None:
        self.send({"kind": K.Reply, "id": request_id, "value": value}, reply=request_id)

    def request(self, message: dict, timeout: float | None = None, cancellable: bool = False,
                on_reply: Callable[[Any], None] | None = None,
                numbered: Callable[[int], None] | None = None) -> Any:
        """Sends a request and waits for its answer; TIMEOUT (with Cancel if cancellable).
        `on_reply` runs on the reader thread, before any later message is handled; `numbered` is
        told the id before the request is sent."""
        pending = _Pending(on_reply)
        with self._state:
            if self._closed is not None:
                raise self._closed
            request_id = self._next_id
            self._next_id = 1 if request_id >= MAX_REQUEST_ID else request_id + 1
            self._pending[request_id] = pending
            if numbered is not None:
                numbered(request_id)
        message["id"] = request_id
        try:
            self.send(message, request=request_id)
        except RuntableError:
            with self._state:
                self._pending.pop(request_id, None)
            raise
        limit = self.timeout if timeout is None else timeout
        if not pending.event.wait(None if limit == math.inf else limit):
            with self._state:
                self._pending.pop(request_id, None)
            if cancellable and self._closed is None:
                try:
                    self.send({"kind": K.Cancel, "call": request_id})
                except RuntableError:
                    pass
            raise RuntableError("TIMEOUT", f"{self.peer_name} did not answer within {round(limit * 1000)} ms")
        if pending.error is not None:
            raise pending.error
        return pending.value

    def _settle(self, request_id: int, value: Any, error: RuntableError | None) -> None:
        with self._state:
            pending = self._pending.pop(request_id, None)
        if pending is None:
            return  # a late answer
        if error is None and pending.on_reply is not None:
            try:
                pending.on_reply(value)
            except RuntableError as refused:
                error = refused
        pending.value, pending.error = value, error
        pending.event.set()

    # Closing

    def _shutdown(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def close(self, reason: RuntableError | None = None) -> None:
        if self._closed is None:
            self._closed = reason or RuntableError(self.gone_code, f"connection to {self.peer_name} closed")
        self._shutdown()

    @property
    def closed(self) -> bool:
        return self._closed is not None or self.closed_event.is_set()

    def _closed_by_peer(self, reason: RuntableError | None) -> None:
        complaint = self._complaint
        if reason is None and complaint and time.monotonic() - complaint[1] < COMPLAINT_RELEVANCE_S:
            reason = complaint[0]
        with self._state:
            if self._closed is None:
                self._closed = reason or RuntableError(self.gone_code, f"connection to {self.peer_name} closed")
            pending, self._pending = self._pending, {}
        self._shutdown()
        for waiter in pending.values():
            waiter.error = self._closed
            waiter.event.set()
        self.closed_event.set()
        self.on_close(self._closed)


class _BadFrame(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- Call connections: both ends (PROTOCOL.md 7.2-7.7) ---


class Stream:
    """The items of a stream a remote method returned, read with credit (7.6). Iterate it; close()
    stops it early (StreamCancel)."""

    def __init__(self, session: "_CallSession", stream_id: int):
        self._session = session
        self.id = stream_id
        self._items: collections.deque = collections.deque()
        self._ready = threading.Condition()
        self._end: RuntableError | None | bool = False  # False while open, None at a normal end
        self._credit = 0
        self._read_since_grant = 0
        self._started = False

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._credit = STREAM_WINDOW
            self._session.notify({"kind": K.StreamCredit, "stream": self.id, "credit": STREAM_WINDOW})

    def _items_arrived(self, values: list) -> None:
        with self._ready:
            if self._end is not False:
                return
            if len(values) > self._credit:
                self._end = RuntableError("PROTOCOL", f"stream {self.id} sent more items than its credit")
                self._session.forget_stream(self.id)
                self._session.notify({"kind": K.StreamCancel, "stream": self.id})
            else:
                self._credit -= len(values)
                self._items.extend(values)
            self._ready.notify_all()

    def _ended(self, error: RuntableError | None) -> None:
        with self._ready:
            if self._end is False:
                self._end = error
            self._ready.notify_all()

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> Any:
        self._start()
        with self._ready:
            while not self._items and self._end is False:
                self._ready.wait()
            if self._items:
                item = self._items.popleft()
                self._read_since_grant += 1
                grant = self._read_since_grant >= STREAM_WINDOW // 2 and self._end is False
                if grant:
                    self._credit += self._read_since_grant
                    amount, self._read_since_grant = self._read_since_grant, 0
            else:
                if self._end is None:
                    raise StopIteration
                raise self._end
        if grant:
            self._session.notify({"kind": K.StreamCredit, "stream": self.id, "credit": amount})
        return item

    def close(self) -> None:
        with self._ready:
            if self._end is not False:
                return
            self._end = None
            self._items.clear()
        self._session.forget_stream(self.id)
        self._session.notify({"kind": K.StreamCancel, "stream": self.id})

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


class _Producer:
    """A stream this side serves: pulls one item per unit of credit, in batches (7.6)."""

    def __init__(self, session: "_CallSession", stream_id: int, iterator: Iterator):
        self.session = session
        self.id = stream_id
        self.iterator = iterator
        self.credit = 0
        self.cancelled = False
        self.wake = threading.Condition()
        threading.Thread(target=self._run, name=f"runtable stream {stream_id}", daemon=True).start()

    def grant(self, credit: int) -> None:
        with self.wake:
            if credit < 1 or self.credit + credit > MAX_STREAM_CREDIT:
                self.cancelled = True
                self._end_with(RuntableError("PROTOCOL", f"stream credit {credit} is out of range"))
            self.credit += credit
            self.wake.notify_all()

    def cancel(self) -> None:
        with self.wake:
            self.cancelled = True
            self.wake.notify_all()

    def _end_with(self, error: RuntableError) -> None:
        self.session.forget_producer(self.id)
        self.session.notify({"kind": K.StreamEnd, "stream": self.id, "error": {"code": error.code, "message": error.message}})

    def _run(self) -> None:
        try:
            while True:
                with self.wake:
                    while self.credit == 0 and not self.cancelled and not self.session.closed:
                        self.wake.wait(1.0)
                    if self.cancelled or self.session.closed:
                        return
                    take = min(self.credit, STREAM_BATCH)
                batch = []
                done = False
                for _ in range(take):
                    try:
                        batch.append(next(self.iterator))
                    except StopIteration:
                        done = True
                        break
                with self.wake:
                    if self.cancelled:
                        return
                    self.credit -= len(batch)
                if batch:
                    try:
                        self.session.notify({"kind": K.StreamItems, "stream": self.id, "values": batch})
                    except RuntableError as error:
                        self._end_with(RuntableError("BAD_ARGUMENT", f"a stream item cannot be sent: {error.message}"))
                        return
                if done:
                    self.session.forget_producer(self.id)
                    self.session.notify({"kind": K.StreamEnd, "stream": self.id})
                    return
        except Exception as error:  # the iterator threw
            self.session.forget_producer(self.id)
            record = {"code": "REMOTE", "message": str(error), "name": type(error).__name__}
            if getattr(error, "code", None) is not None:
                record["remoteCode"] = error.code
            self.session.notify({"kind": K.StreamEnd, "stream": self.id, "error": record})
        finally:
            close = getattr(self.iterator, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    pass


@dataclass
class CallContext:
    """What a method serving a call may know: the caller's pid, and whether it gave up (Cancel)."""

    pid: int
    cancelled: threading.Event = field(default_factory=threading.Event)


_context = threading.local()


def call_context() -> CallContext | None:
    """The call this thread is serving, if any."""
    return getattr(_context, "current", None)


class _CallSession:
    """Either end of a call connection: the references and streams it holds, what it serves."""

    def __init__(self, connection: Connection, endpoint: "_Endpoint | None"):
        self.connection = connection
        self.endpoint = endpoint
        connection.session = self
        connection.on_message = self._message
        self._streams: dict[int, Stream] = {}
        self._producers: dict[int, _Producer] = {}
        self._running: dict[int, CallContext] = {}
        self._subscriptions: set[tuple[int, str]] = set()
        self._next_export = 1
        self._lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self.connection.closed

    def notify(self, message: dict) -> None:
        try:
            self.connection.send(message)
        except RuntableError:
            if not self.connection.closed:
                raise

    def import_stream(self, stream_id: int) -> Stream:
        # Called while the Reply is decoded on the reader thread, so that no item can come first.
        stream = Stream(self, stream_id)
        self._streams[stream_id] = stream
        return stream

    def forget_stream(self, stream_id: int) -> None:
        self._streams.pop(stream_id, None)

    def forget_producer(self, stream_id: int) -> None:
        self._producers.pop(stream_id, None)

    def closed_with(self, error: RuntableError) -> None:
        for stream in list(self._streams.values()):
            stream._ended(RuntableError("OBJECT_GONE", f"the stream's connection closed: {error.message}"))
        self._streams.clear()
        for producer in list(self._producers.values()):
            producer.cancel()
        for context in self._running.values():
            context.cancelled.set()
        if self.endpoint is not None:
            self.endpoint.forget(self)

    def _message(self, message: dict) -> None:
        kind = message["kind"]
        if kind == K.StreamItems:
            stream = self._streams.get(message["stream"])
            if stream is not None:
                stream._items_arrived(message["values"])
        elif kind == K.StreamEnd:
            stream = self._streams.pop(message["stream"], None)
            if stream is not None:
                stream._ended(error_of(message["error"]) if isinstance(message.get("error"), dict) else None)
        elif kind == K.StreamCredit:
            producer = self._producers.get(message["stream"])
            if producer is not None:
                producer.grant(message["credit"])
        elif kind == K.StreamCancel:
            producer = self._producers.pop(message["stream"], None)
            if producer is not None:
                producer.cancel()
        elif kind == K.Cancel:
            context = self._running.get(message["call"])
            if context is not None:
                context.cancelled.set()
        elif kind == K.Invoke:
            # This client exports no functions or ref() objects.
            if message["id"] != 0:
                self.connection.send_failure(message["id"], RuntableError("OBJECT_GONE", f"reference {message['ref']} was released or never existed"))
        elif kind in (K.Release, K.Event):
            pass  # this client exports nothing, and listens to no events
        elif self.endpoint is not None and kind in (K.Call, K.Subscribe, K.Unsubscribe):
            self.endpoint.handle(self, message)
        elif kind == K.Unsubscribe or (kind == K.Call and message["id"] == 0):
            pass  # nothing subscribed here; a one-way call is never answered, not even refused
        elif "id" in message:
            self.connection.send_failure(message["id"], RuntableError("PROTOCOL", f"this side does not take messages of kind {kind}"))
        else:
            self.connection.send_failure(0, RuntableError("PROTOCOL", f"this side does not take messages of kind {kind}"))

    # Serving (the endpoint's side)

    def subscribe(self, target: int, event: str) -> None:
        if len(self._subscriptions) >= MAX_SUBSCRIPTIONS and (target, event) not in self._subscriptions:
            raise RuntableError("BAD_ARGUMENT", f"one connection may hold at most {MAX_SUBSCRIPTIONS} subscriptions")
        self._subscriptions.add((target, event))

    def unsubscribe(self, target: int, event: str) -> None:
        self._subscriptions.discard((target, event))

    def subscribed(self, target: int, event: str) -> bool:
        return (target, event) in self._subscriptions

    def drop_target(self, target: int) -> None:
        self._subscriptions = {s for s in self._subscriptions if s[0] != target}

    def run(self, message: dict, method: Callable) -> None:
        request_id = message["id"]
        context = CallContext(self.connection.peer_pid)
        if request_id:
            self._running[request_id] = context
        _context.current = context
        try:
            result = method(*message["args"])
            if request_id == 0:
                return
            if _is_stream(result):
                with self._lock:
                    stream_id = self._next_export
                    self._next_export += 1
                producer = _Producer(self, stream_id, iter(result))
                self._producers[stream_id] = producer
                self.connection.reply(request_id, _StreamRef(stream_id))
                return
            try:
                self.connection.reply(request_id, result)
            except RuntableError as error:
                if not self.connection.closed:
                    code = "FRAME_TOO_LARGE" if error.code == "FRAME_TOO_LARGE" else "BAD_ARGUMENT"
                    self.connection.send_failure(request_id, RuntableError(code, f"the result cannot be sent: {error.message}"))
        except Exception as error:
            if request_id != 0:
                self.connection.send_failure(request_id, _remote_record(error, message.get("stack") is True))
        finally:
            _context.current = None
            self._running.pop(request_id, None)


def _is_stream(value: Any) -> bool:
    return isinstance(value, collections.abc.Iterator) and not isinstance(value, (str, bytes, dict, list))


def exposed_methods(obj: Any, expose: list[str] | None = None) -> list[str]:
    """What a peer may call on `obj`: its public callables (no leading _), not object's own."""
    names = [name for name in dir(obj) if not name.startswith("_") and not hasattr(object, name)
             and callable(getattr(obj, name, None))]
    if expose is None:
        return names
    missing = [name for name in expose if name not in names]
    if missing:
        raise RuntableError("BAD_ARGUMENT", f"expose names what the object does not offer: {', '.join(missing)}")
    return list(expose)


class _Endpoint:
    """This process's endpoint socket: serves the objects it registered (7.2, 7.7)."""

    _counter = itertools.count(1)

    def __init__(self, directory: str, token: str, timeout: float):
        self.token = token
        self.timeout = timeout
        self.path = os.path.join(directory, f"o{os.getpid()}-{next(_Endpoint._counter)}.sock")
        if len(os.fsencode(self.path)) > MAX_SOCKET_PATH_BYTES:
            raise RuntableError("TABLE_UNAVAILABLE", f"socket path {self.path} is longer than {MAX_SOCKET_PATH_BYTES} bytes; use a shorter table directory (RUNTABLE_DIR)")
        try:
            os.unlink(self.path)  # our pid is in the name: a file there was left by a dead process
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)  # the socket file is born 0600
        try:
            self.sock.bind(self.path)
        finally:
            os.umask(previous)
        self.sock.listen(128)
        self.objects: dict[int, tuple[Any, list[str]]] = {}
        self._next_object = 1
        self.sessions: set[_CallSession] = set()
        self.workers = ThreadPoolExecutor(CALL_WORKERS, thread_name_prefix="runtable call")
        self._stopped = False
        threading.Thread(target=self._accept_loop, name="runtable endpoint", daemon=True).start()

    def add(self, obj: Any, methods: list[str]) -> int:
        object_id = self._next_object
        self._next_object += 1
        self.objects[object_id] = (obj, methods)
        return object_id

    def remove(self, object_id: int) -> None:
        self.objects.pop(object_id, None)
        for session in list(self.sessions):
            session.drop_target(object_id)

    def forget(self, session: _CallSession) -> None:
        self.sessions.discard(session)

    def _accept_loop(self) -> None:
        while not self._stopped:
            try:
                sock, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._admit, args=(sock,), daemon=True).start()

    def _admit(self, sock: socket.socket) -> None:
        connection = Connection.accept(sock, self.token, self.timeout)
        if connection is None:
            return
        session = _CallSession(connection, self)
        connection.on_close = session.closed_with
        self.sessions.add(session)
        connection.start()

    def handle(self, session: _CallSession, message: dict) -> None:
        kind = message["kind"]
        target = self.objects.get(message["target"])
        if kind == K.Unsubscribe:
            session.unsubscribe(message["target"], message["event"])
            return
        request_id = message["id"]
        answer = request_id != 0
        if target is None:
            if answer:
                session.connection.send_failure(request_id, RuntableError("NOT_REGISTERED", f"object {message['target']} is no longer registered at pid {os.getpid()}"))
            return
        obj, methods = target
        if kind == K.Subscribe:
            try:
                if len(message["event"].encode()) > MAX_EVENT_NAME_BYTES:
                    raise RuntableError("BAD_ARGUMENT", f"an event name is at most {MAX_EVENT_NAME_BYTES} bytes")
                session.subscribe(message["target"], message["event"])
                session.connection.reply(request_id, True)
            except RuntableError as error:
                session.connection.send_failure(request_id, error)
            return
        name = message["method"]
        method = getattr(obj, name, None) if name in methods else None
        if not callable(method):
            if answer:
                session.connection.send_failure(request_id, RuntableError("NO_SUCH_METHOD", f"no method \"{name[:100]}\" is exposed by this object"))
            return
        if answer and len(session._running) >= MAX_CALLS_IN_FLIGHT:
            session.connection.send_failure(request_id, RuntableError("PROTOCOL", f"more than {MAX_CALLS_IN_FLIGHT} calls in flight on one connection"))
            return
        self.workers.submit(session.run, message, method)

    def emit(self, object_id: int, event: str, args: tuple) -> None:
        for session in list(self.sessions):
            if session.subscribed(object_id, event):
                session.notify({"kind": K.Event, "target": object_id, "event": event, "args": list(args)})

    def close(self) -> None:
        self._stopped = True
        try:
            self.sock.close()
        finally:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        for session in list(self.sessions):
            session.connection.close()
        self.workers.shutdown(wait=False)


# --- The table (PROTOCOL.md 7.1) ---


@dataclass(frozen=True)
class Entry:
    """A table entry as users see it; endpoint and object say where its calls go."""

    moniker: str
    pid: int
    methods: list
    metadata: dict
    registered_at: _dt.datetime
    changed_at: _dt.datetime
    endpoint: str = ""
    object: int = 0


def _entry_of(wire: dict) -> Entry:
    _entry(wire)
    return Entry(wire["moniker"], wire["pid"], list(wire["methods"]), wire["metadata"], wire["registeredAt"],
                 wire["changedAt"], wire["endpoint"], wire["object"])


def _millis(value: Any) -> _dt.datetime:
    return _dt.datetime.fromtimestamp(value / 1000, _dt.timezone.utc)


def unpack_entries(batch: Any) -> list[Entry]:
    """The entries of an EntryBatch (PROTOCOL.md 6, EntryBatch); PROTOCOL if anything is malformed."""
    if not isinstance(batch, dict) or not isinstance(batch.get("owners"), dict):
        _fail("an entry batch needs owners and rows")
    owners, rows = batch["owners"], batch.get("rows")
    rows = rows.data if isinstance(rows, TypedArray) and rows.name == "Uint8Array" else rows
    if not isinstance(rows, bytes):
        _fail("an entry batch needs owners and rows")
    for owner in owners.values():
        if not (isinstance(owner, list) and len(owner) == 3 and type(owner[0]) is int and isinstance(owner[1], str)
                and isinstance(owner[2], list) and all(isinstance(m, list) and all(isinstance(n, str) for n in m) for m in owner[2])):
            _fail("a batch owner must be [pid, endpoint, method lists]")
    decoded = decode(rows)
    if not isinstance(decoded, list):
        _fail("entry rows must be an array")
    entries = []
    for row in decoded:
        if not (isinstance(row, list) and len(row) in (6, 7) and isinstance(row[0], str) and type(row[1]) is int
                and type(row[2]) is int and type(row[3]) is int and _is_number(row[4]) and _is_number(row[5])):
            _fail("malformed entry row")
        owner = owners.get(str(row[1]), owners.get(row[1]))
        if owner is None or row[3] >= len(owner[2]) or (len(row) == 7 and not _plain_map(row[6])):
            _fail("malformed entry row")
        entries.append(Entry(row[0], owner[0], list(owner[2][row[3]]), row[6] if len(row) == 7 else {},
                             _millis(row[4]), _millis(row[5]), owner[1], row[2]))
    return entries


def unpack_names(batch: Any) -> list[str]:
    """The monikers of a NameBatch (PROTOCOL.md 6, NameBatch); PROTOCOL if anything is malformed."""
    names = batch.get("names") if isinstance(batch, dict) else None
    if not isinstance(names, str):
        _fail("the names of a name batch must be a text string")
    # Joined by NUL, which no moniker holds; no moniker is empty, so "" is none.
    return names.split("\0") if names else []


@dataclass(frozen=True)
class TableEvent:
    type: str  # 'registered', 'revoked' or 'changed'
    entry: Entry


class Watch:
    """Table events under a prefix: the current entries as 'registered', then changes as they
    happen. Iterate it; close() ends it. Survives broker restarts with a consistent view."""

    def __init__(self, table: "Table", prefix: str):
        self._table = table
        self.prefix = prefix
        self._queue: collections.deque = collections.deque()
        self._ready = threading.Condition()
        self._seen: dict[str, Entry] = {}
        self._awaiting: dict[str, tuple[Entry, float]] = {}
        self._error: RuntableError | None = None
        self._closed = False
        self.watch_id = 0
        #: Events that came before the snapshot they follow (a chunked one), held until it is in.
        self._early: list | None = None

    def _emit(self, kind: str, entry: Entry) -> None:
        if kind == "revoked":
            self._seen.pop(entry.moniker, None)
        else:
            self._seen[entry.moniker] = entry
        with self._ready:
            self._queue.append(TableEvent(kind, entry))
            self._ready.notify_all()

    def _snapshot(self, entries: list[Entry], resumed: bool) -> None:
        if not resumed:
            for entry in entries:
                self._emit("registered", entry)
            return
        present = {entry.moniker: entry for entry in entries}
        for moniker, old in list(self._seen.items()):
            if moniker not in present:
                if _alive(old.pid):
                    self._awaiting[moniker] = (old, time.monotonic() + RESUME_GRACE_S)
                else:
                    self._emit("revoked", old)
        for entry in entries:
            self._event("registered", entry)

    def _event(self, kind: str, entry: Entry) -> None:
        self._awaiting.pop(entry.moniker, None)
        seen = self._seen.get(entry.moniker)
        if kind == "registered" and seen is not None:
            # The same registration back after a broker restart is no news, unless it changed.
            if (seen.pid, seen.endpoint, seen.object) == (entry.pid, entry.endpoint, entry.object):
                if seen.changed_at != entry.changed_at:
                    self._emit("changed", entry)
                else:
                    self._seen[entry.moniker] = entry
                return
            self._emit("revoked", seen)
        self._emit(kind, entry)

    def _fail(self, error: RuntableError) -> None:
        with self._ready:
            self._error = error
            self._ready.notify_all()

    def __iter__(self) -> "Watch":
        return self

    def __next__(self) -> TableEvent:
        return self._take(None)

    def next(self, timeout: float) -> TableEvent:
        """The next event, waiting at most `timeout` seconds (TIMEOUT past it)."""
        return self._take(timeout)

    def _take(self, timeout: float | None) -> TableEvent:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while not self._queue and self._error is None and not self._closed:
                now = time.monotonic()
                if deadline is not None and now >= deadline:
                    raise RuntableError("TIMEOUT", f"no table event under {self.prefix!r} within {timeout} s")
                # Entries held after a broker restart are reported revoked when their grace ends.
                for moniker, (old, until) in list(self._awaiting.items()):
                    if now >= until:
                        del self._awaiting[moniker]
                        self._seen.pop(moniker, None)
                        self._queue.append(TableEvent("revoked", old))
                if not self._queue:
                    self._ready.wait(0.25 if deadline is None else max(0.0, min(0.25, deadline - now)))
            if self._queue:
                return self._queue.popleft()
            if self._closed:
                raise StopIteration
            raise self._error  # type: ignore[misc]

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        self._table._unwatch(self)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as source:
            return source.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


class Registration:
    """A moniker this process holds, for an object it serves."""

    def __init__(self, table: "Table", entry: Entry, message: dict):
        self._table = table
        self.entry = entry
        self._message = message
        self.lost: Callable[[RuntableError], None] = lambda error: None

    @property
    def moniker(self) -> str:
        return self.entry.moniker

    def touch(self, metadata: dict | None = None) -> Entry:
        message: dict = {"kind": K.Touch, "moniker": self.moniker}
        if metadata is not None:
            message["metadata"] = metadata
        self.entry = _entry_of(self._table._request(message))
        return self.entry

    def emit(self, event: str, *args: Any) -> None:
        self._table._endpoint_or_none().emit(self.entry.object, event, args)

    def revoke(self) -> None:
        self._table._owned.pop(self.moniker, None)
        endpoint = self._table._endpoint_or_none()
        if endpoint is not None:
            endpoint.remove(self.entry.object)
        self._table._request({"kind": K.Revoke, "moniker": self.moniker})

    def _again(self) -> dict:
        message = dict(self._message)
        message.pop("id", None)
        message.pop("queue", None)
        message.pop("replace", None)
        message["registeredAt"] = self.entry.registered_at
        message["changedAt"] = self.entry.changed_at
        return message


class _Bound:
    def __init__(self, proxy: "Proxy", name: str, timeout: float | None):
        self._proxy, self._name, self._timeout = proxy, name, timeout

    def __call__(self, *args: Any) -> Any:
        return self._proxy._call(self._name, args, self._timeout)


class Proxy:
    """Calls a moniker's object: proxy.method(*args). Follows the moniker: after its owner goes,
    the next call looks the moniker up again. with_options(proxy, timeout=…) for a deadline."""

    def __init__(self, table: "Table", moniker: str, timeout: float | None = None, stacks: bool = False):
        self._table = table
        self._moniker = moniker
        self._timeout = timeout
        self._stacks = stacks
        self._target: Entry | None = None

    def __getattr__(self, name: str) -> _Bound:
        if name.startswith("__"):
            raise AttributeError(name)
        return _Bound(self, name, self._timeout)

    def _call(self, method: str, args: tuple, timeout: float | None) -> Any:
        for attempt in range(2):
            target = self._target
            if target is None:
                target = self._table.lookup(self._moniker)
                if target is None:
                    raise RuntableError("NOT_REGISTERED", f"{self._moniker} is not registered")
                self._target = target
            try:
                session = self._table._session_to(target.endpoint)
            except RuntableError:
                # Its owner went before anything was sent: the moniker may have another owner now.
                self._target = None
                if attempt == 0:
                    continue
                raise
            message = {"kind": K.Call, "target": target.object, "method": method, "args": list(args)}
            if self._stacks:
                message["stack"] = True
            try:
                return session.connection.request(message, timeout if timeout is not None else self._table.timeout, cancellable=True)
            except RuntableError as error:
                # The method did not run (no such object there, or the owner was gone before the
                # call was sent): look the moniker up again, once. A call in flight is never resent.
                if attempt == 0 and error.code == "NOT_REGISTERED":
                    self._target = None
                    continue
                if error.code == "OBJECT_GONE":
                    self._target = None
                raise


def with_options(proxy: Proxy, timeout: float | None = None, stacks: bool = False) -> Proxy:
    """A proxy of the same moniker whose calls time out after `timeout` seconds (TIMEOUT), or ask
    for remote stacks."""
    return Proxy(proxy._table, proxy._moniker, timeout, stacks)


class Table:
    """A connection to a table: naming through its broker, calls straight to owners."""

    def __init__(self, directory: str, token: str, timeout: float, auto_start: bool, start_command: list[str] | None):
        self.dir = directory
        self.token = token
        self.timeout = timeout
        self._auto_start = auto_start
        self._start_command = start_command
        self._lock = threading.RLock()
        self._broker: Connection | None = None
        self._reconnecting = threading.Event()
        self._closing = False
        self._endpoint: _Endpoint | None = None
        self._owned: dict[str, Registration] = {}
        self._watches: dict[int, Watch] = {}
        self._sessions: dict[str, _CallSession] = {}
        self._broker = self._dial()

    # The broker connection, and its return after a broker restart

    def _dial(self) -> Connection:
        path = os.path.join(self.dir, "broker.sock")
        deadline = time.monotonic() + self.timeout
        started = False
        while True:
            try:
                connection = Connection.connect(path, self.token, "the broker", "TABLE_UNAVAILABLE", self.timeout)
                break
            except RuntableError as error:
                # A broker that exits (idle, or beaten in a start race) as we arrive: try again.
                if error.code != "TABLE_UNAVAILABLE" or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
            except (FileNotFoundError, ConnectionRefusedError):
                if not self._auto_start:
                    raise RuntableError("TABLE_UNAVAILABLE", f"no broker runs for table {self.dir}; start one with \"runtable broker start\"") from None
                if not started:
                    started = True
                    self._start_broker()
                if time.monotonic() > deadline:
                    raise RuntableError("TABLE_UNAVAILABLE", f"the broker of {self.dir} did not start in time; see {self.dir}/broker.log") from None
                time.sleep(0.02)
            except PermissionError:
                raise RuntableError("ACCESS_DENIED", f"cannot connect to {path}: permission denied") from None
        connection.on_message = self._notice
        connection.on_close = lambda error, c=connection: self._broker_closed(c, error)
        return connection

    def _start_broker(self) -> None:
        command = self._start_command
        if command is None and os.environ.get("RUNTABLE_BROKER_COMMAND"):
            command = shlex.split(os.environ["RUNTABLE_BROKER_COMMAND"])
        if command is None and shutil.which("runtable"):
            command = ["runtable", "broker", "start"]
        if command is None:
            raise RuntableError("TABLE_UNAVAILABLE", f"no broker runs for table {self.dir}, and this client cannot start one: run \"runtable broker start\" (npm install -g runtable), or set RUNTABLE_BROKER_COMMAND")
        env = dict(os.environ, RUNTABLE_DIR=self.dir)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=self.timeout)
        if done.returncode != 0:
            raise RuntableError("TABLE_UNAVAILABLE", f"{' '.join(command)} failed (exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")

    def _broker_closed(self, connection: Connection, error: RuntableError) -> None:
        with self._lock:
            if self._broker is not connection or self._closing:
                return
            self._broker = None
        self._reconnecting.clear()
        threading.Thread(target=self._reconnect, name="runtable reconnect", daemon=True).start()

    def _reconnect(self) -> None:
        delay = 0.01
        while not self._closing:
            if not os.path.isdir(self.dir):
                self._give_up(RuntableError("TABLE_UNAVAILABLE", f"the table directory {self.dir} is gone"))
                return
            try:
                connection = self._dial()
                self._restore(connection)
            except RuntableError as error:
                if error.code == "ACCESS_DENIED":
                    self._give_up(error)
                    return
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            with self._lock:
                self._broker = connection
            self._reconnecting.set()
            return

    def _restore(self, connection: Connection) -> None:
        """Registers every owned moniker again, then resumes every watch (owners first)."""
        for moniker, registration in list(self._owned.items()):
            try:
                registration.entry = _entry_of(connection.request(registration._again()))
            except RuntableError as error:
                if error.code != "ALREADY_REGISTERED":
                    connection.close()
                    raise
                self._owned.pop(moniker, None)
                registration.lost(error)
        for watch in list(self._watches.values()):
            self._start_watch(connection, watch, resumed=True)

    def _give_up(self, error: RuntableError) -> None:
        for registration in self._owned.values():
            registration.lost(error)
        self._owned.clear()
        for watch in self._watches.values():
            watch._fail(error)
        self._reconnecting.set()

    def _connection(self) -> Connection:
        with self._lock:
            connection = self._broker
        if connection is not None and not connection.closed:
            return connection
        if self._closing:
            raise RuntableError("TABLE_UNAVAILABLE", "the table is closed")
        if not self._reconnecting.wait(self.timeout) or self._broker is None:
            raise RuntableError("TABLE_UNAVAILABLE", f"the broker of {self.dir} is not back yet")
        return self._broker

    def _request(self, message: dict, timeout: float | None = None, on_reply: Callable | None = None) -> Any:
        for attempt in range(2):
            connection = self._connection()
            try:
                return connection.request(dict(message), timeout, on_reply=on_reply)
            except RuntableError as error:
                # Cut off by a broker restart, it never took effect: send it again, once.
                if attempt > 0 or error.code != "TABLE_UNAVAILABLE" or not connection.closed:
                    raise

    def _notice(self, message: dict) -> None:
        if message["kind"] == K.TableEvent:
            watch = self._watches.get(message["watch"])
            if watch is not None:
                entry = _entry_of(message["entry"])
                if watch._early is not None:
                    watch._early.append((message["type"], entry))
                else:
                    watch._event(message["type"], entry)
        elif message["kind"] == K.Lost:
            registration = self._owned.pop(message["moniker"], None)
            if registration is not None:
                registration.lost(RuntableError("ALREADY_REGISTERED", f"{message['moniker']} was taken over by another owner"))

    # Naming

    def list(self, prefix: str = "") -> list[Entry]:
        return unpack_entries(self._request({"kind": K.List, "prefix": prefix}))

    def list_names(self, prefix: str = "") -> list[str]:
        """The monikers under `prefix`, in list()'s order: names only (ListNames), far cheaper than
        list() for a large table. A broker from before ListNames refuses it; list() then gives them."""
        try:
            return unpack_names(self._request({"kind": K.ListNames, "prefix": prefix}))
        except RuntableError as error:
            if error.code != "PROTOCOL" or "unknown kind" not in str(error):
                raise
        return [entry.moniker for entry in self.list(prefix)]

    def lookup(self, moniker: str) -> Entry | None:
        value = self._request({"kind": K.Lookup, "moniker": moniker})
        return None if value is None else _entry_of(value)

    def is_running(self, moniker: str) -> bool:
        return self.lookup(moniker) is not None

    def status(self) -> dict:
        return self._request({"kind": K.Status})

    def watch(self, prefix: str = "") -> Watch:
        watch = Watch(self, prefix)
        self._start_watch(self._connection(), watch, resumed=False)
        return watch

    def _start_watch(self, connection: Connection, watch: Watch, resumed: bool) -> None:
        # Events for the watch that arrive before its snapshot (a chunked one) wait for it.
        watch._early = []

        def snapshot(batch: Any) -> None:
            watch._snapshot(unpack_entries(batch), resumed)
            early, watch._early = watch._early, None
            for kind, entry in early:
                watch._event(kind, entry)

        def numbered(watch_id: int) -> None:
            self._watches = {k: v for k, v in self._watches.items() if v is not watch}
            watch.watch_id = watch_id
            self._watches[watch_id] = watch

        connection.request({"kind": K.Watch, "prefix": watch.prefix}, on_reply=snapshot, numbered=numbered)

    def _unwatch(self, watch: Watch) -> None:
        self._watches.pop(watch.watch_id, None)
        connection = self._broker
        if connection is not None and not connection.closed:
            try:
                connection.request({"kind": K.Unwatch, "watch": watch.watch_id}, timeout=1.0)
            except RuntableError:
                pass

    # Owning

    def _endpoint_or_none(self) -> _Endpoint | None:
        return self._endpoint

    def register(self, moniker: str, obj: Any, metadata: dict | None = None, replace: bool = False,
                 queue: bool = False, expose: list[str] | None = None) -> Registration:
        """Registers `obj` under `moniker`; its public methods become callable by every peer."""
        methods = exposed_methods(obj, expose)
        with self._lock:
            if self._endpoint is None:
                self._endpoint = _Endpoint(self.dir, self.token, self.timeout)
        object_id = self._endpoint.add(obj, methods)
        message: dict = {"kind": K.Register, "moniker": moniker, "endpoint": self._endpoint.path,
                         "object": object_id, "methods": methods, "metadata": metadata or {}}
        if replace:
            message["replace"] = True
        if queue:
            message["queue"] = True
        try:
            entry = _entry_of(self._request(message, math.inf if queue else None))
        except RuntableError:
            self._endpoint.remove(object_id)
            raise
        registration = Registration(self, entry, message)
        self._owned[moniker] = registration
        return registration

    # Calling

    def activate(self, moniker: str, timeout: float | None = None) -> Entry | None:
        """Starts the service a service file names for `moniker`, unless someone holds it, and
        waits for its registration (PROTOCOL.md, Activate): the Entry, or None when no file names
        it; ACTIVATION_FAILED when the command fails. A broker without activation answers None."""
        try:
            value = self._request({"kind": K.Activate, "moniker": moniker}, timeout=timeout)
        except RuntableError as error:
            if error.code == "PROTOCOL" and "kind" in error.message:
                return None  # a broker from before activation
            raise
        return None if value is None else _entry_of(value)

    def services(self) -> list[dict]:
        """The service files the broker reads: file, monikers, and command, problem or pid."""
        return self._request({"kind": K.Services})

    def get(self, moniker: str) -> Proxy:
        """A proxy of the moniker's object. Nobody holds it: a service file that names it is
        started (activation) and waited for; else NOT_REGISTERED."""
        if self.lookup(moniker) is None and self.activate(moniker) is None:
            raise RuntableError("NOT_REGISTERED", f"{moniker} is not registered")
        return Proxy(self, moniker)

    def call(self, moniker: str, method: str, *args: Any, timeout: float | None = None) -> Any:
        return Proxy(self, moniker, timeout).__getattr__(method)(*args)

    def _session_to(self, endpoint: str) -> _CallSession:
        with self._lock:
            session = self._sessions.get(endpoint)
            if session is not None and not session.closed:
                return session
            if endpoint.startswith("tcp://"):
                raise RuntableError("BAD_ARGUMENT", f"{endpoint}: this client speaks to local tables only")
            try:
                connection = Connection.connect(endpoint, self.token, f"owner at {endpoint}", "OBJECT_GONE", self.timeout)
            except OSError as error:
                raise RuntableError("OBJECT_GONE", f"the owner's endpoint {endpoint} does not answer: {error}") from None
            session = _CallSession(connection, None)
            connection.on_close = session.closed_with
            self._sessions[endpoint] = session
            return session

    def close(self) -> None:
        """Revokes what this process registered, ends its watches and closes every connection."""
        self._closing = True
        for watch in list(self._watches.values()):
            with watch._ready:
                watch._closed = True
                watch._ready.notify_all()
        if self._broker is not None:
            self._broker.close()
        if self._endpoint is not None:
            self._endpoint.close()
        for session in self._sessions.values():
            session.connection.close()

    def __enter__(self) -> "Table":
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.close()


def connect(dir: str | None = None, timeout: float = 30.0, auto_start: bool = True,
            start_command: list[str] | None = None) -> Table:
    """Connects to the table in `dir` (else RUNTABLE_DIR, …; see table_dir). When no broker runs,
    `start_command` (else $RUNTABLE_BROKER_COMMAND, else `runtable broker start` if on PATH) is run
    with RUNTABLE_DIR set; without one, TABLE_UNAVAILABLE names what to run."""
    directory = table_dir(dir)
    prepare_dir(directory)
    return Table(directory, table_token(directory), timeout, auto_start, start_command)
