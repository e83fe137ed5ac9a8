"""Where the relay process's time goes, from a py-spy raw profile (`record -f raw --threads --native`).

Samples in which a thread waits (GIL, a lock, a queue, epoll) are dropped. The rest are split by thread
(the event loop thread, the decoder thread, the thread pool that runs the shared encoder) and, for the
event loop thread, two ways:

- task: the outermost Python frame the loop called (RTCRtpSender._run_rtp sends RTP to one viewer,
  _run_rtcp its RTCP, RTCDtlsTransport.__run reads what a peer sent, aioice answers STUN and checks
  consent, Feed._run hands encoded packets to the RelayTracks, ...);
- operation: the innermost recognised frame (the sendmsg syscall, libsrtp, building and serialising the
  RTP packet, VP8 packetizing, ...), so "UDP send" is the syscall wherever it was called from.

The profile is taken in a window of its own after the last measured step (py-spy costs the process
time, and with --native it pauses it for every sample: a paused relay falls behind and, see the README,
does not catch up); its shares are applied to the loop thread's CPU measured in that step. Without
--native, time in C (libsrtp, the sendto syscall) is charged to the Python frame that called it, which
is what the operation patterns below look for.
"""

from __future__ import annotations

from collections import Counter

IDLE = ("pthread_cond_timedwait", "pthread_cond_wait", "PyThread_acquire_lock_timed", "epoll_pwait",
        "epoll_wait", "sem_wait", "sem_timedwait", "take_gil", "drop_gil", "_queue_SimpleQueue_get_impl",
        "lock_PyThread_acquire_lock", "select (", "poll (", "nanosleep", "Condition.wait", "_worker (concurrent")

# innermost first: the first of these found walking a stack from its leaf names the operation
OPS = [
    ("UDP send: transport.sendto, the sendmsg syscall (from aioice StunProtocol.send_data)",
     ("sendmsg (", "sendto (libc", "uv__udp_try_send", "uv__udp_sendmsg", "StunProtocol.send_data")),
    ("UDP receive syscall (recvmsg)", ("recvmsg (", "recvfrom (libc")),
    ("SRTP/SRTCP encrypt/decrypt (libsrtp via pylibsrtp)", ("pylibsrtp", "srtp_", "_cffi_f_srtp")),
    ("STUN messages (aioice: build, parse, HMAC)", ("aioice/stun.py", "Message.", "HMAC", "hmac")),
    ("VP8 packetize (Vp8Encoder.pack)", ("aiortc/codecs/vpx.py",)),
    ("RTCP build/parse (aiortc/rtp.py Rtcp*)", ("Rtcp", "unpack_remb", "pack_remb")),
    ("RTP packet build + serialize, abs-send-time clock (aiortc/rtp.py, clock.py)",
     ("aiortc/rtp.py", "aiortc/clock.py", "current_datetime", "datetime_")),
    ("ICE send/receive path in Python (aioice/ice.py)", ("aioice/ice.py",)),
    ("DTLS transport in Python (rtcdtlstransport.py)", ("rtcdtlstransport.py",)),
    ("RelayTrack / Feed (collab/media/relay.py)", ("collab/media/relay.py",)),
    ("MediaRelay (aiortc/contrib/media.py)", ("aiortc/contrib/media.py",)),
    ("VP8 encode (libvpx)", ("libvpx", "CodecContext_encode", "encode (av")),
    ("VP8 decode (libvpx)", ("CodecContext_decode",)),
    ("RTP receiver, jitter buffer (rtcrtpreceiver.py, jitterbuffer.py)", ("rtcrtpreceiver.py", "jitterbuffer.py")),
    ("RTP sender loop itself (rtcrtpsender.py)", ("rtcrtpsender.py",)),
    ("asyncio machinery (tasks, futures, queues, events)", ("asyncio/", "task_step", "_asyncio", "future_")),
    ("uvloop itself (callbacks, timers, handles)", ("uvloop", "uv_", "uv__", "Loop__", "Handle__", "loop.c")),
]

TASKS = [
    ("RTP to viewers (RTCRtpSender._run_rtp)", ("RTCRtpSender._run_rtp",)),
    ("RTCP to peers (RTCRtpSender._run_rtcp, RTCRtpReceiver._run_rtcp)", ("RTCRtpSender._run_rtcp",
                                                                         "RTCRtpReceiver._run_rtcp")),
    ("packets in: RTCP from viewers, RTP from the publisher (RTCDtlsTransport.__run)", ("RTCDtlsTransport.__run",)),
    ("ICE: STUN in, consent checks out (aioice)", ("StunProtocol.datagram_received", "Connection.query_consent",
                                                   "Connection.check", "Transaction.")),
    ("Feed: shared-encoder handoff, RelayTrack.push (collab.media.relay)", ("Feed._run",)),
    ("MediaRelay: frames to each viewer's queue (aiortc.contrib.media)", ("MediaRelay.", "RelayStreamTrack.")),
]


def _fn(frame: str) -> str:
    return frame.split(" (")[0]


def _idle(frames: list[str]) -> bool:
    tail = frames[-4:]
    return any(m in f for f in tail for m in IDLE)


def _thread(head: str) -> str:
    if "MainThread" in head:
        return "event loop thread"
    if "decoder" in head:
        return "decoder thread (publisher's video)"
    return "thread pool (shared encoder; aiortc encoders in the baseline)"


def _op(frames: list[str]) -> str:
    for f in reversed(frames):
        for name, pats in OPS:
            if any(p in f for p in pats):
                return name
    return "other"


def _task(frames: list[str]) -> str:
    if not any("Runner.run" in f or "run_until_complete" in f for f in frames):
        return "stack cut short (py-spy --nonblocking read it while it changed)"
    for f in frames:  # outermost first
        for name, pats in TASKS:
            if any(p in f for p in pats):
                return name
    return "event loop and other callbacks"


def summarize(text: str) -> dict:
    threads: Counter = Counter()
    ops: Counter = Counter()
    tasks: Counter = Counter()
    rtp_ops: Counter = Counter()
    total = idle = 0
    for line in text.splitlines():
        stack, _, n = line.rstrip().rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        frames = stack.split(";")
        total += count
        if _idle(frames):
            idle += count
            continue
        th = _thread(frames[0])
        threads[th] += count
        if th != "event loop thread":
            continue
        op = _op(frames)
        ops[op] += count
        task = _task(frames)
        tasks[task] += count
        if task.startswith("RTP to viewers"):
            rtp_ops[op] += count
    loop = threads["event loop thread"]

    def shares(c: Counter, of: int) -> list[list]:
        return [[k, round(v / of, 4)] for k, v in c.most_common()] if of else []

    return {"samples": total, "idle_samples": idle, "busy_samples_by_thread": dict(threads.most_common()),
            "loop_tasks": shares(tasks, loop), "loop_ops": shares(ops, loop),
            "rtp_send_ops": shares(rtp_ops, sum(rtp_ops.values()))}
