"""Several web users, each seeing and acting on their creators only (issue 15, "People").

A user limited to creator A ("your.handle") gets the same 404 page on every page, action and media URL of creator B
("other.handle") as on one that does not exist, and B's things do not change. The routes are read from the app's own
route table: a new route with a reel id, a name or a handle is checked without anyone remembering to add it here,
and a route with a path parameter this test does not know fails until it is added.

The fixtures are test_web.py's: a real database (SQLite, then PostgreSQL when reachable).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlmodel import Session

from agent.approval.queue import add_draft
from agent.content_calendar.loader import load_calendar
from agent.content_calendar.planner import sync_plan
from agent.db.models import Avatar, Creator, Reel, ReelEvent, VoiceProfile, WebAccount, WebAccountCreator, utcnow
from agent.settings import Settings
from agent.web.app import COOKIE
from agent.web.security import hash_password
from cli_helpers import reeltwin
from test_web import (  # noqa: F401 - fixtures
    CSRF_FIELD, HOOKS, PASSWORD, REPO, SCRIPTS, Seeded, account, app, client, csrf_of, logged_in, login, project, seeded, settings, text_of,
)

A, B = "your.handle", "other.handle"
ANA_PASSWORD = "ana's long password"
MISSING_REEL = 2**31 - 1
MISSING_NAME = "no-such-name"
#: Routes without a user's creators behind them, and why.
NOT_SCOPED = {
    "/login": "the login form",
    "/logout": "ends the session",
    "/healthz": "liveness probe: no login, no data",
    "/public/{token}/{name}": "signed, expiring links for Instagram to fetch (no login): the signature decides",
}
MEDIA_KINDS = ("video", "cover", "srt", "audio", "photo", "preview", "sample")


@dataclass
class World:
    """Creator A (the example calendar, 3 drafts) and creator B (one draft), each with media, an avatar and a voice."""

    a_reel: int
    b_reel: int
    b_creator: Creator


def _files(settings: Settings, folder: str) -> dict[str, str]:
    root = settings.data_dir / folder
    root.mkdir(parents=True, exist_ok=True)
    paths = {}
    for kind, name in (("video", "reel.mp4"), ("cover", "cover.jpg"), ("srt", "reel.srt"), ("audio", "speech.wav"), ("photo", "photo.png"),
                       ("sample", "sample.wav")):
        (root / name).write_bytes(f"{folder} {kind}".encode())
        paths[kind] = str(root / name)
    return paths


@pytest.fixture
def world(session: Session, project: Path, seeded: Seeded, settings: Settings) -> World:
    text = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8").replace(f"handle: {A}", f"handle: {B}")
    (project / "calendar" / f"{B}.yaml").write_text(text, encoding="utf-8")
    report = sync_plan(session, load_calendar(project / "calendar" / f"{B}.yaml").calendar, now=utcnow(), days=14)
    b_creator = session.execute(select(Creator).where(Creator.handle == B)).scalar_one()
    b_reel = add_draft(session, b_creator, slot=report.slots[0], hook=HOOKS[1], script=SCRIPTS[1], on_screen_title="B's title",
                       caption="B's caption.", hashtags=["#other"], cta="Follow.")
    session.commit()
    for reel_id, creator in ((seeded.reel_ids[0], seeded.creator), (b_reel.id, b_creator)):
        files = _files(settings, f"reels/{reel_id}")
        reel = session.get(Reel, reel_id)
        reel.artifacts = {kind: files[kind] for kind in ("video", "cover", "srt", "audio")}
        session.add(reel)
        session.add(Avatar(name=creator.handle, creator_id=creator.id, photo_path=files["photo"], photo_sha256="0" * 64, is_default=True,
                           consent_at=utcnow(), consent_by="creator:web:creator", consent_text="consent"))
        session.add(VoiceProfile(name=creator.handle, sample_path=files["sample"], sample_sha256="0" * 64, consent_at=utcnow(),
                                 consent_by="creator:web:creator", consent_text="consent"))
    # B's second avatar is linked to B but named unlike any handle; a stray one belongs to no creator.
    files = _files(settings, "avatars/b-clip")
    session.add(Avatar(name="b-clip", creator_id=b_creator.id, photo_path=files["photo"], photo_sha256="0" * 64,
                       consent_at=utcnow(), consent_by="creator:web:creator", consent_text="consent"))
    session.add(Avatar(name="stray", photo_path=files["photo"], photo_sha256="0" * 64, consent_at=utcnow(), consent_by="cli:", consent_text="c"))
    session.commit()
    return World(a_reel=seeded.reel_ids[0], b_reel=b_reel.id, b_creator=b_creator)


def add_user(session: Session, name: str, password: str, handles: list[str] | None) -> None:
    account = WebAccount(username=name, password_hash=hash_password(password), all_creators=handles is None)
    session.add(account)
    session.flush()
    for handle in handles or ():
        session.add(WebAccountCreator(account_id=account.id, handle=handle))
    session.commit()


def login_as(client: TestClient, name: str, password: str, next_path: str = "/"):
    token = csrf_of(client, f"/login?next={next_path}")
    return client.post("/login", data={"csrf": token, "username": name, "password": password, "next": next_path}, follow_redirects=False)


@pytest.fixture
def ana(app, session: Session, world: World, account: None) -> TestClient:
    """User "ana", given creator A only (the "creator" account of the single-password install sees both)."""
    add_user(session, "ana", ANA_PASSWORD, [A])
    client = TestClient(app, base_url="http://testserver")
    assert login_as(client, "ana", ANA_PASSWORD).status_code == 303
    return client


def state_of(session: Session, world: World) -> tuple:
    """Everything of B's an action could change."""
    session.rollback()
    session.expire_all()
    reel = session.get(Reel, world.b_reel)
    session.refresh(reel)
    events = session.execute(select(func.count()).select_from(ReelEvent).where(ReelEvent.reel_id == world.b_reel)).scalar_one()
    avatars = sorted((a.name, a.is_default, a.photo_path) for a in session.execute(select(Avatar).where(Avatar.creator_id == world.b_creator.id)).scalars())
    voice = session.execute(select(VoiceProfile).where(VoiceProfile.name == B)).scalar_one()
    return str(reel.status), reel.version, reel.script, reel.approved_by, events, avatars, voice.sample_path, voice.consent_by


