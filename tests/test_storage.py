"""Media storage (``[storage]``): the data folder alone, or an S3-compatible bucket shared by machines with different data folders.

The bucket is moto's S3 server over real HTTP on 127.0.0.1 (not a real AWS bucket). "Machines" are projects with their own
data folder, sharing one database and one bucket: what one enrolls, another renders with, and a third serves and publishes.
"""

from __future__ import annotations

import json

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from sqlmodel import Session, select

from agent.db.models import Avatar, Creator, Reel, ReelStatus, VoiceProfile, WebAccount, utcnow
from agent.errors import AgentError, ConfigError
from agent.settings import Settings, load_settings
from agent.storage import LocalStorage, MediaMissing, S3Storage, StorageError, StorageUnavailable, data_relative, media_storage
from cli_helpers import make_test_video, reeltwin

from moto_s3 import endpoint, free_port, moto_endpoint  # noqa: E402,F401 - shared fixtures

BUCKET = "reeltwin-test-media"
KEY_ID = "AKIAREELTWINSTORAGE1"
SECRET = "storage-SECRET-value-never-printed-0123"
WEB_SECRET = "storage-test-web-secret-0123456789"
PASSWORD = "correct horse battery"


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)


@pytest.fixture
def bucket(endpoint: str) -> str:
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    return BUCKET


def keys_in(endpoint: str) -> list[str]:
    return sorted(item["Key"] for item in s3_client(endpoint).list_objects_v2(Bucket=BUCKET).get("Contents") or [])


