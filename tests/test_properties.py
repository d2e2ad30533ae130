"""Property-based tests (hypothesis): whatever bad input reaches a loader or an upload handler ends in that
loader's own error type with a one-line message naming the input, within a bounded time — never another
exception, never a hang.

Run it as a fuzzing session for as long as you like: ``REELTWIN_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest -q
tests/test_properties.py`` (the default, 60 examples per property, keeps the fast tier fast).
"""

from __future__ import annotations

import os
import string
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis", reason="hypothesis is in the dev extra: make install")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from agent.errors import CalendarError, ConfigError  # noqa: E402

EXAMPLES = int(os.environ.get("REELTWIN_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
                database=None)

# YAML-ish text: the characters calendars are made of, plus a few that break parsers.
YAMLISH = st.text(alphabet=string.ascii_letters + string.digits + " \t\n:-#&*!|>'\"[]{},.%@`\\?" + "\x00\x1b\u202e\ufeffé😀", max_size=400)
KEYS = st.sampled_from(["handle", "timezone", "persona", "pillars", "cadence", "briefs", "backlog", "one_off", "hashtags", "approval",
                        "name", "weight", "days", "time", "brief", "points", "must_say", "language", "cta", "call_to_action", "x"])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**30, max_value=10**30), st.floats(allow_nan=True),
                    st.text(max_size=60), st.sampled_from(["Europe/Berlin", "mon", "09:30", "25:99", "2026-02-30", "@@@"]))
TREES = st.recursive(SCALARS, lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(KEYS, children, max_size=5)),
                     max_leaves=25)


def _one_line(message: str) -> None:
    assert message and "\n" not in message.strip() or message.count("\n") < 40, message[:500]
    assert "Traceback" not in message


@FUZZ
@given(text=YAMLISH)
def test_calendar_loader_on_any_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    from agent.content_calendar.loader import load_calendar

    path = tmp_path_factory.mktemp("cal") / "fuzz.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        load_calendar(path)
    except CalendarError as error:
        lines = str(error).splitlines()
        if len(lines) > 1:
            assert lines[0].endswith("problems:"), lines[0]
            lines = lines[1:]
        for line in lines:
            assert str(path) in line, line
            assert len(line) < 600, line


def test_an_octal_looking_number_is_a_calendar_error_on_its_line(tmp_path: Path) -> None:
    """Found by the property above: PyYAML builds ``08`` as an octal int and raised ValueError out of the loader."""
    from agent.content_calendar.loader import load_calendar

    path = tmp_path / "c.yaml"
    path.write_text("handle: x\ntimezone: Europe/Berlin\ncadence:\n  days: [mon]\n  time: 08\n", encoding="utf-8")
    with pytest.raises(CalendarError, match=r"c.yaml:5: '08' cannot be read as a number or a date; put it in quotes"):
        load_calendar(path)


@FUZZ
@given(tree=st.dictionaries(KEYS, TREES, max_size=8))
def test_calendar_loader_on_any_structure(tmp_path_factory: pytest.TempPathFactory, tree: dict) -> None:
    import yaml

    from agent.content_calendar.loader import load_calendar

    path = tmp_path_factory.mktemp("cal") / "fuzz.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    try:
        load_calendar(path)
    except CalendarError as error:
        assert all(len(line) < 600 for line in str(error).splitlines())


SETTING_KEYS = st.sampled_from(["[drafting]\ntemperature", "[drafting]\nmax_tokens", "[scheduler]\nmax_attempts", "[scheduler]\npublish_lease_minutes",
                                "[avatar]\nfps", "[avatar]\nwidth", "[web]\nport", "[web]\nmax_upload_mb", "[captions]\nfont_size_px",
                                "[voice]\nbackend", "[database]\nurl", "[publishing]\nbackend", "[nonsense]\nkey", "[avatar]\nbogus"])
TOML_VALUES = st.one_of(st.integers(min_value=-10**20, max_value=10**20).map(str), st.floats(allow_nan=False).map(repr),
                        st.text(alphabet=string.printable, max_size=30).map(lambda t: '"' + t.replace("\\", "\\\\").replace('"', '\\"') + '"'),
                        st.sampled_from(["true", "[1, 2]", "{a = 1}", "nan", "inf", "'''x'''", "= =", ""]))


