"""Captions: chunking, karaoke highlight, safe-area layout clear of the face, long words, scripts and emoji, SRT."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from render.captions import Box, CaptionStyle, CaptionTrack, blend_patch, chunk_words, safe_area
from render.types import WordTiming


def _timed(text: str, step_s: float = 0.4, length_s: float = 0.3, start_s: float = 0.0) -> list[WordTiming]:
    return [WordTiming(word, round(start_s + i * step_s, 3), round(start_s + i * step_s + length_s, 3)) for i, word in enumerate(text.split())]


def test_chunks_split_at_max_words_punctuation_and_pauses() -> None:
    words = _timed("one two three four five six. seven eight")
    words[7] = WordTiming("eight", 3.5, 3.8)          # a 0.6 s pause before "eight"
    chunks = chunk_words(words, max_words=4, pause_split_s=0.35)
    assert [c.text for c in chunks] == ["one two three four", "five six.", "seven", "eight"]
    assert chunks[0].start_s == 0.0 and chunks[0].end_s == 1.6           # until the next chunk starts
    assert chunks[2].end_s == pytest.approx(2.4 + 0.3 + 0.4)             # lingers 0.4 s, not over the pause
    assert all(len(c.words) <= 4 for c in chunks)


def test_comma_ends_a_chunk_of_two_or_more_words() -> None:
    chunks = chunk_words(_timed("so, here it is, the plan"), max_words=4)
    assert [c.text for c in chunks] == ["so, here it is,", "the plan"]


def test_highlighted_word_has_the_highlight_colour() -> None:
    style = CaptionStyle(shadow="")
    track = CaptionTrack(_timed("big bold words"), style=style)
    overlay = track.overlay_at(0.45)                     # "bold" is spoken
    assert overlay is not None
    rgba, x, y = overlay
    layout = track.layouts[0]
    yellow = np.all(np.abs(rgba[..., :3].astype(int) - [255, 212, 0]) < 8, axis=2) & (rgba[..., 3] > 250)
    white = np.all(rgba[..., :3] > 245, axis=2) & (rgba[..., 3] > 250)
    bold = next(p for p in layout.pieces if p.word_index == 1)
    big = next(p for p in layout.pieces if p.word_index == 0)
    assert yellow[:, bold.x_px: bold.x_px + bold.width_px].sum() > 200
    assert yellow[:, big.x_px: big.x_px + big.width_px].sum() == 0
    assert white[:, big.x_px: big.x_px + big.width_px].sum() > 200
    assert track.overlay_at(5.0) is None
    # the patch is cached: the same array for the same state
    assert track.overlay_at(0.5)[0] is rgba


@pytest.mark.parametrize("size", [(1080, 1920), (720, 1280), (1080, 1350), (540, 960)])
def test_boxes_stay_in_the_safe_area_and_clear_of_the_mouth(size: tuple[int, int]) -> None:
    width, height = size
    keep_out = Box(int(width * 0.35), int(height * 0.5), int(width * 0.3), int(height * 0.1))   # a mouth low in the frame
    text = "Stop scrolling! This one habit saved me $500 in a single month and it can save you too, honestly."
    track = CaptionTrack(_timed(text), frame_width_px=width, frame_height_px=height, keep_out=keep_out)
    area = safe_area(width, height)
    assert len(track.boxes()) >= 4
    for box in track.boxes():
        assert area.contains(box), (box, area)
        assert not box.intersects(keep_out), (box, keep_out)


def test_caption_goes_above_the_face_when_below_has_no_room() -> None:
    keep_out = Box(300, 900, 480, 330)       # reaches almost to the bottom of the safe area (1248)
    track = CaptionTrack(_timed("above the face please"), keep_out=keep_out)
    box = track.boxes()[0]
    assert box.bottom_px <= keep_out.y_px and safe_area(1080, 1920).contains(box)


def test_a_very_long_word_shrinks_or_wraps_to_fit() -> None:
    word = "Pneumonoultramicroscopicsilicovolcanoconiosis"
    track = CaptionTrack(_timed(word + " " + word * 2))
    area = safe_area(1080, 1920)
    assert all(area.contains(box) for box in track.boxes())
    assert track.layouts[0].size_px < 68
    rgba = track.overlay_at(0.1)[0]
    assert rgba.shape[1] <= area.width_px


def _ink(rgba: np.ndarray) -> np.ndarray:
    """The fill pixels (not outline/shadow) of a patch rendered with fill white."""
    return np.all(rgba[..., :3] > 200, axis=2) & (rgba[..., 3] > 200)


@pytest.mark.parametrize("text", ["Привет", "Γειά", "Ωμέγα"])
def test_non_latin_scripts_render_glyphs_not_boxes(text: str) -> None:
    style = CaptionStyle(shadow="", highlight="#FFFFFF")

    def ink(word: str) -> np.ndarray:
        return _ink(CaptionTrack([WordTiming(word, 0.0, 1.0)], style=style).overlay_at(0.5)[0])

    rendered = ink(text)
    boxes = ink("\u0378" * len(text))        # unassigned code points: the font's .notdef box, once per letter
    assert rendered.sum() > 300
    assert rendered.shape != boxes.shape or (rendered != boxes).mean() > 0.05


def test_emoji_render_in_colour() -> None:
    style = CaptionStyle(shadow="")
    rgba = CaptionTrack([WordTiming("wow 🎉🔥", 0.0, 1.0)], style=style).overlay_at(0.5)[0]
    colourful = (rgba[..., 3] > 200) & (np.ptp(rgba[..., :3].astype(int), axis=2) > 80)   # saturated, not white/black/yellow only
    yellow = np.all(np.abs(rgba[..., :3].astype(int) - [255, 212, 0]) < 30, axis=2)
    assert (colourful & ~yellow).sum() > 300


def test_srt_is_exact_for_a_small_input(tmp_path: Path) -> None:
    words = [WordTiming("Hello", 0.5, 0.9), WordTiming("there,", 0.95, 1.3), WordTiming("friend.", 1.4, 1.9),
             WordTiming("Bye", 3.0, 3.25), WordTiming("now", 3.3, 3.6)]
    track = CaptionTrack(words)
    path = track.write_srt(tmp_path / "reel.srt")
    assert path.read_text(encoding="utf-8") == (
        "1\n00:00:00,500 --> 00:00:01,400\nHello there,\n\n"
        "2\n00:00:01,400 --> 00:00:02,300\nfriend.\n\n"
        "3\n00:00:03,000 --> 00:00:04,000\nBye now\n"
    )


def test_sidecar_lists_boxes_and_timings(tmp_path: Path) -> None:
    track = CaptionTrack(_timed("one two three four five"), keep_out=(400, 700, 280, 150))
    data = json.loads(track.write_sidecar(tmp_path / "reel.captions.json").read_text())
    assert data["frame"] == {"width_px": 1080, "height_px": 1920}
    assert [c["text"] for c in data["chunks"]] == ["one two three four", "five"]
    assert data["chunks"][0]["box"] == {"x_px": track.boxes()[0].x_px, "y_px": track.boxes()[0].y_px,
                                        "width_px": track.boxes()[0].width_px, "height_px": track.boxes()[0].height_px}
    assert data["keep_out"] == {"x_px": 400, "y_px": 700, "width_px": 280, "height_px": 150}


def test_blend_patch_is_exact_and_only_touches_the_patch() -> None:
    frame = np.full((50, 60, 3), 100, np.uint8)
    patch = np.zeros((10, 10, 4), np.uint8)
    patch[..., 0] = 255
    patch[..., 3] = 255
    patch[:, 5:, 3] = 0
    patch[0, 0, 3] = 128
    blend_patch(frame, patch, 55, 45)          # clipped at the frame's edge
    assert frame[46, 56].tolist() == [255, 0, 0]
    assert frame[45, 55].tolist() == [178, 50, 50]        # round((255*128 + 100*127)/255), round(100*127/255)
    assert frame[44, 56].tolist() == [100, 100, 100]
    assert frame[46, 54].tolist() == [100, 100, 100]


def test_uppercase_style_and_sample_frame(tmp_path: Path) -> None:
    from PIL import Image

    track = CaptionTrack(_timed("this habit saved me $500 🎉"), style=CaptionStyle(uppercase=True), keep_out=(390, 700, 300, 160))
    frame = np.full((1920, 1080, 3), 128, np.uint8)
    blend_patch(frame, *track.overlay_at(0.5))
    Image.fromarray(frame).save(tmp_path / "sample.png")
    assert track.chunks[0].text == "this habit saved me"          # SRT/text keep the written case
    assert (frame != 128).any()