def plain(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(response)))


# -- every route of the app, from its route table --------------------------------------------

def api_routes(routes, prefix: str = "") -> list[tuple[str, APIRoute]]:  # noqa: ANN001 - the app's route list
    """(full path, route) of every API route, also inside included routers (FastAPI 0.16x includes them lazily)."""
    found = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):
            found.extend(api_routes(route.original_router.routes, prefix + getattr(getattr(route, "include_context", None), "prefix", "")))
    return found


def scoped_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route with a path parameter that names something of a creator."""
    routes = []
    for path, route in api_routes(app.routes):
        if path in NOT_SCOPED:
            continue
        params = set(re.findall(r"{(\w+)}", path))
        unknown = params - {"reel_id", "name", "handle", "kind"}
        assert not unknown, f"{path}: path parameter(s) {sorted(unknown)} unknown to this test; scope the route and teach the test its values"
        if params:
            routes.extend((method, path) for method in sorted(route.methods - {"HEAD"}))
    return routes


def list_pages(app) -> list[str]:
    return sorted(path for path, route in api_routes(app.routes) if "GET" in route.methods and "{" not in path and path not in NOT_SCOPED)


def urls(path: str, *, reel_id: int, name: str, handle: str) -> list[str]:
    """The route's URLs for one creator's thing (every media kind for a media route)."""
    filled = path.replace("{reel_id}", str(reel_id)).replace("{handle}", handle).replace("{name}", name)
    return [filled.replace("{kind}", kind) for kind in MEDIA_KINDS] if "{kind}" in path else [filled]


def name_for(path: str, avatar: str, voice: str) -> str:
    if "{name}" not in path:
        return avatar
    assert "avatar" in path or "voice" in path, f"{path}: is {{name}} an avatar or a voice? teach the test"
    return avatar if "avatar" in path else voice


def send(client: TestClient, method: str, url: str, token: str):
    if method == "GET":
        return client.get(url, follow_redirects=False)
    return client.post(url, data={"csrf": token, "feedback": "shorter please", "script": "Changed by a stranger.", "backend": "outbox"},
                       follow_redirects=False)


def test_the_route_table_has_the_scoped_routes(app) -> None:
    found = {path for _method, path in scoped_routes(app)}
    # A sanity check of the enumeration itself: the areas this test is about are all found.
    assert {"/reels/{reel_id}", "/reels/{reel_id}/approve", "/reels/{reel_id}/edit", "/reels/{reel_id}/reject", "/reels/{reel_id}/retry",
            "/reels/{reel_id}/qa", "/media/{reel_id}/{kind}", "/media/avatar/{name}/{kind}", "/media/voice/{name}/{kind}",
            "/avatars/{name}/default", "/voices/{name}/preview"} <= found
    assert {"/", "/calendar", "/history", "/avatars", "/voices"} <= set(list_pages(app))


def test_another_creators_pages_actions_and_media_are_404_like_nothing_there(app, ana: TestClient, world: World, session: Session) -> None:
    token = csrf_of(ana, "/")
    before = state_of(session, world)
    checked = 0
    for method, path in scoped_routes(app):
        theirs = urls(path, reel_id=world.b_reel, name=name_for(path, "b-clip" if "default" in path else B, B), handle=B)
        missing = urls(path, reel_id=MISSING_REEL, name=MISSING_NAME, handle=MISSING_NAME)
        for url, nothing in zip(theirs, missing):
            response, absent = send(ana, method, url, token), send(ana, method, nothing, token)
            assert response.status_code == 404, (method, url, response.status_code, plain(response)[:300])
            assert response.headers["content-type"].startswith("text/html"), (method, url)
            # The same page as for something that does not exist: nothing tells that B's exists.
            same = re.sub(rf"\b{world.b_reel}\b", "N", plain(response)).replace("b-clip", "X").replace(B, "X")
            assert same == re.sub(rf"\b{MISSING_REEL}\b", "N", plain(absent)).replace(MISSING_NAME, "X"), (method, url)
            checked += 1
    assert checked >= 30
    assert state_of(session, world) == before  # nothing of B's changed
    # The stray avatar (no creator) is only for users with every creator.
    assert ana.get("/media/avatar/stray/photo").status_code == 404


def _set_aside(session: Session, reel_id: int) -> bool:
    from agent.db.models import Reel, ReelStatus

    session.expire_all()
    return ReelStatus(session.get(Reel, reel_id).status) in (ReelStatus.REJECTED, ReelStatus.SKIPPED)


def test_the_same_user_sees_and_acts_on_their_own_creator(app, ana: TestClient, world: World, session: Session) -> None:
    token = csrf_of(ana, "/")
    for method, path in scoped_routes(app):
        mine = urls(path, reel_id=world.a_reel, name=A, handle=A)
        answers = [send(ana, method, url, token) for url in mine]
        assert all(response.status_code < 500 for response in answers), (method, path)
        if "{kind}" in path:
            assert any(response.status_code == 200 for response in answers), (method, path, [r.status_code for r in answers])
        elif path.endswith("/qa"):
            assert answers[0].status_code == 404 and "no quality report yet" in plain(answers[0])  # A's, but not rendered yet
        elif path.endswith("/audio") and method == "GET":
            assert answers[0].status_code == 404 and "has no recording of your voice" in plain(answers[0])  # A's, none recorded
        elif path.endswith("/thumb") and _set_aside(session, world.a_reel):
            # the walk rejected A's reel earlier: its old cover is not its own any more, so the queue shows no thumbnail
            assert answers[0].status_code == 404 and "no such file" in plain(answers[0])
        else:
            assert answers[0].status_code != 404, (method, path, plain(answers[0])[:300])
    assert ana.get(f"/media/{world.a_reel}/video").content == f"reels/{world.a_reel} video".encode()


def test_lists_show_only_the_users_creators(app, logged_in: TestClient, ana: TestClient, world: World) -> None:
    for path in list_pages(app):
        page = ana.get(path)
        assert page.status_code == 200, path
        assert B not in page.text and f'href="/reels/{world.b_reel}"' not in page.text and "b-clip" not in page.text, path
    queue = ana.get("/").text
    assert f'/reels/{world.a_reel}' in queue and f"@{A}" in queue
    calendar = plain(ana.get("/calendar"))
    assert f"@{A}" in calendar and "calendar/your.handle.yaml" in calendar
    assert 'id="avatar-your.handle"' in ana.get("/avatars").text and "stray" not in ana.get("/avatars").text
    assert 'id="voice-your.handle"' in ana.get("/voices").text
    # The single-password login still sees everything.
    everything = logged_in.get("/").text
    assert f'/reels/{world.b_reel}' in everything and f'/reels/{world.a_reel}' in everything
    assert "stray" in logged_in.get("/avatars").text and f"@{B}" in plain(logged_in.get("/calendar"))


def test_uploads_only_for_the_users_creators(ana: TestClient, world: World, session: Session) -> None:
    before = state_of(session, world)
    token = csrf_of(ana, "/avatars")
    files = {"photo": ("me.png", b"not really a png", "image/png")}
    # B as the chosen creator: the same answer as a creator that does not exist.
    response = ana.post("/avatars", data={"csrf": token, "name": "mine", "creator": B, "consent": "true"}, files=files, follow_redirects=False)
    assert response.status_code == 422 and f"creator @{B} is not known" in plain(response)
    # B's avatar name, even with "Replace": refused, nothing replaced.
    response = ana.post("/avatars", data={"csrf": token, "name": B, "creator": A, "consent": "true", "replace": "true"}, files=files,
                        follow_redirects=False)
    assert response.status_code == 422 and f"the name '{B}' is taken" in plain(response)
    # A voice for B (by its name) likewise; a name of no creator of hers is refused too.
    sample = {"sample": ("me.wav", b"RIFF....", "audio/wav")}
    response = ana.post("/voices", data={"csrf": token, "name": B, "consent": "true", "replace": "true"}, files=sample, follow_redirects=False)
    assert response.status_code == 422 and f"the name '{B}' is taken" in plain(response)
    response = ana.post("/voices", data={"csrf": token, "name": "someone", "consent": "true"}, files=sample, follow_redirects=False)
    assert response.status_code == 422 and "name the voice after your creator's handle (your.handle)" in plain(response)
    assert state_of(session, world) == before
    # Her own creator passes the access checks (this file is no photo, so the photo check answers).
    response = ana.post("/avatars", data={"csrf": token, "name": "mine", "creator": A, "consent": "true"}, files=files, follow_redirects=False)
    assert response.status_code == 422 and "is not known" not in plain(response) and "taken" not in plain(response) and "choose the creator" not in plain(response)
    assert "me.png" in plain(response)


def test_every_decision_records_the_user_and_the_web_names_them(app, logged_in: TestClient, ana: TestClient, world: World, session: Session) -> None:
    token = csrf_of(ana, f"/reels/{world.a_reel}")
    response = ana.post(f"/reels/{world.a_reel}/edit", data={"csrf": token, "script": SCRIPTS[2]}, follow_redirects=False)
    assert response.status_code == 303
    response = ana.post(f"/reels/{world.a_reel}/approve", data={"csrf": token, "keep_stale": "yes"}, follow_redirects=False)
    assert response.status_code == 303
    other = world.a_reel + 1
    assert ana.post(f"/reels/{other}/reject", data={"csrf": token, "feedback": "shorter"}, follow_redirects=False).status_code == 303
    app.state.drafter.wait(10)
    session.rollback()
    session.expire_all()
    reel = session.get(Reel, world.a_reel)
    assert reel.approved_by == "creator:web:ana"
    actors = session.execute(select(ReelEvent.to_status, ReelEvent.actor).where(ReelEvent.reel_id.in_([world.a_reel, other]))).all()
    assert ("approved", "creator:web:ana") in actors and ("rejected", "creator:web:ana") in actors
    from agent.approval.queue import versions

    assert versions(session, world.a_reel)[-1].author == "creator:web:ana"
    # "you" for herself, her name for the others; never the raw record.
    mine = plain(ana.get(f"/reels/{world.a_reel}"))
    assert "waiting for you → approved by you (on the web)" in mine and "creator:web" not in mine
    theirs = plain(logged_in.get(f"/reels/{world.a_reel}"))
    assert "waiting for you → approved by ana (on the web)" in theirs and "creator:web" not in theirs


# -- logging in --------------------------------------------------------------------------------

def test_single_password_install_logs_in_as_before(client: TestClient, account: None, world: World) -> None:
    page = client.get("/login")
    assert 'name="username"' in page.text and 'value="creator"' in page.text  # the only user, filled in
    assert login(client, PASSWORD).status_code == 303  # a form that sends the password only (as before there were names)
    assert client.get("/").status_code == 200


def test_several_users_log_in_by_name(app, client: TestClient, session: Session, account: None, world: World) -> None:
    add_user(session, "ana", ANA_PASSWORD, [A])
    assert 'value="creator"' not in client.get("/login").text  # no name filled in once there are several
    response = login_as(client, "ana", PASSWORD)  # another user's password
    assert response.status_code == 401 and "Wrong password or user name." in plain(response)
    response = login_as(client, "nobody", ANA_PASSWORD)
    assert response.status_code == 401 and "Wrong password or user name." in plain(response)
    response = login(client, ANA_PASSWORD)  # no name: which user?
    assert response.status_code == 401 and "Enter your user name" in plain(response)
    assert login_as(client, "ana", ANA_PASSWORD).status_code == 303
    assert client.get(f"/reels/{world.b_reel}").status_code == 404 and client.get(f"/reels/{world.a_reel}").status_code == 200
    other = TestClient(app, base_url="http://testserver")
    assert login_as(other, "creator", PASSWORD).status_code == 303 and other.get(f"/reels/{world.b_reel}").status_code == 200


# -- the command line --------------------------------------------------------------------------

def test_user_add_list_set_password_remove(app, project: Path, session: Session, world: World, account: None) -> None:
    result = reeltwin(project, "user", "add", "ana", "--creators", f"@{A}", "--generate", "--json")
    assert result.returncode == 0, result.stderr
    added = json.loads(result.stdout)
    assert added["name"] == "ana" and added["creators"] == [A] and not added["all_creators"] and len(added["password"]) >= 16
    client = TestClient(app, base_url="http://testserver")
    assert login_as(client, "ana", added["password"]).status_code == 303 and client.get(f"/reels/{world.b_reel}").status_code == 404

    listed = json.loads(reeltwin(project, "user", "list", "--json").stdout)["users"]
    assert [(u["name"], u["all_creators"], u["creators"]) for u in listed] == [("ana", False, [A]), ("creator", True, [])]
    assert "password" not in json.dumps(listed).replace("password_changed_at", "")

    # Given B too, she sees it on her next click, without logging in again.
    assert reeltwin(project, "user", "set", "ana", "--creators", f"{A},{B}").returncode == 0
    assert client.get(f"/reels/{world.b_reel}").status_code == 200

    # Bad input: one line naming the input and the fix, exit 2, nothing stored.
    for args, words in [
        (("user", "add", "bob", "--creators", "nobody.here", "--generate"), "--creators: no creator 'nobody.here' (known: other.handle, your.handle)"),
        (("user", "add", "bo b", "--all", "--generate"), "user name 'bo b': use 1-64 letters"),
        (("user", "add", "ana", "--all", "--generate"), "user 'ana' already exists"),
        (("user", "add", "bob", "--generate"), "--creators a,b (those only) or --all"),
        (("user", "add", "bob", "--all", "--creators", A, "--generate"), "--creators a,b (those only) or --all"),
        (("user", "add", "bob", "--all"), "use --password-stdin, or --generate"),
        (("user", "remove", "ana"), "pass --yes"),
        (("user", "password", "nobody", "--generate"), "user 'nobody' does not exist (users: ana, creator)"),
    ]:
        result = reeltwin(project, *args)
        assert result.returncode == 2 and words in result.stderr and len(result.stderr.strip().splitlines()) == 1, (args, result.stderr)
        assert "Traceback" not in result.stderr
    assert session.execute(select(func.count()).select_from(WebAccount)).scalar_one() == 2

    # A new password ends her sessions; removing her ends them too (and her creators go with her).
    from cli_helpers import REELTWIN, clean_env
    import subprocess

    done = subprocess.run([*REELTWIN, "user", "password", "ana", "--password-stdin"], cwd=project, env=clean_env(), input="a whole new password\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert client.get("/", follow_redirects=False).status_code == 303
    assert login_as(client, "ana", "a whole new password").status_code == 303
    assert reeltwin(project, "user", "remove", "ana", "--yes").returncode == 0
    assert client.get("/", follow_redirects=False).status_code == 303
    session.rollback()
    assert session.execute(select(func.count()).select_from(WebAccountCreator)).scalar_one() == 0


def test_the_first_password_is_a_user_with_every_creator(project: Path, session: Session, world: World) -> None:
    import subprocess

    from cli_helpers import REELTWIN, clean_env

    done = subprocess.run([*REELTWIN, "password", "--password-stdin"], cwd=project, env=clean_env(), input=PASSWORD + "\n",
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    listed = json.loads(reeltwin(project, "user", "list", "--json").stdout)["users"]
    assert [(u["name"], u["all_creators"]) for u in listed] == [("creator", True)]


def test_the_migration_keeps_the_existing_login_with_every_creator(tmp_path: Path) -> None:
    import sqlalchemy as sa

    from agent.db.engine import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0008")
    with engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO webaccount (username, password_hash, updated_at) VALUES ('creator', 'scrypt$x', '2026-01-01 00:00:00')"))
    upgrade(engine)
    with Session(engine) as db:
        account = db.execute(select(WebAccount)).scalar_one()
        assert account.username == "creator" and account.all_creators is True
    assert COOKIE  # the cookie name is unchanged: sessions from before the upgrade still count
