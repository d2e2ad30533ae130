"""Settings: ``config/settings.toml``, then ``.env``, then ``REELTWIN_*`` variables.

One :class:`Settings` object, built by :func:`load_settings` and passed down;
nothing reads the environment at import time. Every leaf value remembers where
it came from (:class:`LoadedSettings.sources`) for ``reeltwin config show``, and
validation errors name the file or variable that holds the bad value.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    DotEnvSettingsSource,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from agent.errors import ConfigError

ENV_PREFIX = "REELTWIN_"
# Variables that steer where settings are read from, not settings themselves.
CONTROL_VARIABLES = {"REELTWIN_HOME"}  # REELTWIN_TEST_* belong to the test suite and are ignored too
SETTINGS_FILE = Path("config") / "settings.toml"
DOTENV_FILE = Path(".env")

_PLACEHOLDER = re.compile(r"^(change[-_ ]?me|your[-_ ].*|xxx+|\.\.\.|<.*>|todo|placeholder|secret|password|sk-\.\.\.)$", re.I)
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info: Any) -> Any:
        # `KEY=` in .env means "not set", not "the empty string".
        if isinstance(value, str) and value.strip() == "" and cls.model_fields[info.field_name].default is None:
            return None
        return value

    @field_validator("*", mode="after")
    @classmethod
    def _refuse_placeholder_secrets(cls, value: Any) -> Any:
        if isinstance(value, SecretStr) and _PLACEHOLDER.match(value.get_secret_value().strip()):
            raise ValueError("is a placeholder, not a secret; set the real value or remove the line")
        return value


class DatabaseSettings(_Section):
    url: str | None = Field(None, description="SQLAlchemy URL; empty = SQLite file in the data directory")
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_dialect(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql")):
            raise ValueError(f"{value.split(':', 1)[0]!r} is not supported; use sqlite:///path or postgresql+psycopg://user@host/db")
        return value


class DraftingSettings(_Section):
    provider: Literal["embedded", "openai"] = "embedded"
    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str | None = None
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    timeout_s: float = Field(60.0, gt=0, le=3600)
    max_retries: int = Field(3, ge=0, le=10)          # HTTP retries (429, 5xx, timeouts), with backoff
    max_attempts: int = Field(3, ge=1, le=10)         # answers that fail validation are sent back this often
    max_seconds: float = Field(90.0, gt=0, le=3600)   # per slot, retries included: then the best valid attempt, or the slot stays open
    response_format: Literal["auto", "json_schema", "json_object", "none"] = "auto"
    embedded_model_path: Path | None = None           # another GGUF for the embedded server
    #: threads for the embedded model; 0: half the cores (at least 1). llama.cpp's threads spin at every step:
    #: with as many threads as cores and anything else running, it crawls (measured 4 tokens/s instead of 40)
    embedded_threads: int = Field(0, ge=0, le=256)
    seed: int | None = None                           # fixed sampling seed (reproducible drafts where the server supports it)
    lead_days: int = Field(7, ge=1, le=60)
    words_per_minute: int = Field(150, ge=60, le=300)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://", value):
            raise ValueError(f"{value!r} is not an http(s) URL; e.g. http://127.0.0.1:11434/v1")
        return value


class VoiceSettings(_Section):
    backend: Literal["piper-world", "xtts"] = "piper-world"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    xtts_model_dir: Path | None = None


class AvatarSettings(_Section):
    backend: str = "cpu-mesh"            # renders photo avatars
    footage_backend: str = "footage"     # renders clip (footage) avatars
    fps: int = Field(30, ge=12, le=60)
    width: int = Field(1080, ge=240, le=2160)
    height: int = Field(1920, ge=426, le=3840)
    seed: int = 7


class CaptionsSettings(_Section):
    # auto: the synthesizer's exact timings, else sphinx (PocketSphinx forced alignment), else faster-whisper
    aligner: Literal["auto", "synth", "sphinx", "faster-whisper", "whisperx"] = "auto"
    whisperx_model_dir: Path | None = None    # wav2vec2 model folder(s) for aligner = "whisperx": <dir>/<language> or one model
    font: str = "DejaVu Sans"
    font_size_px: int = Field(68, ge=16, le=200)
    fill: str = "#FFFFFF"
    highlight: str = "#FFD400"
    outline: str = "#000000"
    outline_px: int = Field(6, ge=0, le=30)
    uppercase: bool = False
    max_words_per_chunk: int = Field(4, ge=1, le=8)

    @field_validator("fill", "highlight", "outline")
    @classmethod
    def _hex_color(cls, value: str) -> str:
        if not _COLOR.match(value):
            raise ValueError(f"{value!r} is not a colour; use #RRGGBB or #RRGGBBAA")
        return value


def _s3_endpoint(value: str | None) -> str | None:
    """An S3-compatible endpoint: an http(s) URL, or None for AWS S3."""
    if value is not None and not re.match(r"^https?://[^/]", value):
        raise ValueError(f"{value!r} is not an http(s) URL; e.g. http://minio.lan:9000 or https://<account>.r2.cloudflarestorage.com")
    return value


def _s3_prefix(value: str) -> str:
    """A key prefix: no leading slash, a trailing one (or empty)."""
    value = value.lstrip("/")
    return value if not value or value.endswith("/") else value + "/"


class S3HostingSettings(_Section):
    """An S3-compatible bucket (AWS S3, Cloudflare R2, MinIO, Backblaze B2) that holds reels while Instagram fetches them."""

    bucket: str | None = None
    endpoint_url: str | None = None                   # None: AWS S3; e.g. https://<account>.r2.cloudflarestorage.com
    region: str | None = None                         # None: the AWS default chain (AWS_REGION, ~/.aws/config), else us-east-1
    prefix: str = "reeltwin/"                         # keys are <prefix><publish key>/<sha256 prefix>-<file name>
    access_key_id: SecretStr | None = None            # both None: boto3's default credential chain (env, ~/.aws, instance role)
    secret_access_key: SecretStr | None = None
    url_lifetime_s: int = Field(6 * 3600, ge=300, le=7 * 24 * 3600)   # presigned URLs (SigV4) live at most 7 days
    delete_after_publish: bool = True
    addressing_style: Literal["auto", "path", "virtual"] = "auto"    # "path" for MinIO and most self-hosted stores

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _s3_endpoint(value)

    @field_validator("prefix")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        return _s3_prefix(value)


class StorageSettings(_Section):
    """Where photos, clips, voices and rendered reels live: the data folder ("local"), or an S3-compatible bucket
    ("s3") shared by every machine (``reeltwin run``, the web server, workers elsewhere), each keeping a local cache
    in its own data folder. Unset S3 values fall back to publishing.s3's: one bucket and one key pair can serve both."""

    backend: Literal["local", "s3"] = "local"
    bucket: str | None = None                         # None: publishing.s3.bucket
    endpoint_url: str | None = None                   # None: publishing.s3.endpoint_url (None there too: AWS S3)
    region: str | None = None                         # None: publishing.s3.region, else the AWS default chain
    prefix: str = "reeltwin-media/"                   # keys are <prefix><path inside the data folder>, e.g. reeltwin-media/reels/12/reel-v1-a1.mp4
    access_key_id: SecretStr | None = None            # both None: publishing.s3's pair, else boto3's default chain (env, ~/.aws, role)
    secret_access_key: SecretStr | None = None
    addressing_style: Literal["auto", "path", "virtual"] | None = None   # None: publishing.s3.addressing_style; "path" for MinIO
    timeout_s: float = Field(60.0, gt=0, le=3600)     # connect and read timeout of one request
    # This machine's copies of files that are in the bucket are kept up to this size; past it, the least recently
    # used (and unused for cache_idle_minutes) are deleted here, never in the bucket. 0: keep every copy.
    cache_max_gb: float = Field(20.0, ge=0)
    cache_idle_minutes: float = Field(60.0, ge=1)

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _s3_endpoint(value)

    @field_validator("prefix")
    @classmethod
    def _key_prefix(cls, value: str) -> str:
        return _s3_prefix(value)


