"""Bad input refused by the Python client as the Node side refuses it, with the same codes:
oversized and empty frames, forbidden CBOR tags, indefinite strings, trailing bytes, 8-byte
integers in message fields. (The refused vectors of docs/vectors/ go to a live Python endpoint
in test_vectors.py; this file covers the decoder and the client's side of a connection.)"""

import os
import socket
import struct
import tempfile
import threading
import unittest

import cbor2

from support import runtable


def code_of(action) -> str:
    try:
        action()
    except runtable.RuntableError as error:
        return error.code
    raise AssertionError("nothing was refused")


class Decoder(unittest.TestCase):
    def test_forbidden_tags_are_undecodable(self):
        for tag in (6, 28, 29, 51, 25, 256, 4, 5, 14, 15, 27, 30, 35, 36, 37, 105, 216, 255, 260, 261, 27647, 57337, 0xDFFF, 0x53687264):
            with self.subTest(tag=tag):
                data = cbor2.dumps(cbor2.CBORTag(tag, 0))
                self.assertEqual(code_of(lambda: runtable.decode(data)), "PROTOCOL")
        # The tags of the protocol pass.
        self.assertEqual(runtable.decode(bytes.fromhex("d9010281 01")), {1})

    def test_malformed_bytes_are_undecodable(self):
        for hex_ in ("0100", "a3646b696e641820", "7f6161ff", "5f4101ff", "ff", "1c", "c11b0000000000000005", ""):
            with self.subTest(bytes=hex_):
                self.assertEqual(code_of(lambda: runtable.decode(bytes.fromhex(hex_))), "PROTOCOL")

    def test_references_only_on_call_connections(self):
        self.assertEqual(code_of(lambda: runtable.decode(bytes.fromhex("d95275820001"))), "PROTOCOL")
        self.assertEqual(runtable.decode(bytes.fromhex("d95275820001"), allow_references=True), runtable.Reference(0, 1))

    def test_message_fields_in_the_8_byte_form_are_malformed(self):
        for field in ("id", "target"):
            message = {"kind": 30, "id": 7, "target": 1, "method": "m", "args": []}
            body = bytearray(cbor2.dumps(message))
            # Rewrite one field's value as an 8-byte integer.
            key = cbor2.dumps(field) + cbor2.dumps(message[field])
            at = body.index(key) + len(cbor2.dumps(field))
            body[at:at + 1] = b"\x1b" + message[field].to_bytes(8, "big")
            with self.subTest(field=field):
                self.assertEqual(code_of(lambda: runtable.to_message(runtable.decode(bytes(body)))), "PROTOCOL")
        # Any shorter form of the same value is taken by value.
        self.assertEqual(runtable.to_message(runtable.decode(bytes.fromhex("a2646b696e641820646361 6c6c190007")))["call"], 7)


class ClientSide(unittest.TestCase):
    """A fake accepting side that misbehaves during the handshake."""

    def serve(self, answer: bytes) -> str:
        directory = tempfile.mkdtemp(prefix="rt-", dir="/tmp")
        path = os.path.join(directory, "fake.sock")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        self.received: list[bytes] = []

        def run():
            peer, _ = server.accept()
            peer.recv(4096)
            peer.sendall(answer)
            peer.settimeout(5)
            data = b""
            try:
                while chunk := peer.recv(4096):
                    data += chunk
            except OSError:
                pass
            self.received.append(data)
            peer.close()
            server.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.addCleanup(lambda: (os.path.exists(path) and os.unlink(path), os.rmdir(directory)))
        return path

    def connect(self, path):
        return runtable.Connection.connect(path, "0" * 64, "fake", "TABLE_UNAVAILABLE", 5)

    def test_an_oversized_frame_is_refused_before_it_is_read(self):
        path = self.serve(struct.pack(">I", runtable.MAX_FRAME_BYTES + 1))
        self.assertEqual(code_of(lambda: self.connect(path)), "FRAME_TOO_LARGE")
        self.thread.join(10)
        failure = runtable.decode(self.received[0][4:])
        self.assertEqual((failure["kind"], failure["id"], failure["error"]["code"]), (41, 0, "FRAME_TOO_LARGE"))

    def test_an_empty_frame_is_a_protocol_error(self):
        path = self.serve(struct.pack(">I", 0))
        self.assertEqual(code_of(lambda: self.connect(path)), "PROTOCOL")

    def test_a_refused_hello_reports_the_peers_code(self):
        failure = cbor2.dumps({"kind": 41, "id": 0, "error": {"code": "ACCESS_DENIED", "message": "no token"}})
        path = self.serve(struct.pack(">I", len(failure)) + failure)
        self.assertEqual(code_of(lambda: self.connect(path)), "ACCESS_DENIED")

    def test_a_welcome_of_another_version_is_refused(self):
        welcome = cbor2.dumps({"kind": 2, "version": 1, "pid": 1})
        path = self.serve(struct.pack(">I", len(welcome)) + welcome)
        self.assertEqual(code_of(lambda: self.connect(path)), "PROTOCOL")


if __name__ == "__main__":
    unittest.main()
