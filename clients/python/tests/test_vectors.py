"""The golden vectors of docs/vectors/ against the Python client: every message and value decodes
to its typed form and validates, what Python encodes decodes back the same, and a Python endpoint
answers every refused frame with the Failure the vector names (the Node endpoint does too)."""

import datetime as dt
import json
import math
import os
import socket
import struct
import unittest

import cbor2

from support import ROOT, TableTest, runtable

VECTORS = os.path.join(ROOT, "docs", "vectors")
FILES = sorted(name for name in os.listdir(VECTORS) if name.endswith(".json"))


def load(name: str) -> dict:
    with open(os.path.join(VECTORS, name), encoding="utf-8") as source:
        return json.load(source)


def to_typed(value):
    """A decoded value in the typed JSON of docs/vectors/README.md."""
    if value is cbor2.undefined:
        return {"$undefined": True}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, runtable.BigInt):
        return {"$bigint": str(int(value))}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return {"$number": "NaN"}
        if math.isinf(value):
            return {"$number": "Infinity" if value > 0 else "-Infinity"}
        if value == 0 and math.copysign(1, value) < 0:
            return {"$number": "-0"}
        return value
    if isinstance(value, dt.datetime):
        utc = value.astimezone(dt.timezone.utc)
        return {"$date": utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, runtable.TypedArray):
        return {f"${value.name}": value.data.hex()}
    if isinstance(value, runtable.Map):
        return {"$map": [[to_typed(k), to_typed(v)] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"$set": [to_typed(item) for item in value]}
    if isinstance(value, runtable.JSError):
        fields = {"name": value.name, "message": value.message}
        if value.code is not None:
            fields["code"] = to_typed(value.code)
        if value.stack is not None:
            fields["stack"] = value.stack
        if value.cause is not None:
            fields["cause"] = to_typed(value.cause)
        return {"$error": fields}
    if isinstance(value, runtable.Reference):
        content = [value.kind, value.id] + ([list(value.methods)] if value.methods is not None else [])
        return {"$ref": content}
    if isinstance(value, cbor2.CBORTag):
        return {"$tag": [value.tag, to_typed(value.value)]}
    if isinstance(value, (list, tuple)):
        return [to_typed(item) for item in value]
    if isinstance(value, dict):
        out = {str(k): to_typed(v) for k, v in value.items()}
        return {"$object": out} if any(str(k).startswith("$") for k in value) else out
    raise TypeError(f"no typed form for {type(value).__name__}")


def from_typed(typed):
    """The Python value a typed form stands for."""
    if isinstance(typed, list):
        return [from_typed(item) for item in typed]
    if not isinstance(typed, dict):
        return typed
    keys = list(typed)
    if len(keys) != 1 or not keys[0].startswith("$"):
        return {key: from_typed(value) for key, value in typed.items()}
    key, body = keys[0], typed[keys[0]]
    if key == "$undefined":
        return cbor2.undefined
    if key == "$number":
        return float(body.replace("Infinity", "inf"))
    if key == "$bigint":
        return runtable.BigInt(int(body))
    if key == "$date":
        return dt.datetime.fromisoformat(body.replace("Z", "+00:00"))
    if key == "$bytes":
        return bytes.fromhex(body)
    if key == "$map":
        return runtable.Map((hashable(from_typed(k)), from_typed(v)) for k, v in body)
    if key == "$set":
        return {hashable(from_typed(item)) for item in body}
    if key == "$object":
        return {k: from_typed(v) for k, v in body.items()}
    if key == "$ref":
        return runtable.Reference(body[0], body[1], tuple(body[2]) if len(body) > 2 else None)
    if key == "$error":
        return runtable.JSError(body["name"], body["message"], from_typed(body.get("code")),
                                body.get("stack"), from_typed(body.get("cause")))
    if key == "$tag":
        return cbor2.CBORTag(body[0], from_typed(body[1]))
    return runtable.TypedArray(key[1:], bytes.fromhex(body))


def hashable(value):
    return tuple(value) if isinstance(value, list) else value


def normal(typed):
    """Sets compare without order (a Python set has none)."""
    if isinstance(typed, list):
        return [normal(item) for item in typed]
    if isinstance(typed, dict):
        if list(typed) == ["$set"]:
            return {"$set": sorted((normal(item) for item in typed["$set"]), key=json.dumps)}
        return {key: normal(value) for key, value in typed.items()}
    return typed


class Vectors(unittest.TestCase):
    def check_item(self, item: dict, is_message: bool, where: str):
        data = bytes.fromhex(item["hex"])
        decoded = runtable.decode(data, allow_references=True)
        self.assertEqual(normal(to_typed(decoded)), normal(item["value"]), f"{where}: decoded value")
        again = runtable.decode(runtable.encode(from_typed(item["value"])), allow_references=True)
        self.assertEqual(normal(to_typed(again)), normal(item["value"]), f"{where}: Python's encoding")
        if is_message:
            runtable.to_message(decoded)
        for inner in item.get("nested", []):
            here = decoded
            for key in inner["path"]:
                here = here[key]
            here = here.data if isinstance(here, runtable.TypedArray) else here
            self.assertEqual(here.hex(), inner["hex"], where)
            self.check_item(inner, False, f"{where} {'.'.join(inner['path'])}")
        return decoded

    def test_there_are_vectors_of_every_kind(self):
        kinds = set()
        for name in FILES:
            vector = load(name)
            items = vector.get("steps", []) if vector["type"] == "sequence" else [vector]
            for item in items:
                value = item.get("value", item.get("fields"))
                if vector["type"] not in ("value", "refused") and isinstance(value, dict):
                    kinds.add(value.get("kind"))
        self.assertEqual(kinds, set(vars(runtable.K)[k] for k in vars(runtable.K) if not k.startswith("_")))

    def test_messages_and_values(self):
        for name in FILES:
            vector = load(name)
            if vector["type"] in ("message", "value"):
                with self.subTest(vector=vector["name"]):
                    self.check_item(vector, vector["type"] == "message", vector["name"])

    def test_sequences(self):
        for name in FILES:
            vector = load(name)
            if vector["type"] != "sequence":
                continue
            with self.subTest(vector=vector["name"]):
                data = []
                for i, step in enumerate(vector["steps"]):
                    if "value" in step:
                        self.check_item(step, True, f"{vector['name']} step {i}")
                        continue
                    chunk = runtable.to_message(runtable.decode(bytes.fromhex(step["hex"])))
                    body = chunk.pop("data")
                    self.assertEqual(to_typed(chunk), step["fields"])
                    self.assertEqual(len(body), step["dataLength"])
                    data.append(body)
                if data:
                    whole = runtable.to_message(runtable.decode(b"".join(data)))
                    self.assertEqual(to_typed(whole), vector["whole"]["value"])

    def test_bigint_forms_are_kept_apart_from_numbers(self):
        self.assertIs(type(runtable.decode(bytes.fromhex("1b0000000000000005"))), runtable.BigInt)
        self.assertIs(type(runtable.decode(bytes.fromhex("05"))), int)
        self.assertEqual(runtable.decode(runtable.encode(runtable.BigInt(5))), 5)
        self.assertIs(type(runtable.decode(runtable.encode(runtable.BigInt(5)))), runtable.BigInt)
        # A Python int past 32 bits that is a safe JS number travels as float64, as Node writes it.
        self.assertEqual(runtable.encode(2**40).hex(), "fb4270000000000000")


class RefusedByPython(TableTest):
    """Each refused vector sent to a Python endpoint: the Failure the Node endpoint sends."""

    def test_refused_vectors(self):
        table = self.connect()

        class Target:
            def send(self, text):
                return text

        registration = table.register("Vectors/python", Target())
        endpoint = registration.entry.endpoint
        for name in FILES:
            vector = load(name)
            if vector["type"] != "refused":
                continue
            with self.subTest(vector=vector["name"]):
                peer = RawPeer(endpoint, table.token)
                try:
                    peer.sock.sendall(bytes.fromhex(vector["frame"]))
                    body = peer.frame()
                    failure = runtable.decode(body)
                    self.assertEqual(failure["kind"], 41)
                    self.assertEqual((failure["id"], failure["error"]["code"]), (vector["answer"]["id"], vector["answer"]["code"]))
                    self.assertIn(b"bid" + runtable.encode(vector["answer"]["id"]), body)
                    if vector["closes"]:
                        self.assertIsNone(peer.frame(), "closed after the Failure")
                    else:
                        peer.send({"kind": 30, "id": 100, "target": 1, "method": "send", "args": ["still here"]})
                        reply = runtable.decode(peer.frame())
                        self.assertEqual((reply["kind"], reply["id"], reply["value"]), (40, 100, "still here"))
                finally:
                    peer.sock.close()


class RawPeer:
    """A peer that writes what it is told and reads frames itself."""

    def __init__(self, path: str, token: str):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(path)
        self.send({"kind": 1, "version": 2, "pid": os.getpid(), "token": token})
        welcome = runtable.decode(self.frame())
        assert welcome["kind"] == 2, welcome

    def send(self, message: dict) -> None:
        body = cbor2.dumps(message)
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def _exactly(self, count: int):
        data = b""
        while len(data) < count:
            part = self.sock.recv(count - len(data))
            if not part:
                return None
            data += part
        return data

    def frame(self):
        header = self._exactly(4)
        if header is None:
            return None
        return self._exactly(struct.unpack(">I", header)[0])


if __name__ == "__main__":
    unittest.main()