class PublishingSettings(_Section):
    backend: Literal["outbox", "graph", "instagrapi"] = "outbox"
    ai_label: bool = True
    outbox_dir: Path | None = None
    graph_ig_user_id: str | None = None
    graph_access_token: SecretStr | None = None
    graph_api_version: str = "v21.0"
    graph_api_base: str = "https://graph.facebook.com"   # configurable so tests can point it at a local server
    media_hosting: Literal["self", "s3"] = "self"    # where Instagram fetches the video: our /public route, or an S3 bucket
    media_base_url: str | None = None                 # media_hosting = "self": the public URL of the web server's /public route
    s3: S3HostingSettings = Field(default_factory=S3HostingSettings)
    instagrapi_username: str | None = None
    instagrapi_password: SecretStr | None = None


class SchedulerSettings(_Section):
    draft_ahead: bool = True                          # draft open slots within drafting.lead_days by itself
    render_ahead: bool = True                         # render approved reels within render_lead_hours by itself
    sweep_interval_s: int = Field(60, ge=5, le=3600)
    render_lead_hours: int = Field(12, ge=1, le=168)
    publish_grace_minutes: int = Field(120, ge=0, le=1440)
    max_attempts: int = Field(5, ge=1, le=50)
    backoff_base_s: int = Field(60, ge=1)
    backoff_cap_s: int = Field(3600, ge=1)
    render_lease_minutes: int = Field(30, ge=1, le=1440)    # a render claim older than this was left by a worker that died
    publish_lease_minutes: int = Field(30, ge=1, le=1440)   # a publish claim older than this is taken over and resumed
    webhook_url: SecretStr | None = None
    public_web_url: str | None = None                 # e.g. https://reels.example.com — links in notifications


class WebSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    secret_key: SecretStr | None = None
    max_upload_mb: int = Field(50, ge=1, le=2048)
    cookie_secure: bool = False                       # true behind HTTPS: cookies only over TLS
    session_hours: int = Field(24 * 14, ge=1, le=24 * 90)
    login_attempts_per_15_min: int = Field(5, ge=1, le=100)
    # Reverse proxies (addresses or CIDRs) whose X-Forwarded-For names the real client; empty: nobody's is believed.
    # In .env as JSON: REELTWIN_WEB__TRUSTED_PROXIES='["127.0.0.1", "::1"]'
    trusted_proxies: list[str] = Field(default_factory=list)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        import ipaddress

        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an address or CIDR (e.g. 127.0.0.1, ::1, 10.0.0.0/8)") from None
        return value


_project_dir: ContextVar[Path] = ContextVar("reeltwin_project_dir")


class _ReelTwinDotEnv(DotEnvSettingsSource):
    """`.env` may hold other tools' variables too (OPENAI_API_KEY, ...): only REELTWIN_* are ours."""

    def _load_env_vars(self, *args: Any, **kwargs: Any) -> Any:
        variables = super()._load_env_vars(*args, **kwargs)
        return {key: value for key, value in variables.items() if key.upper().startswith(ENV_PREFIX) and key.upper() not in CONTROL_VARIABLES}


