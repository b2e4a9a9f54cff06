"""A redis-server that speaks only TLS and wants a client certificate, as a managed Redis often does.

``openssl`` makes a throwaway CA, a server certificate for 127.0.0.1 and a client certificate, so the
client verifies the server (CA and host name) and the server verifies the client: the checks a
clinic's remote Redis would make, on this machine.
"""

from __future__ import annotations

import socket
import ssl
import subprocess
from pathlib import Path
from types import TracebackType

from server.redis_tls import RedisTls
from tests.redis_server import free_port, spawn, wait_until

EC_KEY = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"


def _openssl(command: str, cwd: Path) -> None:
    """One openssl command (its arguments hold no spaces), in ``cwd``."""
    subprocess.run(["openssl", *command.split()], cwd=cwd, check=True, capture_output=True)


def _signed(directory: Path, name: str, common_name: str, extensions: str) -> None:
    """``name``.key and ``name``.pem, signed by the CA in ``directory``."""
    (directory / f"{name}.ext").write_text(extensions + "\n")
    _openssl(f"req -new {EC_KEY} -keyout {name}.key -out {name}.csr -subj /CN={common_name}", directory)
    signing = "-CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
    _openssl(f"x509 -req -in {name}.csr {signing} -out {name}.pem -extfile {name}.ext", directory)


def make_certificates(directory: Path) -> None:
    """ca.pem, server.pem/.key (127.0.0.1 and localhost) and client.pem/.key, in ``directory``."""
    _openssl(f"req -x509 -new {EC_KEY} -keyout ca.key -out ca.pem -days 2 -subj /CN=hearth-test-ca", directory)
    _signed(directory, "server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    _signed(directory, "client", "hearth-node", "extendedKeyUsage=clientAuth")


class TlsRedis:
    """``redis-server`` with TLS only (no plain-text port) and ``tls-auth-clients yes``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    @property
    def tls(self) -> RedisTls:
        d = self.directory
        return RedisTls(ca=str(d / "ca.pem"), cert=str(d / "client.pem"), key=str(d / "client.key"))

    def answers(self) -> bool:
        """A PING over TLS with the client certificate."""
        context = ssl.create_default_context(cafile=self.tls.ca)
        context.load_cert_chain(str(self.tls.cert), self.tls.key)
        try:
            with (
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1") as sock,
            ):
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def __enter__(self) -> TlsRedis:
        make_certificates(self.directory)
        d = self.directory
        args = ["redis-server", "--port", "0", "--tls-port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--tls-cert-file", str(d / "server.pem"), "--tls-key-file", str(d / "server.key")]
        args += ["--tls-ca-cert-file", str(d / "ca.pem"), "--tls-auth-clients", "yes"]
        args += ["--save", "", "--appendonly", "no", "--loglevel", "warning"]
        self.process = spawn(args)
        wait_until(self.answers, f"redis-server with TLS on port {self.port} did not start")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=5)
