"""The teachers who watch the program, as a sample: the audience benchmark's simulated LL-HLS viewers
(`benchmarks/audience/viewers.py`, what hls.js does at the live edge) that also note when each part
arrived, so the orchestrator can set it against when the part became available at the origin.

Ten thousand real players cannot run on the machine that runs the nodes; `--viewers` of these loops
run through nginx for the whole live activity instead, each with its own program key, and the exact
number of teachers told to watch the program is counted separately (teachers.py).
"""

from __future__ import annotations

import time

from benchmarks.audience.viewers import Viewer, Worker, WorkerSpec, epoch_of


class TimedViewer(Viewer):
    """A viewer that keeps (epoch, msn, part, wall time it arrived) for every part it fetched."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.arrivals: list[tuple[str, int, int, float]] = []

    async def _part(self, uri: str, which: tuple[int, int] | None) -> None:
        before = self.fetched
        await super()._part(uri, which)
        if which is not None and self.fetched != before and self.fetched == which:
            self.arrivals.append((epoch_of(uri), which[0], which[1], time.time()))


class TimedWorker(Worker):
    """The audience's viewer worker, with TimedViewers."""

    viewer_class = TimedViewer

    async def arrivals(self, _=None) -> list[dict]:
        """Each viewer's rung, the parts it fetched, in order, and (sampled viewers: all, with
        `sample_every` 1) when each of its blocking reloads was answered: (msn, part, wall time)."""
        return [{"rung": v.t.rung, "parts": v.arrivals, "answers": v.answers} for v in self.viewers]


def worker_main(pipe, spec: WorkerSpec) -> None:
    import os

    from benchmarks.stage.procs import serve

    if spec.nice:
        os.nice(spec.nice)
    serve(pipe, lambda: TimedWorker(spec))