class WorkersSettings(_Section):
    """Where render and publish work runs: in the `reeltwin run` process ("local"), or on Celery workers
    (`reeltwin worker`, on this machine or others) over Redis or RabbitMQ, with the database in PostgreSQL."""

    backend: Literal["local", "celery"] = "local"
    # redis://[:password@]host:6379/0 or amqp://user:password@host:5672//; a secret because it usually holds a password
    broker_url: SecretStr = SecretStr("redis://127.0.0.1:6379/0")
    # Redis: a task a worker took but did not finish (it died) is handed to another worker after this long;
    # longer than the longest render, or a slow render is delivered twice (harmless: the database claim decides, but wasted)
    visibility_timeout_s: int = Field(2 * 3600, ge=60, le=7 * 24 * 3600)
    concurrency: int = Field(1, ge=1, le=256)          # tasks at once per `reeltwin worker` (processes)
    # at most this many reels wait on each queue; every sweep tops it up, soonest first (a backlog of thousands
    # stays in the database, where a changed time or a rejection still counts, not in the broker)
    max_queued: int = Field(1000, ge=1, le=1_000_000)
    # Python modules every worker (and `reeltwin run`) imports first: your own backends, registering themselves
    # through the registries (a render backend, a reel renderer)
    imports: list[str] = Field(default_factory=list)
    renderer: str = "pipeline"                          # the reel renderer: "pipeline" = voice -> avatar -> compose -> QA

    @field_validator("broker_url")
    @classmethod
    def _broker_scheme(cls, value: SecretStr) -> SecretStr:
        scheme = value.get_secret_value().split("://", 1)[0].lower() if "://" in value.get_secret_value() else ""
        if scheme not in ("redis", "rediss", "amqp", "amqps", "pyamqp"):
            raise ValueError(f"{scheme or 'no scheme'!r} is not a broker ReelTwin runs on; use redis://host:6379/0 or amqp://user:password@host:5672//")
        return value


class AccountsSettings(_Section):
    """Each creator's own publishing account (``reeltwin account connect``): its token or password is stored
    encrypted (Fernet) with ``secret_key``, and Graph tokens are refreshed before they lapse."""

    # Fernet key(s), in .env as REELTWIN_ACCOUNTS__SECRET_KEY; `reeltwin account connect` writes one there if none is set.
    # Several keys separated by commas rotate: the first encrypts, every one decrypts. Lost key: reconnect the accounts.
    secret_key: SecretStr | None = None
    refresh_days: int = Field(14, ge=1, le=59)        # a long-lived Graph token is refreshed once it expires within this many days
    warn_days: int = Field(7, ge=1, le=59)            # warn (notification, web banner) this many days before a token runs out
    # Facebook Login tokens (graph.facebook.com) are refreshed with fb_exchange_token, which needs the app's id and secret;
    # Instagram Login tokens (graph.instagram.com) need neither.
    graph_app_id: str | None = None
    graph_app_secret: SecretStr | None = None

    @field_validator("secret_key")
    @classmethod
    def _fernet_keys(cls, value: SecretStr | None) -> SecretStr | None:
        import base64
        import binascii

        if value is None:
            return None
        for key in value.get_secret_value().split(","):
            try:
                ok = len(base64.urlsafe_b64decode(key.strip().encode("ascii"))) == 32
            except (binascii.Error, ValueError, UnicodeEncodeError):
                ok = False
            if not ok:
                raise ValueError("is not a Fernet key (32 url-safe base64 bytes); remove the line and run "
                                 "`reeltwin account connect` to make one, or restore the key you had")
        return value


class Settings(BaseSettings):
    """All of ReelTwin's settings. Build it with :func:`load_settings`."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        case_sensitive=False,
        validate_default=True,
    )

    data_dir: Path = Path("data")
    calendar_dir: Path = Path("calendar")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    drafting: DraftingSettings = Field(default_factory=DraftingSettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    avatar: AvatarSettings = Field(default_factory=AvatarSettings)
    captions: CaptionsSettings = Field(default_factory=CaptionsSettings)
    publishing: PublishingSettings = Field(default_factory=PublishingSettings)
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    web: WebSettings = Field(default_factory=WebSettings)
    workers: WorkersSettings = Field(default_factory=WorkersSettings)
    accounts: AccountsSettings = Field(default_factory=AccountsSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return tuple(source for _label, source in _sources(settings_cls, init_settings))

    # Paths in settings are relative to the project directory.
    def resolve(self, project_dir: Path) -> "Settings":
        def absolute(path: Path) -> Path:
            return path if path.is_absolute() else (project_dir / path)

        self.data_dir = absolute(self.data_dir)
        self.calendar_dir = absolute(self.calendar_dir)
        if self.publishing.outbox_dir is not None:
            self.publishing.outbox_dir = absolute(self.publishing.outbox_dir)
        if self.drafting.embedded_model_path is not None:
            self.drafting.embedded_model_path = absolute(self.drafting.embedded_model_path)
        if self.voice.xtts_model_dir is not None:
            self.voice.xtts_model_dir = absolute(self.voice.xtts_model_dir)
        if self.captions.whisperx_model_dir is not None:
            self.captions.whisperx_model_dir = absolute(self.captions.whisperx_model_dir)
        return self

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'reeltwin.db'}"

    @property
    def outbox_dir(self) -> Path:
        return self.publishing.outbox_dir or self.data_dir / "outbox"

    def secret_values(self) -> list[str]:
        """Every secret's plain value, for the log redaction filter."""
        values = []
        for _path, value in _leaves(self):
            if isinstance(value, SecretStr) and value.get_secret_value():
                values.append(value.get_secret_value())
        password = _database_password(self.database_url)
        if password:
            values.append(password)
        return values


