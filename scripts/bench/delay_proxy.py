#!/usr/bin/env python3
"""A TCP proxy on loopback that delays every byte by --delay-ms in each direction (round trip
+2 x delay), for benchmarks of DICOM transfers as they behave over a WAN on one machine.

    delay_proxy.py --listen 127.0.0.1:21112 --to 127.0.0.1:11112 --delay-ms 10

Bytes are forwarded in order, each chunk no earlier than delay-ms after it was read; reading
goes on meanwhile (the link is a pipe with latency, not a stop-and-wait). TCP_NODELAY on every
socket. Any number of connections; stops on SIGINT/SIGTERM.
"""
import argparse
import asyncio
import signal
import socket
import time


def address(text):
    host, port = text.rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("loopback addresses only")
    return host, int(port)


async def pump(reader, writer, delay):
    queue = asyncio.Queue()

    async def forward():
        while True:
            due, chunk = await queue.get()
            if chunk is None:
                break
            wait = due - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(chunk)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(forward())
    try:
        while True:
            chunk = await reader.read(1 << 18)
            if not chunk:
                break
            await queue.put((time.monotonic() + delay, chunk))
    except (ConnectionError, OSError):
        pass
    await queue.put((0, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass


async def serve(listen, to, delay):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(*to)
        except OSError:
            client_writer.close()
            return
        for w in (client_writer, server_writer):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.gather(pump(client_reader, server_writer, delay), pump(server_reader, client_writer, delay))

    server = await asyncio.start_server(handle, *listen)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    async with server:
        await stop.wait()


ap = argparse.ArgumentParser()
ap.add_argument("--listen", required=True)
ap.add_argument("--to", required=True)
ap.add_argument("--delay-ms", type=float, default=10)
a = ap.parse_args()
asyncio.run(serve(address(a.listen), address(a.to), a.delay_ms / 1000))
