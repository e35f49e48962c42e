"""A local HTTPS receiver standing in for the bureau's endpoint, with a self-signed certificate
made here at run time (nothing of it is a fixture file). It checks each request's signature,
dedupes on the delivery id as a real receiver would, and can be taken down (503) and back."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from reports.bureau_destinations import verify


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, written into `folder`."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "riskmon test receiver")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "receiver.pem", folder / "receiver.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@dataclass
class Received:
    delivery_id: str
    package: str
    subject: str
    signed_at: int
    body: bytes


@dataclass
class Receiver:
    url: str
    ca_file: Path
    key: bytes
    up: bool = True
    accepted: list[Received] = field(default_factory=list)  # first arrivals, in order
    duplicates: int = 0
    refused: int = 0  # while down, or a bad signature
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, package: str) -> list[Received]:
        return [r for r in self.accepted if r.package == package]


@contextmanager
def receiver(folder: Path, key: bytes) -> Iterator[Receiver]:
    cert, private = self_signed(folder)
    state: Receiver

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            delivery = self.headers["X-Riskmon-Delivery"]
            with state.lock:
                if not state.up:
                    state.refused += 1
                    return self._answer(503, {"error": "down"})
                try:
                    signed = verify(state.key, self.headers["X-Riskmon-Signature"], delivery, body)
                except ValueError:
                    state.refused += 1
                    return self._answer(401, {"error": "signature"})
                if any(r.delivery_id == delivery for r in state.accepted):
                    state.duplicates += 1
                else:
                    state.accepted.append(
                        Received(
                            delivery,
                            self.headers["X-Riskmon-Package"],
                            self.headers["X-Riskmon-Subject"],
                            signed,
                            body,
                        )
                    )
            self._answer(200, {"ack": f"bureau-{delivery[:8]}"})

        def _answer(self, status: int, body: dict[str, str]) -> None:
            data = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, private)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    state = Receiver(f"https://127.0.0.1:{server.server_address[1]}/riskmon", cert, key)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
