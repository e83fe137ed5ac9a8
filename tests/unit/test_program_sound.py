"""The program's sound (collab/media/mixer.py): real av.AudioFrames in, in the formats aiortc and a
lesson video's decoder give, and the mix read back as samples and as a spectrum."""

from __future__ import annotations

import av
import numpy as np
import pytest

from collab.media.mixer import MAX_BACKLOG, PREBUFFER, Mixer

RATE = 48000


def tone(freq: float, seconds: float, *, rate: int = RATE, layout: str = "stereo", fmt: str = "s16",
         amplitude: float = 0.3, packet: float = 0.02) -> list[av.AudioFrame]:
    """A sine as a decoder hands it over: `packet`-second frames of `fmt` (s16 as aiortc, fltp as
    a decoded lesson video)."""
    t = np.arange(round(seconds * rate)) / rate
    wave = amplitude * np.sin(2 * np.pi * freq * t)
    channels = av.AudioLayout(layout).nb_channels
    step, frames = round(packet * rate), []
    for start in range(0, len(wave), step):
        part = np.tile(wave[start:start + step], (channels, 1))
        if fmt == "s16":  # packed: one row, channels interleaved
            data = (part.T.reshape(1, -1) * 32767).astype(np.int16)
        else:
            data = part.astype(np.float32)
        frame = av.AudioFrame.from_ndarray(data, format=fmt, layout=layout)
        frame.sample_rate = rate
        frames.append(frame)
    return frames


def level(value: float) -> av.AudioFrame:
    """20 ms of a constant `value`, fltp stereo 48 kHz (passes the resampler unchanged)."""
    out = av.AudioFrame.from_ndarray(np.full((2, 960), value, np.float32), format="fltp", layout="stereo")
    out.sample_rate = RATE
    return out


def play(mixer: Mixer, voices: dict[str, list[av.AudioFrame]], seconds: float) -> np.ndarray:
    """Real time, simulated: each voice's frames are pushed as they would arrive (one after the
    other, each when the previous one's duration has passed) and the program pulls every
    1024 / 48000 s. Returns what was pulled, from the first pull that was not silent."""
    events = [(0.0, 1, None, None)]  # (time, pushes before pulls, key, frame)
    for key, frames in voices.items():
        at = 0.0
        for frame in frames:
            if at < seconds:
                events.append((at, 0, key, frame))
            at += frame.samples / frame.sample_rate
    ticks = round(seconds * RATE / mixer.frame_samples)
    events += [(j * mixer.frame_samples / RATE, 1, None, None) for j in range(1, ticks)]
    pulled = []
    for _, is_pull, key, frame in sorted(events, key=lambda e: e[:2]):
        if is_pull:
            pulled.append(mixer.pull().to_ndarray())
        else:
            mixer.push(key, frame)
    while pulled and not pulled[0].any():
        pulled.pop(0)
    return np.concatenate(pulled, axis=1)


def peaks(samples: np.ndarray, *freqs: float) -> list[float]:
    """Each frequency's share of the spectrum's strongest bin (1.0: it is the loudest)."""
    spectrum = np.abs(np.fft.rfft(samples[0] * np.hanning(samples.shape[1])))
    bins = np.fft.rfftfreq(samples.shape[1], 1 / RATE)
    top = spectrum.max()
    return [spectrum[np.abs(bins - f) < 15].max() / top for f in freqs]


def test_silence_when_nobody_speaks_in_the_encoders_format():
    mixer = Mixer()
    first, second = mixer.pull(), mixer.pull()
    for frame in (first, second):
        assert (frame.samples, frame.format.name, frame.layout.name) == (1024, "fltp", "stereo")
        assert frame.sample_rate == RATE
        assert not frame.to_ndarray().any()
    assert (first.pts, second.pts) == (0, 1024)  # pts counts samples, for the encoder


def test_two_voices_are_both_heard():
    mix = play(Mixer(), {"presenter": tone(440, 0.5), "expert": tone(1000, 0.5, layout="mono")}, 0.5)
    low, high, between = peaks(mix, 440, 1000, 700)
    assert low > 0.5 and high > 0.5 and between < 0.05


@pytest.mark.parametrize("fmt, layout, rate", [("s16", "mono", 44100), ("fltp", "stereo", RATE),
                                               ("s16", "stereo", RATE), ("fltp", "mono", 24000)])
def test_any_format_rate_and_layout_comes_out_at_its_pitch(fmt, layout, rate):
    mix = play(Mixer(), {"lesson": tone(600, 0.5, rate=rate, layout=layout, fmt=fmt)}, 0.5)
    assert peaks(mix, 600) == [1.0]  # resampled, not played at the wrong speed
    assert np.abs(mix).max() == pytest.approx(0.3, abs=0.03)  # at its own level, on both channels
    assert np.allclose(mix[0], mix[1], atol=1e-3)


