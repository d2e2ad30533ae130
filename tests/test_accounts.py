"""Each creator's own publishing account: secrets encrypted at rest, routing reels to their own creator's account only,
token refresh and expiry warnings, the single-account settings of one-creator installs, the CLI, the web page, migration 0008.

Instagram is a local fake Graph API (``fake_graph.FakeGraph``) with the account endpoints added here: ``GET /{ig-user-id}``
(who the token is), ``debug_token``, ``oauth/access_token`` (fb_exchange_token) and ``refresh_access_token`` (ig_refresh_token).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
import threading
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from cli_helpers import REELTWIN, clean_env, make_test_video
from fake_graph import FakeGraph, _Handler
from sqlalchemy import select
from sqlmodel import Session
from typer.testing import CliRunner

from agent.approval.queue import add_draft, approve
from agent.content_calendar.loader import load_calendar
from agent.content_calendar.planner import sync_plan
from agent.db.engine import alembic_config, current_revision, make_engine, upgrade
from agent.db.models import Creator, PublishAccount, Reel, ReelStatus, utcnow
from agent.jobs.publish import publish_due, publish_reel
from agent.publish_accounts import (
    NoPublishAccount,
    SecretBox,
    SecretKeyError,
    check_account,
    get_account,
    notices,
    refresh_tokens,
    resolve_account,
    save_account,
    secret_box,
)
from agent.settings import load_settings

REPO = Path(__file__).resolve().parent.parent
KEY = "x0Yk2sBo3x1q3mT5qW2l1yYQm4m7H3lG1bA8cC9dD0E="   # a valid Fernet key (32 bytes, url-safe base64)
APP_ID, APP_SECRET = "4242", "app-secret-0123456789"
WEB_SECRET = "accounts-web-secret-0123456789"


# -- a fake Graph API that also knows the account and token endpoints --------------------------------

class _AccountHandler(_Handler):
    def _route(self, method: str, parts: list[str], endpoint: str, params: dict[str, str]) -> tuple[int, Any]:
        graph: AccountGraph = self.graph  # type: ignore[assignment]
        if parts == ["refresh_access_token"] and method == "GET":   # Instagram Login: unversioned
            if params.get("grant_type") != "ig_refresh_token":
                return self._error(100, "grant_type must be ig_refresh_token")
            return graph.refresh(params.get("access_token"))
        if len(parts) == 3 and parts[0] == graph.api_version and parts[1:] == ["oauth", "access_token"]:
            if params.get("grant_type") != "fb_exchange_token" or (params.get("client_id"), params.get("client_secret")) != (APP_ID, APP_SECRET):
                return self._error(101, "Error validating application. Invalid application ID or secret.")
            return graph.refresh(params.get("fb_exchange_token"))
        if len(parts) == 2 and parts[0] == graph.api_version and parts[1] == "debug_token":
            if params.get("input_token") != graph.access_token:
                return 200, {"data": {"is_valid": False, "expires_at": 0, "scopes": []}}
            return 200, {"data": {"is_valid": True, "expires_at": graph.expires_at, "scopes": ["instagram_content_publish"],
                                  "user_id": "10215241773831025", "type": "USER"}}
        if len(parts) == 2 and parts[0] == graph.api_version and parts[1] == graph.ig_user_id and method == "GET":
            if params.get("access_token") != graph.access_token or not graph.token_valid:
                return self._error(190, "Error validating access token: Session has expired.", subcode=463)
            return 200, {"id": graph.ig_user_id, "username": graph.username}
        return super()._route(method, parts, endpoint, params)


class AccountGraph(FakeGraph):
    """FakeGraph for one account, with who-am-I, debug_token and both token refreshes."""

    def __init__(self, *, username: str, ig_user_id: str, access_token: str, **options: Any):
        super().__init__(ig_user_id=ig_user_id, access_token=access_token, polls_to_finish=0, **options)
        self.username = username
        self.expires_at = int((datetime.now(UTC) + timedelta(days=50)).timestamp())
        self.refresh_refusal: tuple[int, str] | None = None
        self.refreshes = 0

    def refresh(self, token: str | None) -> tuple[int, Any]:
        if token != self.access_token:
            return 400, {"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190}}
        if self.refresh_refusal:
            code, message = self.refresh_refusal
            return 400, {"error": {"message": message, "type": "OAuthException", "code": code}}
        self.refreshes += 1
        self.access_token = f"{token}-refreshed{self.refreshes}"
        self.expires_at = int((datetime.now(UTC) + timedelta(days=60)).timestamp())
        return 200, {"access_token": self.access_token, "token_type": "bearer", "expires_in": 60 * 24 * 3600}

    def start(self) -> AccountGraph:
        fake = self

        class Handler(_AccountHandler):
            graph = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="fake-graph")
        self._thread.start()
        return self


ANN_TOKEN = "EAAGann-SECRET-token-0123456789"
BOB_TOKEN = "EAAGbob-SECRET-token-9876543210"


@pytest.fixture
def graphs():  # noqa: ANN201
    with AccountGraph(username="ann.cooks", ig_user_id="17841400000000011", access_token=ANN_TOKEN) as ann, \
            AccountGraph(username="bob.bakes", ig_user_id="17841400000000022", access_token=BOB_TOKEN) as bob:
        yield ann, bob


# -- projects, creators, reels ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_video(tmp_path_factory.mktemp("media") / "reel.mp4")


@pytest.fixture
def clean_accounts(db_url: str):  # noqa: ANN201
    """No account rows before or after (the PostgreSQL database is shared by the whole run)."""
    def wipe() -> None:
        with make_engine(db_url).begin() as connection:
            connection.execute(sa.text("DELETE FROM publishaccount"))

    wipe()
    yield
    wipe()


def make_project(root: Path, db_url: str, *, handles: tuple[str, ...] = ("ann", "bob"), publishing: str = "", env: str = "",
                 key: str | None = KEY, extra: str = "") -> Path:
    (root / "calendar").mkdir(parents=True, exist_ok=True)
    example = (REPO / "calendar" / "example.yaml").read_text(encoding="utf-8")
    for handle in handles:
        (root / "calendar" / f"{handle}.yaml").write_text(example.replace("handle: your.handle", f"handle: {handle}"), encoding="utf-8")
    (root / "config").mkdir(exist_ok=True)
    (root / "config" / "settings.toml").write_text(
        f'[database]\nurl = "{db_url}"\n[scheduler]\ndraft_ahead = false\nrender_ahead = false\n[web]\nsecret_key = "{WEB_SECRET}"\n'
        f'[publishing]\nmedia_base_url = "https://reels.example.test/public"\n{publishing}\n{extra}', encoding="utf-8")
    (root / ".env").write_text((f"REELTWIN_ACCOUNTS__SECRET_KEY={KEY if key == KEY else key}\n" if key else "") + env, encoding="utf-8")
    return root


def rendered_reel(session: Session, root: Path, handle: str, video: Path, caption: str) -> int:
    """A rendered reel of ``handle`` due a minute ago (its creator planned from its calendar), its video in the data folder."""
    target = root / "data" / "renders" / "reel.mp4"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(video, target)
    video = target
    calendar = load_calendar(root / "calendar" / f"{handle}.yaml").calendar
    report = sync_plan(session, calendar, now=utcnow() - timedelta(days=1), days=14)
    creator = session.execute(select(Creator).where(Creator.handle == handle)).scalar_one()
    taken = {reel.slot_id for reel in session.execute(select(Reel)).scalars()}
    slot = next(slot for slot in report.slots if slot.id not in taken)
    reel = add_draft(session, creator, slot=slot, script=f"{caption} A script.", caption=caption, hashtags=["#test"])
    session.commit()
    approve(session, [reel.id])
    session.execute(Reel.__table__.update().where(Reel.id == reel.id).values(status="rendered", artifacts={"video": str(video)},
                                                                              publish_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    return reel.id


def state(session: Session, reel_id: int) -> Reel:
    session.expire_all()
    return session.get(Reel, reel_id)


def connect_graph(session: Session, settings, handle: str, graph: AccountGraph, *, expires_in: timedelta | None = timedelta(days=50)) -> PublishAccount:
    return save_account(session, settings, handle, "graph", box=secret_box(settings), secret=graph.access_token, ig_user_id=graph.ig_user_id,
                        api_base=graph.base_url, token_expires_at=utcnow() + expires_in if expires_in else None)


def cli(cwd: Path, *args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*REELTWIN, *args], cwd=cwd, env=clean_env(), input=stdin if stdin is not None else "",
                          capture_output=True, text=True, timeout=timeout)


# -- the secrets --------------------------------------------------------------------------------------

def test_secrets_round_trip_encrypted_and_keys_rotate() -> None:
    box = SecretBox(KEY)
    stored = box.encrypt(ANN_TOKEN)
    assert ANN_TOKEN not in stored and box.decrypt(stored, handle="ann") == ANN_TOKEN
    assert "***" in repr(box) and KEY not in repr(box)
    newer = SecretBox.new_key()
    rotated = SecretBox(f"{newer},{KEY}")   # the new key first: it encrypts, the old one still decrypts
    assert rotated.decrypt(stored, handle="ann") == ANN_TOKEN
    assert SecretBox(newer).decrypt(rotated.encrypt("x"), handle="ann") == "x"
    with pytest.raises(SecretKeyError, match=r"^the secret of @ann's publishing account cannot be decrypted .*reeltwin account connect ann") as info:
        SecretBox(newer).decrypt(stored, handle="ann")
    assert ANN_TOKEN not in str(info.value) and "\n" not in str(info.value)


def test_a_bad_key_in_env_is_one_settings_line(tmp_path: Path) -> None:
    root = make_project(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", key="not-a-key")
    result = cli(root, "account", "list")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: .env: accounts.secret_key: is not a Fernet key (32 url-safe base64 bytes); remove the line and run "
        "`reeltwin account connect` to make one, or restore the key you had"]


def test_connect_creates_the_key_once_and_a_wrong_key_is_one_line_exit_2(tmp_path: Path, graphs) -> None:
    ann, _bob = graphs
    root = make_project(tmp_path, f"sqlite:///{tmp_path / 'r.db'}", key=None)
    connected = cli(root, "account", "connect", "ann", "--backend", "graph", "--ig-user-id", ann.ig_user_id, "--api-base", ann.base_url,
                    "--token-stdin", stdin=ANN_TOKEN + "\n")
    assert connected.returncode == 0, connected.stderr
    assert "created the key that encrypts account secrets: REELTWIN_ACCOUNTS__SECRET_KEY in" in connected.stdout
    assert "@ann publishes to graph 17841400000000011 (@ann.cooks); token expires" in connected.stdout
    dotenv = (root / ".env").read_text()
    assert re.search(r"^REELTWIN_ACCOUNTS__SECRET_KEY=\S{44}$", dotenv, re.M) and (root / ".env").stat().st_mode & 0o777 == 0o600
    again = cli(root, "account", "connect", "ann", "--backend", "graph", "--ig-user-id", ann.ig_user_id, "--api-base", ann.base_url,
                "--token-stdin", stdin=ANN_TOKEN + "\n")
    assert again.returncode == 0 and "created the key" not in again.stdout and (root / ".env").read_text() == dotenv
    for output in (connected.stdout, connected.stderr, again.stdout, again.stderr):
        assert ANN_TOKEN not in output

    # Another key (restored from the wrong backup): one line, exit 2, no traceback, no secret.
    (root / ".env").write_text(f"REELTWIN_ACCOUNTS__SECRET_KEY={SecretBox.new_key()}\n", encoding="utf-8")
    wrong = cli(root, "account", "check", "ann")
    assert wrong.returncode == 2 and wrong.stdout == ""
    [line] = wrong.stderr.strip().splitlines()
    assert line.startswith("error: the secret of @ann's publishing account cannot be decrypted with accounts.secret_key (REELTWIN_ACCOUNTS__SECRET_KEY)")
    # The key lost altogether: one line too.
    (root / ".env").write_text("", encoding="utf-8")
    lost = cli(root, "account", "refresh", "ann")
    assert lost.returncode == 2 and len(lost.stderr.strip().splitlines()) == 1 and "accounts.secret_key is not set" in lost.stderr
    assert ANN_TOKEN not in wrong.stderr + lost.stderr and "Traceback" not in wrong.stderr + lost.stderr


def test_the_token_never_shows_in_list_json_config_show_or_the_logs(db_url: str, tmp_path: Path, graphs, session, clean_accounts,
                                                                   caplog: pytest.LogCaptureFixture, video: Path) -> None:
    ann, _bob = graphs
    root = make_project(tmp_path, db_url, handles=("ann",))
    connected = cli(root, "account", "connect", "@ann", "--backend", "graph", "--ig-user-id", ann.ig_user_id, "--api-base", ann.base_url,
                    "--token-stdin", "--json", stdin=ANN_TOKEN + "\n")
    assert connected.returncode == 0, connected.stderr
    view = json.loads(connected.stdout)
    assert view["handle"] == "ann" and view["username"] == "ann.cooks" and view["has_secret"] is True and view["check_result"] == "ok: publishes as @ann.cooks"
    listed = cli(root, "account", "list", "--json")
    config = cli(root, "config", "show", "--json")
    checked = cli(root, "account", "check", "ann", "--json")
    assert listed.returncode == config.returncode == checked.returncode == 0, listed.stderr + config.stderr + checked.stderr
    assert json.loads(listed.stdout)["accounts"][0]["ig_user_id"] == ann.ig_user_id
    assert json.loads(config.stdout)["settings"]["accounts.secret_key"] == "***"
    for result in (connected, listed, config, checked):
        assert ANN_TOKEN not in result.stdout + result.stderr and KEY not in result.stdout + result.stderr
    row = session.execute(select(PublishAccount)).scalar_one()
    assert ANN_TOKEN not in row.secret and "EAAG" not in row.secret   # encrypted at rest

    # In this process: check, refresh (with the app's credentials), publish, a refused token — none logs the secret.
    caplog.set_level(logging.DEBUG)
    settings = load_settings(root).settings
    settings.accounts.graph_app_id, settings.accounts.graph_app_secret = APP_ID, APP_SECRET
    account = get_account(session, "ann")
    assert check_account(session, settings, account).ok
    [outcome] = refresh_tokens(session, settings, force=True)
    assert outcome.result == "refreshed"
    reel_id = rendered_reel(session, root, "ann", video, "Soup for one.")
    [published] = publish_due(session, settings, worker="w", now=utcnow())
    assert published.result == "published"
    ann.token_valid = False
    assert not check_account(session, settings, get_account(session, "ann")).ok
    assert state(session, reel_id).status == ReelStatus.PUBLISHED
    for secret in (ANN_TOKEN, ann.access_token, APP_SECRET, KEY):
        assert secret not in caplog.text
        assert secret not in json.dumps(notices([get_account(session, "ann")], settings), default=str)


# -- routing: each reel to its own creator's account ------------------------------------------------------

def test_two_creators_publish_each_to_its_own_graph_account(db_url: str, tmp_path: Path, graphs, session, clean_accounts, video: Path) -> None:
    ann, bob = graphs
    root = make_project(tmp_path, db_url)
    settings = load_settings(root).settings
    ann_reel = rendered_reel(session, root, "ann", video, "Ann's soup.")
    bob_reel = rendered_reel(session, root, "bob", video, "Bob's bread.")
    connect_graph(session, settings, "ann", ann)
    connect_graph(session, settings, "bob", bob)

    outcomes = publish_due(session, settings, worker="sweep", now=utcnow())
    assert sorted(o.result for o in outcomes) == ["published", "published"]
    assert [m.caption for m in ann.published()] == ["Ann's soup.\n\n#test"]
    assert [m.caption for m in bob.published()] == ["Bob's bread.\n\n#test"]
    # each fake saw only its own token (a request with the other's would have been refused)
    assert {r.params.get("access_token") for r in ann.requests} == {ANN_TOKEN}
    assert {r.params.get("access_token") for r in bob.requests} == {BOB_TOKEN}
    assert state(session, ann_reel).permalink.startswith("https://www.instagram.com/reel/") and state(session, bob_reel).status == ReelStatus.PUBLISHED


def test_a_creator_without_an_account_gets_the_connect_command_never_another_account(db_url: str, tmp_path: Path, graphs, session,
                                                                                     clean_accounts, video: Path) -> None:
    ann, _bob = graphs
    root = make_project(tmp_path, db_url)
    settings = load_settings(root).settings
    bob_reel = rendered_reel(session, root, "bob", video, "Bob's bread.")
    connect_graph(session, settings, "ann", ann)

    # `reeltwin publish ID`: one line, exit 2, the reel left as it was.
    refused = cli(root, "publish", str(bob_reel))
    assert refused.returncode == 2 and refused.stdout == ""
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error: @bob has no publishing account") and "reeltwin account connect bob --backend graph" in line
    assert state(session, bob_reel).status == ReelStatus.RENDERED

    # The sweep: the reel fails with the command that connects one; Ann's account is never used.
    [outcome] = publish_due(session, settings, worker="sweep", now=utcnow())
    assert outcome.result == "failed"
    reel = state(session, bob_reel)
    assert reel.status == ReelStatus.FAILED and reel.failed_stage == "publish"
    assert "connect an account: reeltwin account connect bob --backend graph --ig-user-id ID --token-stdin" in reel.last_error
    assert ann.published() == [] and ann.calls("create") == []


def test_an_unreadable_key_leaves_the_reels_waiting(db_url: str, tmp_path: Path, graphs, session, clean_accounts, video: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    ann, _bob = graphs
    root = make_project(tmp_path, db_url, handles=("ann",))
    settings = load_settings(root).settings
    connect_graph(session, settings, "ann", ann)
    reel_id = rendered_reel(session, root, "ann", video, "Soup.")
    settings.accounts.secret_key = SecretBox.new_key()   # the wrong key
    assert publish_due(session, settings, worker="sweep", now=utcnow()) == []
    assert state(session, reel_id).status == ReelStatus.RENDERED and ann.requests == []
    [record] = [r for r in caplog.records if "reels not published" in r.getMessage()]
    assert "cannot be decrypted" in record.getMessage() and ANN_TOKEN not in caplog.text


# -- one-creator installs: the settings' account, as before ---------------------------------------------

def test_the_single_account_settings_still_publish_for_one_creator(db_url: str, tmp_path: Path, graphs, session, clean_accounts, video: Path) -> None:
    ann, _bob = graphs
    publishing = (f'backend = "graph"\ngraph_ig_user_id = "{ann.ig_user_id}"\ngraph_api_base = "{ann.base_url}"\n'
                  f'graph_api_version = "{ann.api_version}"\n')
    root = make_project(tmp_path, db_url, handles=("ann",), publishing=publishing, env=f"REELTWIN_PUBLISHING__GRAPH_ACCESS_TOKEN={ANN_TOKEN}\n")
    settings = load_settings(root).settings
    first = rendered_reel(session, root, "ann", video, "First soup.")
    assert resolve_account(session, settings, "ann") is None   # no rows: the settings' account
    assert publish_reel(session, settings, first, worker="w").result == "published"
    assert [m.caption for m in ann.published()] == ["First soup.\n\n#test"]

    # A second creator appears: the one Instagram account in the settings is no longer used for anybody's reels.
    calendar = load_calendar(root / "calendar" / "ann.yaml").calendar.model_copy(update={"handle": "bob"})
    sync_plan(session, calendar, now=utcnow(), days=3)
    with pytest.raises(NoPublishAccount, match="holds one Instagram account but 2 creators exist"):
        resolve_account(session, settings, "ann")

    # The migration: the settings' account becomes Ann's own (encrypted), and publishing goes on there.
    migrated = cli(root, "account", "connect", "ann", "--from-settings")
    assert migrated.returncode == 0, migrated.stderr
    assert "@ann publishes to graph 17841400000000011 (@ann.cooks)" in migrated.stdout and ANN_TOKEN not in migrated.stdout
    session.expire_all()
    row = get_account(session, "ann")
    assert row.api_base == ann.base_url and secret_box(settings).decrypt(row.secret, handle="ann") == ANN_TOKEN
    second = rendered_reel(session, root, "ann", video, "Second soup.")
    assert publish_reel(session, settings, second, worker="w").result == "published"
    assert len(ann.published()) == 2


def test_the_outbox_default_serves_every_creator_until_accounts_are_connected(db_url: str, tmp_path: Path, session, clean_accounts, video: Path) -> None:
    root = make_project(tmp_path, db_url)
    settings = load_settings(root).settings
    rendered_reel(session, root, "ann", video, "Ann's soup.")
    rendered_reel(session, root, "bob", video, "Bob's bread.")
    assert sorted(o.result for o in publish_due(session, settings, worker="w", now=utcnow())) == ["published", "published"]
    assert len(list(settings.outbox_dir.glob("*/caption.txt"))) == 2
    # An outbox account of its own: a folder of its own.
    save_account(session, settings, "bob", "outbox")
    third = rendered_reel(session, root, "bob", video, "More bread.")
    assert publish_reel(session, settings, third, worker="w").result == "published"
    assert [p.read_text() for p in (settings.outbox_dir / "bob").glob("*/caption.txt")] == ["More bread.\n\n#test\n"]


# -- tokens: refresh before they lapse, warn before they run out ---------------------------------------

def test_tokens_are_refreshed_before_they_expire_and_failures_warn(db_url: str, tmp_path: Path, graphs, session, clean_accounts,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.scheduler.service import Service

    ann, bob = graphs
    root = make_project(tmp_path, db_url, extra=f'[accounts]\ngraph_app_id = "{APP_ID}"\nrefresh_days = 10\nwarn_days = 7\n',
                        env=f"REELTWIN_ACCOUNTS__GRAPH_APP_SECRET={APP_SECRET}\n")
    settings = load_settings(root).settings
    connect_graph(session, settings, "ann", ann, expires_in=timedelta(days=5))     # due: refreshed
    connect_graph(session, settings, "bob", bob, expires_in=timedelta(days=30))    # not due
    service = Service(settings, root)
    sent: list[str] = []
    monkeypatch.setattr(service.notifier, "send", lambda text: sent.append(text) or True)

    assert service.sweep_accounts().summary == "1 not due, 1 refreshed"
    assert service.sweep_accounts().summary == "fresh"   # once a day
    session.expire_all()
    row = get_account(session, "ann")
    assert ann.refreshes == 1 and secret_box(settings).decrypt(row.secret, handle="ann") == ann.access_token != ANN_TOKEN
    assert row.token_expires_at > utcnow() + timedelta(days=59) and row.refresh_error is None and sent == []
    assert get_account(session, "bob").token_expires_at < utcnow() + timedelta(days=31) and bob.refreshes == 0

    # The refreshed token is the one used from now on (the old one is refused by the fake).
    assert check_account(session, settings, row).ok

    # Meta refuses the next refresh: the account says why, a notification goes out, the banner shows it.
    ann.refresh_refusal = (190, "Error validating access token: The user has not authorized application 4242.")
    session.execute(sa.update(PublishAccount).where(PublishAccount.handle == "ann").values(token_expires_at=utcnow() + timedelta(days=3)))
    session.commit()
    service._accounts_at = None
    assert service.sweep_accounts().summary == "1 failed, 1 not due"
    session.expire_all()
    assert "not authorized" in get_account(session, "ann").refresh_error
    [message] = sent
    assert message.startswith("@ann: refreshing the Instagram token failed:") and ann.access_token not in message

    # Bob's token runs out within accounts.warn_days and cannot be refreshed now: warned, days before.
    session.execute(sa.update(PublishAccount).where(PublishAccount.handle == "bob").values(token_expires_at=utcnow() + timedelta(days=6, hours=1)))
    session.commit()
    bob.refresh_refusal = (2, "Service temporarily unavailable")
    service._accounts_at = None
    sent.clear()
    service.sweep_accounts()
    assert any(text.startswith("@bob: refreshing the Instagram token failed") for text in sent)
    bob.refresh_refusal = None
    session.execute(sa.update(PublishAccount).where(PublishAccount.handle == "bob").values(refresh_error=None))
    session.commit()
    session.expire_all()
    [notice] = [n for n in notices([get_account(session, "bob")], settings)]
    assert notice.message.startswith("@bob: the Instagram token expires in 6 days") and "reeltwin account connect bob" in notice.message
    service.close()


def test_a_facebook_login_token_without_the_app_credentials_is_not_refreshed_but_named(db_url: str, tmp_path: Path, graphs, session,
                                                                                       clean_accounts) -> None:
    ann, _bob = graphs
    root = make_project(tmp_path, db_url, handles=("ann",))
    settings = load_settings(root).settings
    connect_graph(session, settings, "ann", ann, expires_in=timedelta(days=2))
    [outcome] = refresh_tokens(session, settings)
    assert outcome.result == "failed" and "set accounts.graph_app_id and REELTWIN_ACCOUNTS__GRAPH_APP_SECRET" in outcome.detail
    assert ann.requests == []   # nothing was asked without the credentials


def test_instagram_login_tokens_refresh_with_ig_refresh_token(graphs) -> None:
    from publishing.graph import GraphPublisher

    ann, _bob = graphs
    with GraphPublisher(ig_user_id=ann.ig_user_id, access_token=ANN_TOKEN, media_url_for=str, api_base=ann.base_url,
                        api_version=ann.api_version, instagram_login=True) as publisher:
        assert publisher.account_username() == "ann.cooks"
        fresh = publisher.refresh_token(now=datetime(2026, 12, 1, tzinfo=UTC))
        assert fresh.access_token == ann.access_token and fresh.expires_at == datetime(2027, 1, 30, tzinfo=UTC)
        assert publisher.account_username() == "ann.cooks"   # it uses the new token from now on
    [call] = [r for r in ann.requests if r.path == "/refresh_access_token"]
    assert call.params["grant_type"] == "ig_refresh_token"


# -- insights per account ------------------------------------------------------------------------------

def test_peak_time_insights_are_fetched_per_account(db_url: str, tmp_path: Path, graphs, session, clean_accounts) -> None:
    from agent.scheduler.service import Service

    ann, bob = graphs
    ann.add_existing_media("ann's older reel", age=timedelta(days=3), likes=40, comments=5)
    bob.add_existing_media("bob's reel", age=timedelta(days=2), likes=10, comments=0)
    bob.add_existing_media("bob's other reel", age=timedelta(days=4), likes=1, comments=1)
    root = make_project(tmp_path, db_url)
    settings = load_settings(root).settings
    connect_graph(session, settings, "ann", ann)
    connect_graph(session, settings, "bob", bob)
    with Service(settings, root) as service:
        summary = service.sweep_insights().summary
    assert summary == "@ann: no insight, 1 posts; @bob: no insight, 2 posts"
    session.expire_all()
    audience = {c.handle: c.audience for c in session.execute(select(Creator)).scalars()}
    assert [post[1] for post in audience["ann"]["posts"]] == [50.0]
    assert sorted(post[1] for post in audience["bob"]["posts"]) == [3.0, 10.0]


# -- the web page ------------------------------------------------------------------------------------

def test_the_accounts_page_connects_checks_and_removes_without_showing_secrets(db_url: str, tmp_path: Path, graphs, session, clean_accounts) -> None:
    from fastapi.testclient import TestClient

    from agent.db.models import WebAccount
    from agent.web.app import create_app
    from agent.web.security import hash_password

    ann, _bob = graphs
    root = make_project(tmp_path, db_url)
    settings = load_settings(root).settings
    session.execute(sa.delete(WebAccount))
    session.add(WebAccount(username="creator", password_hash=hash_password("correct horse battery")))
    session.commit()
    client = TestClient(create_app(settings, root), base_url="http://testserver")
    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    token = csrf.search(client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf": token, "username": "creator", "password": "correct horse battery", "next": "/"},
                       follow_redirects=False).status_code == 303

    page = client.get("/accounts")
    assert page.status_code == 200 and "@ann" in page.text and "@bob" in page.text and 'href="/accounts"' in page.text
    token = csrf.search(page.text).group(1)
    refused = client.post("/accounts/ann/connect", data={"csrf": token, "backend": "graph", "ig_user_id": ann.ig_user_id,
                                                         "token": "EAAG-wrong-token", "api_base": ann.base_url})
    assert refused.status_code == 422 and "not connected" in refused.text and "EAAG-wrong-token" not in refused.text
    assert get_account(session, "ann") is None
    forged = client.post("/accounts/ann/connect", data={"csrf": "forged", "backend": "outbox"})
    assert forged.status_code == 403 and get_account(session, "ann") is None
    done = client.post("/accounts/ann/connect", data={"csrf": token, "backend": "graph", "ig_user_id": ann.ig_user_id,
                                                      "token": ANN_TOKEN, "api_base": ann.base_url}, follow_redirects=False)
    assert done.status_code == 303
    shown = client.get("/accounts")
    assert "ann.cooks" in shown.text and "ok: publishes as @ann.cooks" in shown.text and ANN_TOKEN not in shown.text
    session.expire_all()
    assert get_account(session, "ann").secret and ANN_TOKEN not in get_account(session, "ann").secret
    assert client.post("/accounts/ann/check", data={"csrf": token}, follow_redirects=False).status_code == 303

    # A token about to run out: a banner on every page.
    session.execute(sa.update(PublishAccount).where(PublishAccount.handle == "ann").values(token_expires_at=utcnow() + timedelta(days=2, hours=1)))
    session.commit()
    queue = client.get("/")
    assert "@ann: the Instagram token expires in 2 days" in queue.text and ANN_TOKEN not in queue.text
    assert "on the Accounts page" in queue.text and "reeltwin account" not in queue.text   # the web's words, not the CLI's

    assert client.post("/accounts/ann/remove", data={"csrf": token}, follow_redirects=False).status_code == 303
    session.expire_all()
    assert get_account(session, "ann") is None
    assert "the Instagram token expires" not in client.get("/").text


# -- migration 0008 -------------------------------------------------------------------------------------

def test_migration_0008_creates_and_drops_the_accounts_table(tmp_path: Path) -> None:
    from alembic import command

    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    command.upgrade(alembic_config(engine), "0007")
    assert "publishaccount" not in sa.inspect(engine).get_table_names()
    command.upgrade(alembic_config(engine), "0008")
    assert current_revision(engine) == "0008"
    columns = {c["name"] for c in sa.inspect(engine).get_columns("publishaccount")}
    assert {"handle", "backend", "ig_user_id", "username", "secret", "token_expires_at", "token_refreshed_at", "refresh_error",
            "checked_at", "check_result", "created_at", "updated_at"} <= columns
    assert [(i["column_names"], bool(i["unique"])) for i in sa.inspect(engine).get_indexes("publishaccount")] == [(["handle"], True)]
    with Session(engine) as db:
        db.add(PublishAccount(handle="ann", backend="outbox"))
        db.commit()
        db.add(PublishAccount(handle="ann", backend="graph"))
        with pytest.raises(sa.exc.IntegrityError):
            db.commit()
    command.downgrade(alembic_config(engine), "0007")
    assert "publishaccount" not in sa.inspect(engine).get_table_names() and current_revision(engine) == "0007"
    upgrade(engine)
    assert "publishaccount" in sa.inspect(engine).get_table_names()


def test_migration_0008_down_and_up_on_either_backend(db_url: str, clean_accounts) -> None:
    from alembic import command

    from agent.db.engine import head_revision

    engine = make_engine(db_url)
    head = head_revision(engine)
    try:
        command.downgrade(alembic_config(engine), "0007")
        assert "publishaccount" not in sa.inspect(engine).get_table_names()
    finally:   # the PostgreSQL database is shared by the whole run: put it back
        command.upgrade(alembic_config(engine), head)
    assert "publishaccount" in sa.inspect(engine).get_table_names() and current_revision(engine) == head


# -- instagrapi and outbox through the command line (in-process, the fake instagrapi client behind it) ----------

def test_an_instagrapi_account_logs_in_like_instagram_login_and_stores_the_password_encrypted(db_url: str, tmp_path: Path, session,
                                                                                               clean_accounts, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from test_instagrapi_publisher import PASSWORD, USER_ID, USERNAME, FakeClient, FakeInstagram

    from agent.cli import account_cmd, instagram_cmd
    from agent.cli.context import AppContext
    from agent.cli.main import ReelTwinGroup

    for name in list(os.environ):
        if name.upper().startswith("REELTWIN_"):
            monkeypatch.delenv(name)
    root_dir = make_project(tmp_path, db_url, handles=("ann",))
    instagram = FakeInstagram()
    monkeypatch.setattr(instagram_cmd, "client_factory", lambda: FakeClient(instagram))
    root = typer.Typer(cls=ReelTwinGroup, no_args_is_help=True, pretty_exceptions_enable=False)

    @root.callback()
    def _root(ctx: typer.Context) -> None:
        ctx.obj = AppContext(root_dir)
        ctx.call_on_close(ctx.obj.close)

    root.add_typer(account_cmd.app, name="account")
    runner = CliRunner()
    logger = logging.getLogger()
    level, handlers = logger.level, list(logger.handlers)
    try:
        wrong = runner.invoke(root, ["account", "connect", "ann", "--backend", "instagrapi", "--username", USERNAME, "--password-stdin"],
                              input="Wr0ng-Secret-Pass!\n")
        assert wrong.exit_code == 2 and wrong.stderr.count("\n") == 1 and "not connected" in wrong.stderr
        assert "Wr0ng-Secret-Pass!" not in wrong.output + wrong.stderr and get_account(session, "ann") is None
        done = runner.invoke(root, ["account", "connect", "ann", "--backend", "instagrapi", "--username", USERNAME, "--password-stdin", "--json"],
                             input=PASSWORD + "\n")
        assert done.exit_code == 0, done.output
        view = json.loads(done.stdout)
        assert view["backend"] == "instagrapi" and view["username"] == USERNAME and view["has_secret"] is True
        assert view["check_result"] == f"ok: logged in as @{USERNAME} (user id {USER_ID})" and PASSWORD not in done.output + done.stderr
        session.expire_all()
        row = get_account(session, "ann")
        assert PASSWORD not in row.secret and secret_box(load_settings(root_dir).settings).decrypt(row.secret, handle="ann") == PASSWORD
        from publishing.instagrapi_publisher import session_file_for

        assert session_file_for(root_dir / "data", USERNAME).is_file()   # the saved session publishing uses

        # remove: asks, or takes --yes
        asked = runner.invoke(root, ["account", "remove", "ann"])
        assert asked.exit_code == 2 and "add --yes" in asked.stderr and get_account(session, "ann") is not None
        removed = runner.invoke(root, ["account", "remove", "ann", "--yes", "--json"])
        assert removed.exit_code == 0 and json.loads(removed.stdout) == {"handle": "ann", "removed": True, "backend": "instagrapi"}
        session.expire_all()
        assert get_account(session, "ann") is None
        missing = runner.invoke(root, ["account", "check", "ann"])
        assert missing.exit_code == 2 and "@ann has no publishing account; connect one: reeltwin account connect ann" in missing.stderr
    finally:
        for handler in [h for h in logger.handlers if h not in handlers]:
            logger.removeHandler(handler)
        logger.setLevel(level)
