"""An asyncio TLS server (asyncio's sslproto over an ssl.SSLContext) for bench/peers.mjs, standard
library only. It mirrors the tlskit and raw node:tls servers of bench/throughput.mjs and
bench/handshake.mjs, so the same Node client drives all of them:

  python3 python-asyncio.py throughput <cert.pem> <key.pem> <bytes>
      counts bytes, prints the rate once all arrived
  python3 python-asyncio.py handshake <cert.pem> <key.pem> <TLSv1.3|TLSv1.2>
      greets with one byte, closes with close_notify

Protocol with the parent, one JSON object a line: {"port": N} once listening; in throughput mode
{"mbps": X, "bytes": N} when the last byte arrived; in handshake mode each "count" line on stdin
is answered with {"connections": N}. The parent reads this process's CPU time from /proc.
"""

import asyncio
import json
import ssl
import sys
import time


def emit(value):
    print(json.dumps(value), flush=True)


def fail(message):
    print(f"python-asyncio: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


class Counter(asyncio.Protocol):
    """Counts bytes until `total`, timing from the first byte to the last like bench/throughput.mjs."""

    def __init__(self, total):
        self.total = total
        self.received = 0
        self.start = 0.0

    def data_received(self, data):
        if self.received == 0:
            self.start = time.perf_counter()
        self.received += len(data)
        if self.received >= self.total and self.start:
            seconds = time.perf_counter() - self.start
            emit({"mbps": self.total / seconds / 1e6, "bytes": self.received})
            self.start = 0.0


class Greeter(asyncio.Protocol):
    """One byte, then close(): sslproto flushes it, sends close_notify and waits for the client's."""

    connections = 0

    def connection_made(self, transport):
        Greeter.connections += 1
        transport.write(b"x")
        transport.close()


async def answer_counts():
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"count":
            emit({"connections": Greeter.connections})


async def main():
    if len(sys.argv) != 5:
        fail("usage: python-asyncio.py <throughput|handshake> <cert.pem> <key.pem> <bytes|TLSv1.3|TLSv1.2>")
    mode, cert_file, key_file, arg = sys.argv[1:]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as error:
        fail(f"loading {cert_file} and {key_file}: {error}")
    if mode == "throughput":
        if not arg.isdigit() or int(arg) <= 0:
            fail(f"bytes must be a positive integer, got {arg!r}")
        total = int(arg)
        factory = lambda: Counter(total)  # noqa: E731
    elif mode == "handshake":
        versions = {"TLSv1.3": ssl.TLSVersion.TLSv1_3, "TLSv1.2": ssl.TLSVersion.TLSv1_2}
        if arg not in versions:
            fail(f"version must be TLSv1.3 or TLSv1.2, got {arg!r}")
        context.maximum_version = versions[arg]
        factory = Greeter
    else:
        fail(f"mode must be throughput or handshake, got {mode!r}")
    loop = asyncio.get_running_loop()
    server = await loop.create_server(factory, "127.0.0.1", 0, ssl=context, backlog=512)
    emit({"port": server.sockets[0].getsockname()[1]})
    # Runs until stdin closes or the parent kills us, as the Node workers do.
    await answer_counts()


asyncio.run(main())