def _sources(settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource | None = None) -> list[tuple[str, PydanticBaseSettingsSource]]:
    """The sources, highest priority first, each with the label users see."""
    project = _project_dir.get(Path.cwd())
    sources: list[tuple[str, PydanticBaseSettingsSource]] = []
    if init_settings is not None:
        sources.append(("init", init_settings))
    sources.append(("environment", EnvSettingsSource(settings_cls)))
    sources.append((str(DOTENV_FILE), _ReelTwinDotEnv(settings_cls, env_file=project / DOTENV_FILE)))
    sources.append((str(SETTINGS_FILE), TomlConfigSettingsSource(settings_cls, toml_file=project / SETTINGS_FILE)))
    return sources


@dataclass
class LoadedSettings:
    settings: Settings
    project_dir: Path
    # dotted key -> "config/settings.toml" | ".env" | "environment (REELTWIN_X__Y)" | "default"
    sources: dict[str, str] = field(default_factory=dict)


def project_dir_from_env(environ: dict[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    return Path(environ.get("REELTWIN_HOME") or os.getcwd()).resolve()


def load_settings(project_dir: Path | None = None) -> LoadedSettings:
    """Read and validate the settings of the project in ``project_dir`` (default: ``$REELTWIN_HOME`` or the cwd).

    Raises :class:`ConfigError` with lines like
    ``config/settings.toml: drafting.temperature: must be <= 2 (got 5.0)``.
    """
    project = (project_dir or project_dir_from_env()).resolve()
    token = _project_dir.set(project)
    try:
        _check_toml_syntax(project / SETTINGS_FILE)
        layers = _read_layers()
        _check_unknown_variables(layers)
        try:
            settings = Settings()
        except ValidationError as error:
            raise ConfigError(_format_validation_error(error, layers)) from None
        provenance = _provenance(settings, layers)
    finally:
        _project_dir.reset(token)
    return LoadedSettings(settings=settings.resolve(project), project_dir=project, sources=provenance)


def _check_toml_syntax(path: Path) -> None:
    if not path.exists():
        return
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = re.search(r"\(at line (\d+), column \d+\)", message)
        where = f"{SETTINGS_FILE}:{match.group(1)}" if match else str(SETTINGS_FILE)
        reason = re.sub(r" \(at line.*", "", message)
        raise ConfigError(f"{where}: not valid TOML: {reason}; fix the line or copy config/settings.example.toml again") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{SETTINGS_FILE}: not UTF-8 text; save it as UTF-8") from None


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}".lower()
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _read_layers() -> list[tuple[str, dict[str, Any]]]:
    """Each source's own values, flattened, highest priority first."""
    layers = []
    for label, source in _sources(Settings):
        try:
            values = source()
        except Exception as error:  # a source that cannot even be read (e.g. bad JSON in a variable)
            raise ConfigError(f"{label}: cannot be read: {error}") from None
        layers.append((label, _flatten(values)))
    return layers


def _known_keys(model: type[BaseModel] = Settings, prefix: str = "") -> set[str]:
    keys = set()
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _known_keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(f"{prefix}{name}")
    return keys


def _variable_name(dotted: str) -> str:
    return ENV_PREFIX + dotted.upper().replace(".", "__")


def _check_unknown_variables(layers: list[tuple[str, dict[str, Any]]]) -> None:
    # EnvSettingsSource silently ignores REELTWIN_* variables it does not know;
    # a typo there must fail as loudly as one in the TOML file.
    known = _known_keys()
    known_variables = {_variable_name(key): key for key in known}
    # Every section, nested ones too (publishing.s3), may be given whole as JSON.
    sections = {key.rsplit(".", depth)[0].replace(".", "__") for key in known for depth in range(1, key.count(".") + 1)}
    for name in sorted(os.environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in CONTROL_VARIABLES or upper in known_variables or upper.startswith("REELTWIN_TEST_"):
            continue
        if upper[len(ENV_PREFIX):].lower() in sections:
            continue  # a whole section as JSON: validated by pydantic
        hint = difflib.get_close_matches(upper, list(known_variables), n=1)
        suggestion = f"; did you mean {hint[0]}?" if hint else "; see `reeltwin config show` for the known settings"
        raise ConfigError(f"environment: {name}: unknown setting{suggestion}")


def _where(dotted: str, layers: list[tuple[str, dict[str, Any]]]) -> str:
    for label, values in layers:
        if dotted in values or any(key.startswith(dotted + ".") for key in values):
            return f"environment ({_variable_name(dotted)})" if label == "environment" else label
    return "default"


def _format_validation_error(error: ValidationError, layers: list[tuple[str, dict[str, Any]]]) -> str:
    lines = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"] if not isinstance(part, int)]
        # pydantic-settings reports a .env extra as one flat key: "drafting__temprature".
        loc = [piece for part in loc for piece in part.split("__")]
        dotted = ".".join(loc).lower()
        where = _where(dotted, layers)
        if item["type"] == "extra_forbidden":
            parent = ".".join(loc[:-1])
            siblings = [key.rsplit(".", 1)[-1] for key in _known_keys() if key.rsplit(".", 1)[0] == parent] if parent else [key.split(".")[0] for key in _known_keys()]
            hint = difflib.get_close_matches(loc[-1].lower(), siblings, n=1)
            message = "unknown setting" + (f"; did you mean {hint[0]!r}?" if hint else f"; known here: {', '.join(sorted(set(siblings)))}")
        else:
            message = item["msg"].removeprefix("Value error, ")
            got = item.get("input")
            if got is not None and not isinstance(got, dict) and item["type"] != "value_error":
                shown = "'***'" if "key" in dotted or "token" in dotted or "password" in dotted or "secret" in dotted else repr(got)
                message += f" (got {shown})"
        lines.append(f"{where}: {dotted}: {message}")
    return "\n".join(lines)


def _leaves(model: BaseModel, prefix: str = "") -> list[tuple[str, Any]]:
    leaves = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            leaves.extend(_leaves(value, f"{prefix}{name}."))
        else:
            leaves.append((f"{prefix}{name}", value))
    return leaves


def _provenance(settings: Settings, layers: list[tuple[str, dict[str, Any]]]) -> dict[str, str]:
    return {dotted: _where(dotted, layers) for dotted, _value in _leaves(settings)}


def _database_password(url: str) -> str | None:
    match = re.match(r"^[\w+]+://[^:/@]*:([^@]*)@", url)
    return match.group(1) if match and match.group(1) else None


def redact_url(url: str) -> str:
    password = _database_password(url)
    return url.replace(f":{password}@", ":***@", 1) if password else url


def public_view(loaded: LoadedSettings) -> list[tuple[str, Any, str]]:
    """(dotted key, printable value, source) for every setting, secrets redacted."""
    rows = []
    for dotted, value in _leaves(loaded.settings):
        if isinstance(value, SecretStr):
            shown: Any = "***" if value.get_secret_value() else None
        elif isinstance(value, Path):
            shown = str(value)
        elif dotted == "database.url" and value:
            shown = redact_url(value)
        else:
            shown = value
        rows.append((dotted, shown, loaded.sources.get(dotted, "default")))
    rows.append(("database.effective_url", redact_url(loaded.settings.database_url), "derived"))
    return rows
