"""Test clips made here with ffmpeg from the public-domain astronaut photo (never downloaded).

``handheld``: the photo drifting, turning slightly and zooming in and out like a phone held
in a hand; ``still``: a tripod; ``landscape``: the same, 16:9; ``cut``: two framings spliced
with a hard cut; ``faceless``: ffmpeg's test pattern; ``talking``: a photo reel of ours (the
mouth moves), for dubbing.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np


def astronaut_png(folder: Path) -> Path:
    from PIL import Image
    from skimage import data

    path = folder / "astronaut.png"
    if not path.exists():
        Image.fromarray(data.astronaut()).save(path)
    return path


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


def _source(folder: Path) -> Path:
    """The astronaut 3x, with room above the head (the photo's face is near its top edge)."""
    path = folder / "astronaut-tall.png"
    if not path.exists():
        _ffmpeg("-i", str(astronaut_png(folder)), "-vf", "scale=1536:1536:flags=bicubic,pad=1536:1936:0:400:color=0x5a6470",
                "-frames:v", "1", str(path))
    return path


def make_clip(folder: Path, name: str, *, seconds: float = 12.0, size: tuple[int, int] = (720, 1280), motion: str = "handheld",
              fps: int = 30, extra: tuple[str, ...] = ()) -> Path:
    """A clip of the astronaut: face about 290 px tall, centred near 40 % of the height."""
    width, height = size
    out = folder / name
    cx, cy = 615, 715                       # the face centre in the tall source
    x0, y0 = cx - width // 2, cy - int(0.4 * height)
    if motion == "handheld":
        # zooming (the phone drifts nearer and away by 4 %), turning and moving, as a hand holds a phone
        zoom = "(1+0.04*sin(2*PI*t/4.7))"
        vf = (f"scale=w='trunc(1536*{zoom}/2)*2':h='trunc(1936*{zoom}/2)*2':eval=frame,"
              f"rotate=0.035*sin(2*PI*t/3.7):fillcolor=0x5a6470,"
              f"crop={width}:{height}:{x0}*{zoom}+36*sin(2*PI*t/5.3)+9*sin(2*PI*t/1.3):{y0}*{zoom}+24*sin(2*PI*t/4.1)+7*sin(2*PI*t/1.7)")
    else:
        vf = f"crop={width}:{height}:{x0}:{y0}"
    _ffmpeg("-loop", "1", "-framerate", str(fps), "-i", str(_source(folder)), "-t", f"{seconds}", "-vf", vf + ",format=yuv420p",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", *extra, str(out))
    return out


def make_cut_clip(folder: Path, name: str = "cut.mp4") -> Path:
    """Two shots spliced: the face, then (at 4 s) a different part of the picture with the face elsewhere."""
    first = make_clip(folder, "cut-a.mp4", seconds=4.0, motion="still")
    second = folder / "cut-b.mp4"
    _ffmpeg("-loop", "1", "-framerate", "30", "-i", str(_source(folder)), "-t", "4", "-vf", "crop=720:1280:700:600,format=yuv420p",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", str(second))
    out = folder / name
    listing = folder / "cut.txt"
    listing.write_text(f"file '{first}'\nfile '{second}'\nfile '{first}'\n")
    _ffmpeg("-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(out))
    return out


def make_faceless_clip(folder: Path, name: str = "faceless.mp4") -> Path:
    out = folder / name
    _ffmpeg("-f", "lavfi", "-i", "testsrc2=size=720x1280:rate=30", "-t", "6", "-pix_fmt", "yuv420p", "-c:v", "libx264",
             "-preset", "ultrafast", str(out))
    return out


def tone_wav(path: Path, seconds: float = 3.0, rate: int = 16000) -> Path:
    """A syllable-like buzz (voiced bursts at 4 Hz) the avatar can lip-sync to."""
    import wave

    t = np.arange(int(seconds * rate)) / rate
    voice = np.sin(2 * np.pi * 140 * t) + 0.5 * np.sin(2 * np.pi * 280 * t)
    bursts = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    samples = (0.3 * voice * bursts * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(samples.tobytes())
    return path