@FUZZ
@given(entries=st.lists(st.tuples(SETTING_KEYS, TOML_VALUES), max_size=4))
def test_settings_on_any_values(tmp_path_factory: pytest.TempPathFactory, entries: list[tuple[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.settings import load_settings

    for name in [key for key in os.environ if key.upper().startswith("REELTWIN_")]:
        monkeypatch.delenv(name)
    project = tmp_path_factory.mktemp("proj")
    (project / "config").mkdir()
    (project / "config" / "settings.toml").write_text("\n".join(f"{key} = {value}" for key, value in entries) + "\n", encoding="utf-8")
    try:
        load_settings(project)
    except ConfigError as error:
        assert str(error).strip() and "Traceback" not in str(error)


@FUZZ
@given(text=st.text(max_size=2000), budget=st.integers(min_value=1, max_value=400))
def test_the_script_cleaner_never_fails_and_stays_in_budget(text: str, budget: int) -> None:
    from agent.drafting.writer import spoken_only, trim_to_budget

    spoken = spoken_only(text)
    assert isinstance(spoken, str)
    trimmed = trim_to_budget(spoken, budget)
    assert len(trimmed.split()) <= max(budget, 1) + 1 or len(spoken.split()) <= budget


@FUZZ
@given(tags=st.one_of(st.lists(st.text(max_size=40), max_size=40), st.text(max_size=300), st.none(), st.integers()),
       allowed=st.lists(st.text(max_size=20), max_size=5), limit=st.integers(min_value=0, max_value=100))
def test_hashtags_are_always_real_tags(tags: object, allowed: list[str], limit: int) -> None:
    from agent.drafting.writer import normalise_hashtags

    result = normalise_hashtags(tags, allowed, limit)
    assert len(result) <= min(limit, 30)
    for tag in result:
        assert tag.startswith("#") and " " not in tag and len(tag) <= 101


@FUZZ
@given(head=st.binary(max_size=64))
def test_upload_sniffers_answer_a_suffix_or_none(head: bytes) -> None:
    from agent.web.uploads import sniff_audio, sniff_avatar, sniff_photo, sniff_video

    for sniff in (sniff_photo, sniff_video, sniff_avatar, sniff_audio):
        answer = sniff(head)
        assert answer is None or (answer.startswith(".") and len(answer) <= 6)


# Files that claim to be media: a real header with garbage after it, or garbage alone.
HEADERS = st.sampled_from([b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"RIFF\x00\x00\x00\x00WEBPVP8 ", b"RIFF\x00\x00\x00\x00WAVEfmt ",
                           b"\x00\x00\x00\x18ftypisom", b"\x00\x00\x00\x18ftypqt  ", b"\x1a\x45\xdf\xa3", b"ID3\x03", b"OggS", b"fLaC"])


@settings(max_examples=max(8, EXAMPLES // 4), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], database=None)
@given(head=HEADERS, body=st.binary(max_size=3000))
def test_media_loaders_on_any_bytes(tmp_path_factory: pytest.TempPathFactory, head: bytes, body: bytes) -> None:
    """Photo, audio and clip loaders: their own error with one line, or a result — within seconds."""
    import time

    from render.face.analysis import PhotoError, load_photo
    from render.face.footage import FootageError, probe_clip
    from render.media.audio import read_mono

    folder = tmp_path_factory.mktemp("media")
    data = head + body
    started = time.monotonic()
    photo = folder / "upload.png"
    photo.write_bytes(data)
    try:
        load_photo(photo)
    except PhotoError as error:
        assert "\n" not in str(error) and str(photo) in str(error)
    clip = folder / "upload.mp4"
    clip.write_bytes(data)
    try:
        probe_clip(clip, label="clip 'upload.mp4'")
    except FootageError as error:
        assert "\n" not in str(error) and str(error).startswith("clip 'upload.mp4'")
    sample = folder / "upload.wav"
    sample.write_bytes(data)

    class SampleError(Exception):
        pass

    try:
        read_mono(sample, error=SampleError, label="sample 'upload.wav'", fix="record it again", timeout_s=20)
    except SampleError as error:
        assert "\n" not in str(error).strip() and str(error).startswith("sample 'upload.wav'")
    assert time.monotonic() - started < 30


# --------------------------------------------------------------------------- text fields of a reel (issue 17)


@FUZZ
@given(text=st.text(max_size=300))
def test_clean_text_keeps_no_control_or_bidi_character(text: str) -> None:
    from agent.approval.queue import clean_text

    cleaned = clean_text(text, field="hook", limit=10_000)
    assert not any(0x00 <= ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069
                   or c == "\ufeff" for c in cleaned)
    assert cleaned == cleaned.strip()


def test_text_fields_are_bounded_and_cleaned(tmp_path: Path) -> None:
    from agent.approval.queue import MAX_TITLE_CHARS, ValidationFailed, _fit, clean_hashtags, clean_text

    with pytest.raises(ValidationFailed, match=r"the on-screen title is 500,000 characters; keep it under 100"):
        clean_text("x" * 500_000, field="on-screen title", limit=MAX_TITLE_CHARS)
    assert clean_text("Buy\x00 now\u202e!\x1b[31m", field="hook", limit=50) == "Buy now![31m"
    assert clean_text("line one\r\nline\ttwo\u2066", field="caption", limit=50, lines=True) == "line one\nline\ttwo"
    assert "\u200d" in clean_text("👩\u200d🍳 chef", field="hook", limit=50)          # emoji joiners stay
    assert _fit("A very long drafted title " * 20, MAX_TITLE_CHARS).endswith(" drafted") and len(_fit("word " * 100, 100)) <= 100
    with pytest.raises(ValidationFailed, match="keep each under 100"):
        clean_hashtags(["#" + "a" * 5000])
    with pytest.raises(ValidationFailed, match="Instagram allows at most 30"):
        clean_hashtags([f"#t{i}" for i in range(100_000)])
