"""A user-space delay element: an AF_PACKET bridge between two interfaces that holds every frame
for a fixed time before passing it on (this kernel has no ``netem``; FIELD_NOTES §4).

In: two interface names in the current network namespace and a one-way delay in ms (both ways,
or ``--one-way`` for frames arriving on the first interface only). Out: frames, late.

Why this is fast enough in Python: ``tests/shaped.py`` routes the link asymmetrically, so only
the client -> server direction (SYNs, requests, ACKs) crosses the bridge while the data path
(server -> client, shaped by tbf) stays in the kernel. ACKs are ~1 per 2-3 data segments: a few
thousand frames per second at 100 Mbit/s, which one Python loop forwards with ~0.1 ms jitter.
The RTT the client sees is the bridge's delay plus the veth's ~0.05 ms.

Frames are forwarded in arrival order (a fixed delay keeps order); reading drains every frame
ready on a socket before sleeping (a batch loop, like recvmmsg), and sending releases every frame
whose time has come. Memory is bounded: past ``MAX_QUEUE`` frames in flight new ones are dropped,
as a full router queue would.

Run in a namespace (root): ``ip netns exec NS python bench/delay.py IF_A IF_B --delay-ms 25``;
and, in the namespace of each interface that sends into the bridge,
``python bench/delay.py IF --offloads-off`` (see ``offloads_off``).
Prints ``ready`` on stdout once both sockets are bound; stops on SIGTERM.
"""

from __future__ import annotations

import argparse
import collections
import ctypes
import fcntl
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_IGNORE_OUTGOING = 23  # linux/if_packet.h: do not hand us the frames we send ourselves
SOL_PACKET = 263  # linux/socket.h (not exported by the socket module)
MAX_QUEUE = 65536
MAX_FRAME = 65536 + 64
RCVBUF = 8 * 1024 * 1024
SIOCETHTOOL = 0x8946
# linux/ethtool.h legacy "set" commands: tx checksumming, scatter-gather, TSO, GSO
_ETHTOOL_OFF = {"tx-checksum": 0x17, "sg": 0x19, "tso": 0x1F, "gso": 0x24}


def offloads_off(ifname: str) -> None:
    """Turn off checksum and segmentation offloads on ``ifname`` (this namespace), ethtool's
    ``-K IF tx off sg off tso off gso off`` without needing ethtool.

    Why: a veth leaves TCP checksums for the receiver to trust (CHECKSUM_PARTIAL); a frame that
    crosses an AF_PACKET bridge loses that mark and arrives with a wrong checksum, and a GSO
    frame may be 64 KB, larger than the next device accepts. Run it on the interface that
    *sends into* the bridge."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for cmd in _ETHTOOL_OFF.values():
            value = ctypes.create_string_buffer(struct.pack("II", cmd, 0))
            ifreq = struct.pack("16sP", ifname.encode(), ctypes.addressof(value))
            fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifreq)


def _open(ifname: str) -> socket.socket:
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
    sock.bind((ifname, 0))
    sock.setblocking(False)
    return sock


def bridge(if_a: str, if_b: str, delay_s: float, *, one_way: bool = False) -> None:
    """Forward frames a -> b (and b -> a unless ``one_way``) ``delay_s`` late, until SIGTERM."""
    a, b = _open(if_a), _open(if_b)
    peer = {a.fileno(): b, b.fileno(): a}
    delay = {a.fileno(): delay_s, b.fileno(): 0.0 if one_way else delay_s}
    # one FIFO per direction: a fixed delay per direction keeps each FIFO sorted by due time
    queues: dict[int, collections.deque[tuple[float, bytes]]] = {
        a.fileno(): collections.deque(),
        b.fileno(): collections.deque(),
    }
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print("ready", flush=True)
    poller = select.poll()
    for s in (a, b):
        poller.register(s.fileno(), select.POLLIN)
    clock = time.monotonic
    while running:
        now = clock()
        wait = 0.1
        for fd, queue in queues.items():
            out = peer[fd]
            while queue and queue[0][0] <= now:
                frame = queue.popleft()[1]
                try:
                    out.send(frame)
                except BlockingIOError:
                    queue.appendleft((now, frame))  # the tx queue is full: retry shortly
                    break
                except OSError:
                    pass  # a frame the device refuses (too large...): dropped, as a link would
            if queue:
                wait = min(wait, max(queue[0][0] - now, 0.0))
        try:
            events = poller.poll(wait * 1000.0)
        except InterruptedError:
            continue
        for fd, _ in events:
            sock = b if fd == b.fileno() else a
            queue = queues[fd]
            lag = delay[fd]
            while True:
                try:
                    frame = sock.recv(MAX_FRAME)
                except (BlockingIOError, InterruptedError):
                    break
                if len(queue) < MAX_QUEUE:
                    queue.append((clock() + lag, frame))
    a.close()
    b.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("if_a")
    parser.add_argument("if_b", nargs="?")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="one-way delay")
    parser.add_argument(
        "--offloads-off", action="store_true", help="only turn IF_A's offloads off, then exit"
    )
    parser.add_argument("--one-way", action="store_true", help="delay frames arriving on IF_A only")
    args = parser.parse_args(argv)
    if args.offloads_off:
        offloads_off(args.if_a)
        return 0
    if args.if_b is None:
        parser.error("IF_B is required to bridge")
    bridge(args.if_a, args.if_b, args.delay_ms / 1000.0, one_way=args.one_way)
    return 0


if __name__ == "__main__":
    sys.exit(main())