def machine(root: Path, endpoint: str | None, *, db_url: str | None = None, storage: str = "", dotenv: str | None = None) -> Settings:
    """One machine's project: its own data folder; the shared database and bucket."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "config").mkdir(exist_ok=True)
    toml = f'data_dir = "{root / "data"}"\n'
    if db_url:
        toml += f'[database]\nurl = "{db_url}"\n'
    toml += f'[web]\nsecret_key = "{WEB_SECRET}"\n[workers]\nimports = ["standin_render"]\nrenderer = "standin"\n'
    if endpoint is not None:
        toml += (f'[storage]\nbackend = "s3"\nbucket = "{BUCKET}"\nendpoint_url = "{endpoint}"\nregion = "us-east-1"\n'
                 f'addressing_style = "path"\ntimeout_s = 5\n{storage}')
    (root / "config" / "settings.toml").write_text(toml, encoding="utf-8")
    (root / ".env").write_text(dotenv if dotenv is not None else
                               f"REELTWIN_STORAGE__ACCESS_KEY_ID={KEY_ID}\nREELTWIN_STORAGE__SECRET_ACCESS_KEY={SECRET}\n", encoding="utf-8")
    return load_settings(root).settings


def login(client: Any) -> Any:
    import re

    page = client.get("/login?next=/")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"csrf": token, "password": PASSWORD, "next": "/"}, follow_redirects=False)


def our_log_lines(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(caplog.handler.format(record) for record in caplog.records if record.name.split(".")[0] in ("publishing", "agent"))


# -- keys from paths ----------------------------------------------------------------------------------------------------


def test_a_paths_place_in_the_data_folder_is_found_on_any_machine(tmp_path: Path) -> None:
    here = tmp_path / "here" / "data"
    assert data_relative(here / "reels" / "7" / "reel-v1-a1.mp4", here) == "reels/7/reel-v1-a1.mp4"
    # Written by machines whose data folders are elsewhere (and whose names look like the layout's folders).
    elsewhere = "/srv/reels/data"
    assert data_relative(f"{elsewhere}/reels/12/reel-v2-a1.mp4", here) == "reels/12/reel-v2-a1.mp4"
    assert data_relative(f"{elsewhere}/avatars/reels/photo-0123456789ab.png", here) == "avatars/reels/photo-0123456789ab.png"
    assert data_relative(f"{elsewhere}/avatars/voices/footage-0123456789ab/clip.mp4", here) == "avatars/voices/footage-0123456789ab/clip.mp4"
    assert (data_relative(f"{elsewhere}/voices/avatars/20250101T120000Z-a1b2c3/sample.wav", here)
            == "voices/avatars/20250101T120000Z-a1b2c3/sample.wav")
    assert (data_relative(f"{elsewhere}/voices/bob/20250101T120000Z-a1b2c3/xtts/latents.pt", here)
            == "voices/bob/20250101T120000Z-a1b2c3/xtts/latents.pt")
    for outside in ("/etc/passwd", f"{elsewhere}/reels/../../etc/passwd", f"{elsewhere}/uploads/x.png", str(here)):
        with pytest.raises(StorageError, match="not inside a data folder"):
            data_relative(outside, here)


def test_the_local_backend_is_the_default_and_changes_nothing(tmp_path: Path) -> None:
    settings = machine(tmp_path / "solo", None)
    storage = media_storage(settings)
    assert isinstance(storage, LocalStorage) and not storage.remote
    assert media_storage(settings) is storage   # one per configuration, kept
    somewhere = tmp_path / "anywhere" / "file.mp4"
    assert storage.local_path(somewhere) == somewhere and storage.ensure_local(somewhere) == somewhere   # nothing checked, nothing fetched
    storage.put(somewhere, None)
    storage.delete([somewhere])
    assert not somewhere.exists()


# -- the S3 backend: put, ensure, open, delete ---------------------------------------------------------------------------


def test_put_then_another_machine_fetches_streams_and_deletes(tmp_path: Path, endpoint: str, bucket: str) -> None:
    a = media_storage(machine(tmp_path / "a", endpoint))
    b = media_storage(machine(tmp_path / "b", endpoint))
    assert isinstance(a, S3Storage) and a.remote and a is not b
    video = a.data_dir / "reels" / "5" / "reel-v1-a1.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(bytes(range(256)) * 40)
    a.put(video, None)
    assert keys_in(endpoint) == ["reeltwin-media/reels/5/reel-v1-a1.mp4"]
    head = s3_client(endpoint).head_object(Bucket=BUCKET, Key=keys_in(endpoint)[0])
    assert head["ContentType"] == "video/mp4" and len(head["Metadata"]["sha256"]) == 64

    # Machine B has none of A's files: A's path maps into B's data folder, fetched once, then a cache.
    local = b.ensure_local(str(video))
    assert local == b.data_dir / "reels" / "5" / "reel-v1-a1.mp4" and local.read_bytes() == video.read_bytes()
    assert not list(local.parent.glob(".incoming-*"))
    assert a.ensure_local(video) == video   # already here: nothing fetched

    stream = b.open(str(video), byte_range="bytes=10-19")
    assert b"".join(stream.chunks) == video.read_bytes()[10:20] and stream.content_range == f"bytes 10-19/{video.stat().st_size}"
    stream.close()
    whole = b.open(str(video))
    assert whole.length_bytes == video.stat().st_size and whole.content_range is None and whole.content_type == "video/mp4"
    whole.close()

    a.delete([video])
    assert keys_in(endpoint) == []
    with pytest.raises(MediaMissing) as missing:
        media_storage(machine(tmp_path / "c", endpoint)).ensure_local(str(video), fix="render reel 5 again")
    message = str(missing.value)
    assert f"s3://{BUCKET}/reeltwin-media/reels/5/reel-v1-a1.mp4 is not in the bucket" in message and "render reel 5 again" in message
    assert "\n" not in message


def test_a_fetched_copy_is_checked_and_a_damaged_one_never_lands(tmp_path: Path, endpoint: str, bucket: str) -> None:
    a = media_storage(machine(tmp_path / "a", endpoint))
    b = media_storage(machine(tmp_path / "b", endpoint))
    photo = a.data_dir / "avatars" / "astro" / "photo-0123456789ab.png"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(b"\x89PNG a photo")
    a.put(photo)
    with pytest.raises(StorageError, match="SHA-256 .* not the 000000"):
        b.ensure_local(str(photo), sha256="0" * 64, fix="enroll avatar 'astro' again")
    assert not (b.data_dir / "avatars" / "astro").exists() or not any((b.data_dir / "avatars" / "astro").iterdir())
    s3_client(endpoint).put_object(Bucket=BUCKET, Key="reeltwin-media/avatars/astro/photo-0123456789ab.png", Body=b"replaced",
                                   Metadata={"sha256": "1" * 64})
    with pytest.raises(StorageError, match="damaged or was replaced"):
        b.ensure_local(str(photo))


def test_the_cache_keeps_under_its_size_deleting_only_idle_copies_the_bucket_holds(tmp_path: Path, endpoint: str, bucket: str) -> None:
    import os
    import time

    w = media_storage(machine(tmp_path / "w", endpoint, storage="cache_max_gb = 0.000003\ncache_idle_minutes = 1\n"))
    assert w.cache_max_bytes == 3000 and w.cache_idle_s == 60.0
    data = tmp_path / "w" / "data"
    now = time.time()
    made = {}
    for age, name in ((5000, "reels/1/reel-v1-a1.mp4"), (4000, "reels/2/reel-v1-a1.mp4"), (3000, "reels/3/reel-v1-a1.mp4"),
                      (10, "reels/4/reel-v1-a1.mp4")):
        path = data / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(1000))
        w.put(path)
        os.utime(path, (now - age, now - age))
        made[name] = path
    only_here = data / "reels" / "9" / "reel-v1-a1.mp4"          # never stored in the bucket: the only copy
    only_here.parent.mkdir(parents=True)
    only_here.write_bytes(os.urandom(1000))
    os.utime(only_here, (now - 9000, now - 9000))
    changed = data / "reels" / "3" / "reel-v1-a1.mp4"            # a local copy that differs from the bucket's: kept
    changed.write_bytes(os.urandom(1500))
    os.utime(changed, (now - 3000, now - 3000))
    # 5,500 bytes > 3,000: the oldest copies the bucket holds go until 2,700 remain; the only copy, the changed one and
    # the one used 10 s ago stay
    deleted, freed = w.evict(now=now)
    assert (deleted, freed) == (2, 2000)
    assert not made["reels/1/reel-v1-a1.mp4"].exists() and not made["reels/2/reel-v1-a1.mp4"].exists()
    assert only_here.exists() and changed.exists() and made["reels/4/reel-v1-a1.mp4"].exists()
    assert len(keys_in(endpoint)) == 4                              # nothing is deleted in the bucket
    # a deleted copy comes back when it is needed, and using a copy marks it (not its modification time)
    again = w.ensure_local(made["reels/1/reel-v1-a1.mp4"])
    assert again.stat().st_size == 1000
    before = made["reels/4/reel-v1-a1.mp4"].stat().st_mtime
    w.ensure_local(made["reels/4/reel-v1-a1.mp4"])
    info = made["reels/4/reel-v1-a1.mp4"].stat()
    assert info.st_mtime == before and info.st_atime >= now - 1
    # 0 keeps everything
    keep_all = media_storage(machine(tmp_path / "k", endpoint, storage="cache_max_gb = 0\n"))
    assert keep_all.evict() == (0, 0)


def test_a_folder_is_deleted_whole_and_only_it(tmp_path: Path, endpoint: str, bucket: str) -> None:
    a = media_storage(machine(tmp_path / "a", endpoint))
    version = a.data_dir / "voices" / "bob" / "20250101T120000Z-a1b2c3"
    other = a.data_dir / "voices" / "bob" / "20250202T120000Z-d4e5f6"
    for folder in (version, other):
        (folder / "fake").mkdir(parents=True)
        (folder / "sample.wav").write_bytes(b"RIFF")
        (folder / "fake" / "cache.bin").write_bytes(b"x")
        a.put(folder / "sample.wav", folder / "fake" / "cache.bin")
    media_storage(machine(tmp_path / "b", endpoint)).delete_folder(Path("/elsewhere/data/voices/bob/20250101T120000Z-a1b2c3"))
    assert keys_in(endpoint) == ["reeltwin-media/voices/bob/20250202T120000Z-d4e5f6/fake/cache.bin",
                                 "reeltwin-media/voices/bob/20250202T120000Z-d4e5f6/sample.wav"]


# -- errors: one line naming the setting or the object, never a secret -------------------------------------------------------


def test_a_missing_bucket_and_an_unreachable_endpoint_name_the_setting(tmp_path: Path, endpoint: str) -> None:
    storage = media_storage(machine(tmp_path / "a", endpoint))
    with pytest.raises(StorageError) as missing:
        storage.check()
    assert f"S3 bucket {BUCKET!r} does not exist" in str(missing.value) and "REELTWIN_STORAGE__BUCKET" in str(missing.value)
    with pytest.raises(StorageError, match="REELTWIN_STORAGE__BUCKET"):
        storage.ensure_local("/elsewhere/data/reels/1/reel.mp4")
    unreachable = media_storage(machine(tmp_path / "b", f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(StorageUnavailable, match="network error") as network:
        unreachable.check()
    assert "\n" not in str(network.value) and SECRET not in str(network.value)


@pytest.fixture
def signed_requests_only(endpoint: str, bucket: str) -> tuple[str, str]:
    """moto checking signatures, with one known IAM access key (id, secret)."""
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET)
    iam.create_user(UserName="reeltwin")
    iam.put_user_policy(UserName="reeltwin", PolicyName="media",
                        PolicyDocument='{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}')
    key = iam.create_access_key(UserName="reeltwin")["AccessKey"]
    httpx.post(f"{endpoint}/moto-api/reset-auth", content=b"0").raise_for_status()
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_wrong_credentials_name_the_variable_that_holds_them_and_never_print_them(tmp_path: Path, endpoint: str, signed_requests_only: tuple[str, str],
                                                                                  caplog: pytest.LogCaptureFixture) -> None:
    key_id, secret = signed_requests_only
    caplog.set_level(logging.DEBUG)
    good = media_storage(machine(tmp_path / "good", endpoint, dotenv=f"REELTWIN_STORAGE__ACCESS_KEY_ID={key_id}\nREELTWIN_STORAGE__SECRET_ACCESS_KEY={secret}\n"))
    good.check()
    with pytest.raises(StorageError) as wrong_secret:
        media_storage(machine(tmp_path / "own", endpoint, dotenv=f"REELTWIN_STORAGE__ACCESS_KEY_ID={key_id}\nREELTWIN_STORAGE__SECRET_ACCESS_KEY={SECRET}\n")).check()
    assert "REELTWIN_STORAGE__SECRET_ACCESS_KEY" in str(wrong_secret.value) and "SignatureDoesNotMatch" in str(wrong_secret.value)
    # No keys of its own: storage uses publishing.s3's, and says so.
    with pytest.raises(StorageError) as borrowed:
        media_storage(machine(tmp_path / "borrowed", endpoint, dotenv=f"REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID=AKIAUNKNOWNKEY000000\n"
                                                                      f"REELTWIN_PUBLISHING__S3__SECRET_ACCESS_KEY={SECRET}\n")).check()
    assert "REELTWIN_PUBLISHING__S3__ACCESS_KEY_ID (storage falls back to it)" in str(borrowed.value)
    for text in (str(wrong_secret.value), str(borrowed.value), our_log_lines(caplog)):
        assert SECRET not in text and secret not in text and "AKIAUNKNOWNKEY000000" not in text
    assert "\n" not in str(wrong_secret.value) + str(borrowed.value)
    assert SECRET not in caplog.text and secret not in caplog.text


def test_settings_refuse_what_cannot_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "a" / "config").mkdir(parents=True)
    (tmp_path / "a" / "config" / "settings.toml").write_text('[storage]\nbackend = "s3"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="no bucket is set; set storage.bucket"):
        media_storage(load_settings(tmp_path / "a").settings)
    (tmp_path / "a" / "config" / "settings.toml").write_text('[storage]\nbackend = "s3"\n[publishing.s3]\nbucket = "shared"\n', encoding="utf-8")
    shared = media_storage(load_settings(tmp_path / "a").settings)
    assert isinstance(shared, S3Storage) and shared.bucket.bucket == "shared" and shared.prefix == "reeltwin-media/"
    half = machine(tmp_path / "b", "http://127.0.0.1:9", dotenv=f"REELTWIN_STORAGE__SECRET_ACCESS_KEY={SECRET}\n")
    with pytest.raises(ConfigError, match="REELTWIN_STORAGE__ACCESS_KEY_ID") as refused:
        media_storage(half)
    assert SECRET not in str(refused.value)
    (tmp_path / "c" / "config").mkdir(parents=True)
    (tmp_path / "c" / "config" / "settings.toml").write_text('[storage]\nbackend = "s3"\nbuckett = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"storage\.buckett: unknown setting; did you mean 'bucket'"):
        load_settings(tmp_path / "c")
    monkeypatch.setenv("REELTWIN_STORAGE__SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("REELTWIN_STORAGE__PREFIX", "media")
    loaded = load_settings(tmp_path / "d")
    assert loaded.settings.storage.prefix == "media/" and SECRET not in repr(loaded.settings) and SECRET in loaded.settings.secret_values()


def test_the_cli_says_one_line_and_exits_2_when_the_bucket_is_missing(tmp_path: Path, endpoint: str) -> None:
    from agent.db.engine import make_engine, upgrade

    settings = machine(tmp_path / "cli", endpoint)
    engine = make_engine(settings.database_url)
    upgrade(engine)
    with Session(engine) as session:
        session.add(VoiceProfile(name="bob", sample_path="/elsewhere/data/voices/bob/20250101T120000Z-a1b2c3/sample.wav",
                                 sample_sha256="0" * 64, consent_by="test", consent_text="test", backend="piper-world", consent_at=utcnow()))
        session.commit()
    engine.dispose()
    result = reeltwin(tmp_path / "cli", "voice", "say", "Hello there.", "--out", str(tmp_path / "out.wav"), "--voice", "bob")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "does not exist" in lines[0] and "REELTWIN_STORAGE__BUCKET" in lines[0], result.stderr
    assert "Traceback" not in result.stderr and SECRET not in result.stderr + result.stdout
    import json

    doctor = reeltwin(tmp_path / "cli", "doctor", "--json")
    [check] = [item for item in json.loads(doctor.stdout)["checks"] if item["name"] == "media storage"]
    assert check["status"] == "missing" and "does not exist" in check["detail"] and "REELTWIN_STORAGE__BUCKET" in check["fix"], check
    assert SECRET not in doctor.stdout + doctor.stderr


@pytest.mark.postgres
def test_run_and_worker_check_the_bucket_before_they_start(tmp_path: Path, endpoint: str, postgres_url: str) -> None:
    """A wrong bucket is one line when the service starts, not a failed render on every reel later."""
    from agent.db.engine import make_engine, upgrade

    machine(tmp_path / "svc", endpoint, db_url=postgres_url)
    settings_file = tmp_path / "svc" / "config" / "settings.toml"
    settings_file.write_text(settings_file.read_text().replace(
        "[workers]\n", '[workers]\nbackend = "celery"\nbroker_url = "redis://127.0.0.1:6379/13"\n'), encoding="utf-8")
    upgrade(make_engine(postgres_url))
    for args in (("run", "--once"), ("worker", "--queues", "render")):
        result = reeltwin(tmp_path / "svc", *args, timeout=60, PYTHONPATH=str(Path(__file__).parent))   # standin_render
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "does not exist" in lines[0] and "REELTWIN_STORAGE__BUCKET" in lines[0], (args, result.stderr)
        assert "Traceback" not in result.stderr and SECRET not in result.stderr + result.stdout
    # with the bucket there, the check passes: run --once goes on to its sweeps
    s3_client(endpoint).create_bucket(Bucket=BUCKET)
    result = reeltwin(tmp_path / "svc", "run", "--once", "--json", timeout=120, PYTHONPATH=str(Path(__file__).parent))
    assert result.returncode == 0, result.stderr
    assert "sweeps" in json.loads(result.stdout)


# -- three machines: enroll on A, render on W, serve and publish on B ------------------------------------------------------


@pytest.fixture(scope="module")
def standin_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_video(tmp_path_factory.mktemp("standin") / "reel.mp4")


class StoredVoice:
    """A voice backend that writes a cache file at enrollment (like XTTS's speaker latents) and records where."""

    name = "storage-test-voice"

    def enroll(self, profile: Any, workdir: Path) -> dict[str, Any]:
        cache = workdir / "cache.bin"
        cache.write_bytes(b"speaker cache")
        return {"cache_path": str(cache)}

    def speak(self, text: str, out_path: Path, *, profile: Any = None, language: str = "en") -> Any:
        raise NotImplementedError


def _enroll_voice(session: Session, settings: Settings, tmp_path: Path, *, replace: bool = False) -> VoiceProfile:
    pytest.importorskip("webrtcvad")
    pytest.importorskip("pyworld")
    from render.voice import base
    from voice_refs import CODEC2_WAV, codec2_speaker

    if not CODEC2_WAV.is_file():
        pytest.skip("Debian codec2-examples is not installed (make install)")
    from agent.enrollment.voices import enroll_voice
    from render.media.audio import write_wav

    if "storage-test-voice" not in base.names():
        base.register("storage-test-voice")(lambda **_: StoredVoice())
    import numpy as np

    samples, rate = codec2_speaker("male")
    sample = write_wav(tmp_path / "me.wav", np.concatenate([samples, samples[: int(2.5 * rate)]]), rate)
    return enroll_voice(session, settings, sample, name="astro", consent=True, consent_by="test", backend="storage-test-voice",
                        replace=replace).profile


def test_enrolling_a_voice_stores_its_files_and_a_replaced_version_leaves_the_bucket(tmp_path: Path, endpoint: str, bucket: str, db_url: str,
                                                                                     session: Session) -> None:
    a = machine(tmp_path / "a", endpoint, db_url=db_url)
    first = _enroll_voice(session, a, tmp_path)
    version = Path(first.sample_path).parent.name
    assert keys_in(endpoint) == [f"reeltwin-media/voices/astro/{version}/sample.wav",
                                 f"reeltwin-media/voices/astro/{version}/storage-test-voice/cache.bin"]
    # Another machine loads the voice: the sample (checked against its SHA-256) and the backend's cache come with it.
    from agent.enrollment.voices import load_profile

    b = machine(tmp_path / "b", endpoint, db_url=db_url)
    data = load_profile(session, b, "astro")
    assert Path(data.sample_path).is_relative_to(b.data_dir) and Path(data.sample_path).read_bytes() == Path(first.sample_path).read_bytes()
    assert Path(data.artifacts["storage-test-voice"]["cache_path"]).read_bytes() == b"speaker cache"

    second = _enroll_voice(session, a, tmp_path, replace=True)
    new_version = Path(second.sample_path).parent.name
    assert new_version != version
    assert all(key.startswith(f"reeltwin-media/voices/astro/{new_version}/") for key in keys_in(endpoint)) and len(keys_in(endpoint)) == 2


def test_a_reel_rendered_on_one_machine_is_served_and_published_from_another(tmp_path: Path, endpoint: str, bucket: str, db_url: str,
                                                                             session: Session, standin_video: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mediapipe")
    from fastapi.testclient import TestClient
    from PIL import Image
    from skimage import data as images

    from agent.approval.queue import add_draft, approve
    from agent.backends import make_publisher
    from agent.enrollment.avatars import enroll
    from agent.jobs.publish import publish_reel
    from agent.jobs.render import render_reel
    from agent.web.app import create_app
    from agent.web.security import hash_password
    from publishing.hosting import MediaHost

    monkeypatch.setenv("REELTWIN_TEST_STANDIN_VIDEO", str(standin_video))
    monkeypatch.setenv("REELTWIN_TEST_STANDIN_SECONDS", "0")
    enrolling, worker, server = (machine(tmp_path / name, endpoint, db_url=db_url) for name in ("a", "w", "b"))
    for one in (enrolling, worker, server):
        assert isinstance(media_storage(one), S3Storage)

    # Machine A: the creator, an avatar (a real photo, checked) and a voice.
    creator = Creator(handle="astro", timezone="UTC")
    session.add(creator)
    session.commit()
    photo = tmp_path / "me.png"
    Image.fromarray(images.astronaut()).save(photo)
    avatar = enroll(session, enrolling.data_dir, photo, name="astro", consent=True, storage=media_storage(enrolling)).avatar
    voice = _enroll_voice(session, enrolling, tmp_path)
    assert f"reeltwin-media/avatars/astro/{Path(avatar.photo_path).name}" in keys_in(endpoint)
    reel = add_draft(session, creator, slot=None, script="Pick one habit. Keep it small.", on_screen_title="Tiny habits", caption="Small steps.")
    approve(session, [reel.id])
    reel_id = reel.id

    # Machine W renders: it fetches the avatar and the voice into its own data folder, and stores the reel.
    outcome = render_reel(session, worker, reel_id, worker="w1")
    assert outcome.result == "rendered", outcome.detail
    assert (worker.data_dir / "avatars" / "astro" / Path(avatar.photo_path).name).read_bytes() == photo.read_bytes()
    assert (worker.data_dir / "voices" / "astro" / Path(voice.sample_path).parent.name / "sample.wav").is_file()
    session.expire_all()
    rendered = session.get(Reel, reel_id)
    video = Path(rendered.artifacts["video"])
    assert video.is_relative_to(worker.data_dir) and rendered.artifacts["qa_verdict"] == "passed"
    assert {f"reeltwin-media/reels/{reel_id}/{video.name}", f"reeltwin-media/reels/{reel_id}/{video.with_suffix('.jpg').name}"} <= set(keys_in(endpoint))

    # Machine B serves it: none of the reel's files are there; the web server streams them from the bucket.
    session.add(WebAccount(username="creator", password_hash=hash_password(PASSWORD)))
    session.commit()
    app = create_app(server, tmp_path / "b")
    try:
        client = TestClient(app, base_url="http://testserver")
        assert login(client).status_code == 303
        assert not (server.data_dir / "reels").exists()
        whole = client.get(f"/media/{reel_id}/video")
        assert whole.status_code == 200 and whole.content == video.read_bytes() and whole.headers["content-type"] == "video/mp4"
        assert "media-src 'self'" in whole.headers["content-security-policy"]
        part = client.get(f"/media/{reel_id}/video", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == video.read_bytes()[:100]
        assert part.headers["content-range"] == f"bytes 0-99/{video.stat().st_size}"
        assert client.get(f"/media/{reel_id}/cover").content == b"stand-in cover"
        assert client.get(f"/media/{reel_id}/srt").status_code == 404   # the stand-in made none
        assert client.get(f"/reels/{reel_id}").status_code == 200
        assert client.get("/media/avatar/astro/photo").content == photo.read_bytes()
        assert client.get("/media/voice/astro/sample").status_code == 200
        # The Graph publisher's signed link, made on the worker (self-hosting), is served by B from the bucket.
        url = MediaHost(base_url="https://reels.example/public", secret=WEB_SECRET, root=worker.data_dir).url_for(video)
        fetched = client.get(url.removeprefix("https://reels.example"))
        assert fetched.status_code == 200 and fetched.content == video.read_bytes()
        assert client.get(url.removeprefix("https://reels.example").replace(video.name, "other.mp4")).status_code == 404
        stranger = TestClient(app, base_url="http://testserver")   # no login: nothing, whatever storage holds
        assert stranger.get(f"/media/{reel_id}/video", follow_redirects=False).status_code in (303, 307)
    finally:
        app.state.drafter.wait(10)
    assert not (server.data_dir / "reels").exists()   # streamed, not copied

    # Machine B publishes it (the outbox): the publisher gets a local copy first.
    with make_publisher(server) as publisher:
        published = publish_reel(session, server, reel_id, publisher=publisher, worker="b1")
    assert published.result == "published", published.detail
    [posted] = [path for path in server.outbox_dir.rglob("*.mp4")]
    assert posted.read_bytes() == video.read_bytes()


def test_publishing_a_reel_whose_files_are_nowhere_fails_with_the_fix(tmp_path: Path, endpoint: str, bucket: str, db_url: str,
                                                                      session: Session) -> None:
    from agent.approval.queue import add_draft, approve
    from agent.backends import make_publisher
    from agent.jobs.publish import publish_reel

    server = machine(tmp_path / "b", endpoint, db_url=db_url)
    creator = Creator(handle="astro", timezone="UTC")
    session.add(creator)
    session.commit()
    reel = add_draft(session, creator, slot=None, script="Pick one habit.", caption="Small steps.")
    approve(session, [reel.id])
    session.execute(Reel.__table__.update().where(Reel.id == reel.id).values(
        status="rendered", artifacts={"video": f"/elsewhere/data/reels/{reel.id}/reel-v1-a1.mp4"}))
    session.commit()
    with make_publisher(server) as publisher:
        outcome = publish_reel(session, server, reel.id, publisher=publisher, worker="b1")
    assert outcome.result == "failed"
    assert f"s3://{BUCKET}/reeltwin-media/reels/{reel.id}/reel-v1-a1.mp4 is not in the bucket" in outcome.detail
    assert f"render reel {reel.id} again" in outcome.detail
    session.expire_all()
    assert session.get(Reel, reel.id).status == ReelStatus.FAILED


def test_an_unreachable_bucket_makes_a_publish_wait_not_fail(tmp_path: Path, db_url: str, session: Session) -> None:
    from agent.approval.queue import add_draft, approve
    from agent.backends import make_publisher
    from agent.jobs.publish import publish_reel

    server = machine(tmp_path / "b", f"http://127.0.0.1:{free_port()}", db_url=db_url)
    creator = Creator(handle="astro", timezone="UTC")
    session.add(creator)
    session.commit()
    reel = add_draft(session, creator, slot=None, script="Pick one habit.", caption="Small steps.")
    approve(session, [reel.id])
    session.execute(Reel.__table__.update().where(Reel.id == reel.id).values(
        status="rendered", artifacts={"video": f"/elsewhere/data/reels/{reel.id}/reel-v1-a1.mp4"}))
    session.commit()
    with make_publisher(server) as publisher:
        outcome = publish_reel(session, server, reel.id, publisher=publisher, worker="b1")
    assert outcome.result == "retry later" and "network error" in outcome.detail and SECRET not in outcome.detail
    session.expire_all()
    assert session.get(Reel, reel.id).status == ReelStatus.RENDERED


def test_rendering_with_an_avatar_that_is_nowhere_fails_the_reel_with_the_fix(tmp_path: Path, endpoint: str, bucket: str, db_url: str,
                                                                              session: Session, standin_video: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.approval.queue import add_draft, approve
    from agent.jobs.render import render_reel

    monkeypatch.setenv("REELTWIN_TEST_STANDIN_VIDEO", str(standin_video))
    worker = machine(tmp_path / "w", endpoint, db_url=db_url)
    creator = Creator(handle="astro", timezone="UTC")
    session.add(creator)
    session.commit()
    session.add(Avatar(name="astro", creator_id=creator.id, photo_path="/elsewhere/data/avatars/astro/photo-0123456789ab.png",
                       photo_sha256="0" * 64, consent_by="test", consent_text="test", kind="photo", analysis={}, consent_at=utcnow()))
    reel = add_draft(session, creator, slot=None, script="Pick one habit.")
    approve(session, [reel.id])
    outcome = render_reel(session, worker, reel.id, worker="w1")
    assert outcome.result == "failed"
    assert "reeltwin-media/avatars/astro/photo-0123456789ab.png is not in the bucket" in outcome.detail
    assert "enroll avatar 'astro' again with --replace" in outcome.detail
    assert session.execute(select(Reel.status).where(Reel.id == reel.id)).scalar_one() == ReelStatus.FAILED


@pytest.mark.slow
def test_a_footage_avatar_enrolled_on_one_machine_renders_on_another(tmp_path: Path, endpoint: str, bucket: str) -> None:
    """The clip and its face track go to the bucket at enrollment; a worker with another data folder fetches both,
    decodes the clip and frames the preview strip from them (the files a footage render reads)."""
    pytest.importorskip("mediapipe")
    import numpy as np
    from footage_clips import make_clip

    from agent.db.engine import make_engine, upgrade
    from agent.enrollment.avatars import enroll, footage_of, framed_preview, local_media
    from render.face.footage import ClipReader

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    a = machine(tmp_path / "a", endpoint, db_url=url)
    w = machine(tmp_path / "w", endpoint, db_url=url)
    engine = make_engine(url)
    upgrade(engine)
    clip = make_clip(tmp_path, "me.mp4", seconds=6.0, size=(540, 960))
    with Session(engine, expire_on_commit=False) as session:
        avatar = enroll(session, a.data_dir, clip, name="astro", consent=True, consent_by="test", storage=media_storage(a)).avatar
    folder = Path(avatar.photo_path).parent.name
    assert keys_in(endpoint) == [f"reeltwin-media/avatars/astro/{folder}/clip.mp4", f"reeltwin-media/avatars/astro/{folder}/track.npz"]
    on_w = media_storage(w)
    video = local_media(avatar, on_w)
    assert video == w.data_dir / "avatars" / "astro" / folder / "clip.mp4" and video.read_bytes() == Path(avatar.photo_path).read_bytes()
    track = footage_of(avatar, on_w)
    assert (w.data_dir / "avatars" / "astro" / folder / "track.npz").is_file() and track.n_frames >= 170
    here = [frame for _, frame in ClipReader(video, track.width, track.height).play([(0, 9), (9, 0)], ahead=2)]
    there = [frame for _, frame in ClipReader(Path(avatar.photo_path), track.width, track.height).play([(0, 9), (9, 0)])]
    assert len(here) == 20 and all(np.array_equal(one, other) for one, other in zip(here, there))
    strip = framed_preview(avatar, on_w)
    assert strip.is_file() and strip.stat().st_size > 1000
    # gone from the bucket and from W: the render's error names the fix
    s3_client(endpoint).delete_object(Bucket=BUCKET, Key=f"reeltwin-media/avatars/astro/{folder}/track.npz")
    (w.data_dir / "avatars" / "astro" / folder / "track.npz").unlink()
    with pytest.raises(MediaMissing, match="enroll avatar 'astro' again with --replace"):
        footage_of(avatar, on_w)


def test_storage_errors_are_agent_errors() -> None:
    assert issubclass(StorageUnavailable, StorageError) and issubclass(StorageError, AgentError) and issubclass(MediaMissing, StorageError)


def test_a_render_that_cannot_reach_the_bucket_waits_for_the_next_sweep(tmp_path: Path, db_url: str, session: Session) -> None:
    from agent.approval.queue import add_draft, approve
    from agent.jobs.render import render_reel

    worker = machine(tmp_path / "w", f"http://127.0.0.1:{free_port()}", db_url=db_url)
    creator = Creator(handle="astro", timezone="UTC")
    session.add(creator)
    session.commit()
    session.add(Avatar(name="astro", creator_id=creator.id, photo_path="/elsewhere/data/avatars/astro/photo-0123456789ab.png",
                       photo_sha256="0" * 64, consent_by="test", consent_text="test", kind="photo", analysis={}, consent_at=utcnow()))
    reel = add_draft(session, creator, slot=None, script="Pick one habit.")
    approve(session, [reel.id])
    outcome = render_reel(session, worker, reel.id, worker="w1")
    assert outcome.result == "postponed" and "network error" in outcome.detail and SECRET not in outcome.detail
    session.expire_all()
    again = session.get(Reel, reel.id)
    assert again.status == ReelStatus.APPROVED and again.claimed_by is None