def test_a_source_that_changes_format_keeps_playing():
    frames = tone(600, 0.2, fmt="s16", layout="mono") + tone(600, 0.3, fmt="fltp", layout="stereo", rate=44100)
    mix = play(Mixer(), {"lesson": frames}, 0.5)
    assert peaks(mix, 600) == [1.0]
    assert np.abs(mix[:, -4096:]).max(axis=1).min() > 0.25  # the second format heard at its level, on both sides


def test_loud_voices_together_stay_within_full_scale_without_wrapping():
    # four people shouting in phase
    mix = play(Mixer(), {f"speaker{i}": tone(300, 0.3, amplitude=0.9) for i in range(4)}, 0.3)
    mix = mix[:, :np.flatnonzero(mix[0])[-1]]
    assert np.abs(mix).max() <= 1.0
    assert np.abs(mix).max() > 0.95  # loud, limited, not scaled down to a whisper
    single = 0.9 * np.sin(2 * np.pi * 300 * np.arange(mix.shape[1]) / RATE)
    strong = np.abs(single) > 0.2
    assert np.array_equal(np.sign(mix[0][strong]), np.sign(single[strong]))  # never wrapped to the other side


def test_two_loud_voices_are_bent_smoothly_not_flattened():
    voice = tone(300, 0.3, amplitude=0.6, fmt="fltp")
    mix = play(Mixer(), {"a": voice, "b": voice}, 0.3)
    mix = mix[0, :np.flatnonzero(mix[0])[-1]]
    summed = 1.2 * np.sin(2 * np.pi * 300 * np.arange(len(mix)) / RATE)
    assert 0.95 < mix.max() < 1.0
    # louder in means louder out, also above full scale: no flat tops (a hard clip's harsh distortion)
    values, first = np.unique(summed.round(6), return_index=True)  # ascending; a 300 Hz sine repeats its values
    over = first[values > 0.9]
    assert len(over) > 10 and np.all(np.diff(mix[over]) > 0)


def test_a_quiet_voice_passes_untouched():
    mix = play(Mixer(), {"presenter": tone(440, 0.3, fmt="fltp", amplitude=0.5)}, 0.3)
    t = np.arange(mix.shape[1]) / RATE
    voice = 0.5 * np.sin(2 * np.pi * 440 * t)
    assert np.allclose(mix[0], voice, atol=1e-6) and np.allclose(mix[1], voice, atol=1e-6)


def test_a_late_burst_is_trimmed_to_the_newest_sound():
    mixer = Mixer()
    for i in range(25):  # half a second arrives at once after a network stall: frame i holds i + 1
        mixer.push("expert", level((i + 1) / 100))
    assert mixer.buffered("expert") <= MAX_BACKLOG
    heard = []
    while (frame := mixer.pull().to_ndarray()[0]).any():
        heard.extend(frame[frame != 0])
    assert len(heard) <= MAX_BACKLOG * RATE  # never more than 200 ms behind
    assert heard[-1] == pytest.approx(0.25)  # the newest sound is what is played
    assert min(heard) > 0.1  # the oldest was dropped
    assert np.all(np.diff(heard) >= 0)  # in order, no old piece in between


def test_a_steady_voice_in_20ms_packets_plays_without_gaps():
    mixer = Mixer()
    # arrives every 20 ms; pulled every 1024 / 48000 s
    played = play(mixer, {"presenter": tone(440, 1.0, fmt="fltp")}, 1.0)[0]
    sent = 0.3 * np.sin(2 * np.pi * 440 * np.arange(len(played)) / RATE)
    assert np.allclose(played, sent, atol=1e-6)  # the whole voice, no silence punched into it
    assert len(played) >= (0.95 - PREBUFFER - 0.03) * RATE  # it started once the prebuffer was there
    assert mixer.buffered("presenter") <= PREBUFFER + 0.03  # and stayed that little behind


def test_a_removed_voice_stops_at_the_next_pull():
    mixer = Mixer()
    for frame in tone(440, 0.1):
        mixer.push("teacher", frame)
    assert mixer.pull().to_ndarray().any()
    mixer.remove("teacher")
    assert not mixer.pull().to_ndarray().any()
    assert mixer.buffered("teacher") == 0


def test_mono_program_and_other_frame_sizes():
    mixer = Mixer(layout="mono", frame_samples=960)
    for frame in tone(440, 0.1):
        mixer.push("presenter", frame)
    frame = mixer.pull()
    assert (frame.samples, frame.layout.name, frame.to_ndarray().shape) == (960, "mono", (1, 960))
