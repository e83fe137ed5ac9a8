"""What one RTP packet costs in aiortc's send path, each step timed on its own in this process.

RTCRtpSender._run_rtp, for a sender whose track gives `av.Packet`s (the collab relay), does per frame
`Vp8Encoder.pack` (the frame split into ~1,200-byte VP8 payloads) and, per payload: an `RtpPacket`
with the abs-send-time and mid header extensions (`clock.current_ntp_time()`, twice), `serialize`,
`RTCDtlsTransport._send_rtp` (libsrtp protect through pylibsrtp), aioice's `Connection.send` ->
`StunProtocol.send_data` -> the event loop's `transport.sendto` (the sendmsg syscall). The steps are
repeated here on real encoded frames of the benchmark's picture, with the SRTP profile two aiortc peers
negotiate (AEAD_AES_256_GCM) and uvloop's UDP transport over loopback. What the relay's loop thread
spends per packet beyond their sum is the rest: task switches and awaits between the steps, RTCP,
ICE consent, receiving the viewers' RTCP, the Feed.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time


def _per(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return 1e6 * (time.perf_counter() - t0) / n


async def _frames(count: int) -> list:
    from benchmarks.stage.media import StampedPicture
    from collab.media.relay import SharedVideoEncoder

    pic, enc, out = StampedPicture(), SharedVideoEncoder(), []
    for i in range(count):
        pic._start = time.time() - 10  # no pacing: frames as fast as they can be made
        out += enc.encode(await pic.recv(), i == 0)
    return out


async def _measure(repeat: int) -> dict:
    import pylibsrtp
    from aiortc import clock
    from aiortc.codecs import get_encoder
    from aiortc.rtcrtpparameters import (
        RTCRtpCodecParameters,
        RTCRtpHeaderExtensionParameters,
        RTCRtpParameters,
    )
    from aiortc.rtp import HeaderExtensionsMap, RtpPacket

    packets = await _frames(60)
    codec = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    packer = get_encoder(codec)
    payloads_per_frame = [len(packer.pack(p)[0]) for p in packets]
    per_frame_pack = _per(lambda: [packer.pack(p) for p in packets], max(1, repeat // 200)) / len(packets)
    payloads = [pl for p in packets for pl in packer.pack(p)[0]]
    ppf = sum(payloads_per_frame) / len(payloads_per_frame)

    ext_map = HeaderExtensionsMap()
    ext_map.configure(RTCRtpParameters(codecs=[codec], headerExtensions=[
        RTCRtpHeaderExtensionParameters(id=1, uri="urn:ietf:params:rtp-hdrext:sdes:mid"),
        RTCRtpHeaderExtensionParameters(id=2, uri="http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time")]))
    payload = payloads[1]

    def build() -> bytes:
        packet = RtpPacket(payload_type=96, sequence_number=1, timestamp=2)
        packet.ssrc = 1234
        packet.payload = payload
        packet.marker = 0
        packet.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
        packet.extensions.mid = "0"
        data = packet.serialize(ext_map)
        clock.current_ntp_time()  # the sender notes the NTP time of its last packet
        return data

    data = build()
    policy = pylibsrtp.Policy(key=os.urandom(44), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                              srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM)
    session = pylibsrtp.Session(policy)
    seq = [0]

    def protect() -> bytes:
        seq[0] = (seq[0] + 1) & 0xFFFF  # libsrtp refuses a replayed sequence number
        return session.protect(data[:2] + seq[0].to_bytes(2, "big") + data[4:])

    out = {"payloads_per_frame": round(ppf, 2), "payload_bytes": round(sum(map(len, payloads)) / len(payloads)),
           "vp8_pack_us": round(per_frame_pack / ppf, 2), "rtp_build_serialize_us": round(_per(build, repeat), 2),
           "srtp_protect_us": round(_per(protect, min(repeat, 60000)), 2)}

    # the syscall: uvloop's UDP transport to a loopback socket that is drained between batches
    loop = asyncio.get_running_loop()
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    rx.setblocking(False)
    transport, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0))
    addr, wire = rx.getsockname(), protect()
    spent, sent = 0.0, 0
    while sent < repeat:
        t0 = time.perf_counter()
        for _ in range(200):
            transport.sendto(wire, addr)
        spent += time.perf_counter() - t0
        sent += 200
        try:
            while True:
                rx.recv(2048)
        except BlockingIOError:
            pass
    transport.close()
    rx.close()
    out["udp_sendto_us"] = round(1e6 * spent / sent, 2)

    # one await chain as deep as the sender's (_send_rtp -> _send -> sendto), nothing suspending
    async def leaf() -> None:
        return None

    async def mid() -> None:
        await leaf()

    async def top() -> None:
        await mid()

    t0 = time.perf_counter()
    for _ in range(repeat):
        await top()
    out["await_chain_us"] = round(1e6 * (time.perf_counter() - t0) / repeat, 2)

    # a viewer's sender task woken once per frame (RelayTrack: Event.set -> the task runs)
    ev, woken = asyncio.Event(), [0]

    async def waiter() -> None:
        while True:
            await ev.wait()
            ev.clear()
            woken[0] += 1

    task = loop.create_task(waiter())
    await asyncio.sleep(0)
    rounds = max(1000, repeat // 10)
    t0 = time.perf_counter()
    for _ in range(rounds):
        ev.set()
        await asyncio.sleep(0)
    out["task_wakeup_per_frame_us"] = round(1e6 * (time.perf_counter() - t0) / rounds, 2)
    task.cancel()
    out["sum_per_packet_us"] = round(out["vp8_pack_us"] + out["rtp_build_serialize_us"] + out["srtp_protect_us"]
                                     + out["udp_sendto_us"] + out["await_chain_us"]
                                     + out["task_wakeup_per_frame_us"] / ppf, 2)
    return out


def measure(repeat: int = 20000) -> dict:
    """Runs in a child process (uvloop, like the relay); returns µs per packet for each step."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    q = ctx.Queue()

    def child() -> None:
        import uvloop

        try:
            q.put(uvloop.run(_measure(repeat)))
        except Exception as exc:  # noqa: BLE001 - reported
            q.put({"error": f"{type(exc).__name__}: {exc}"})

    p = ctx.Process(target=child, daemon=True)
    p.start()
    try:
        return q.get(timeout=120)
    finally:
        p.join(5)
        if p.is_alive():
            p.kill()
