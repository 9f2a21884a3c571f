"""TensorBoard event files, written without TensorFlow or tensorboard installed.

An event file is a sequence of TFRecords (length, masked CRC-32C of the length, payload,
masked CRC-32C of the payload), each payload an `Event` protocol buffer. dlarena writes scalar
summaries only, so the few protobuf fields are encoded here by hand:
Event {1: wall_time double, 2: step int64, 3: file_version string, 5: summary}
Summary {1: repeated Value}, Value {1: tag string, 2: simple_value float}.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterable
from pathlib import Path


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc = _TABLE[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(crc: int) -> int:
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire_type: int, payload: bytes) -> bytes:
    return _varint(number << 3 | wire_type) + payload


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _field(number, 2, _varint(len(payload)) + payload)


def _event(wall_time: float, step: int, *, tag: str | None = None, value: float = 0.0,
           file_version: str | None = None) -> bytes:
    event = _field(1, 1, struct.pack("<d", wall_time)) + _field(2, 0, _varint(step))
    if file_version is not None:
        event += _length_delimited(3, file_version.encode())
    if tag is not None:
        summary_value = _length_delimited(1, tag.encode()) + _field(2, 5, struct.pack("<f", value))
        event += _length_delimited(5, _length_delimited(1, summary_value))
    return event


def _record(payload: bytes) -> bytes:
    length = struct.pack("<Q", len(payload))
    return (length + struct.pack("<I", _masked(crc32c(length))) + payload
            + struct.pack("<I", _masked(crc32c(payload))))


def write_scalars(folder: Path, scalars: Iterable[tuple[str, int, float]],
                  *, wall_time: float | None = None) -> Path:
    """One event file in `folder` holding (tag, step, value) scalars; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time() if wall_time is None else wall_time
    path = folder / f"events.out.tfevents.{int(now)}.{socket.gethostname()}.dlarena"
    records = [_record(_event(now, 0, file_version="brain.Event:2"))]
    records += [_record(_event(now, step, tag=tag, value=value)) for tag, step, value in scalars]
    path.write_bytes(b"".join(records))
    return path


def read_scalars(path: Path) -> list[tuple[str, int, float]]:
    """Read back what `write_scalars` wrote, checking every CRC (for tests and tools)."""
    data, offset, found = path.read_bytes(), 0, []
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        (length_crc,) = struct.unpack_from("<I", data, offset + 8)
        if _masked(crc32c(data[offset:offset + 8])) != length_crc:
            raise ValueError(f"{path}: bad length checksum at byte {offset}")
        payload = data[offset + 12:offset + 12 + length]
        (payload_crc,) = struct.unpack_from("<I", data, offset + 12 + length)
        if _masked(crc32c(payload)) != payload_crc:
            raise ValueError(f"{path}: bad payload checksum at byte {offset}")
        found += _scalars_in(payload)
        offset += 12 + length + 4
    return found


def _fields(buffer: bytes) -> Iterable[tuple[int, int, bytes | int]]:
    position = 0
    while position < len(buffer):
        key, position = _read_varint(buffer, position)
        number, wire_type = key >> 3, key & 7
        if wire_type == 0:
            value, position = _read_varint(buffer, position)
            yield number, wire_type, value
        elif wire_type == 1:
            yield number, wire_type, buffer[position:position + 8]
            position += 8
        elif wire_type == 5:
            yield number, wire_type, buffer[position:position + 4]
            position += 4
        else:
            length, position = _read_varint(buffer, position)
            yield number, wire_type, buffer[position:position + length]
            position += length


def _read_varint(buffer: bytes, position: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        byte = buffer[position]
        position += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, position


def _scalars_in(event: bytes) -> list[tuple[str, int, float]]:
    step, found = 0, []
    for number, _, value in _fields(event):
        if number == 2 and isinstance(value, int):
            step = value
        if number == 5 and isinstance(value, bytes):
            for _, _, summary_value in _fields(value):
                assert isinstance(summary_value, bytes)
                tag, scalar = "", 0.0
                for field_number, _, content in _fields(summary_value):
                    if field_number == 1 and isinstance(content, bytes):
                        tag = content.decode()
                    if field_number == 2 and isinstance(content, bytes):
                        (scalar,) = struct.unpack("<f", content)
                found.append((tag, step, scalar))
    return found
