"""The backends the application builds from its settings: voice, captions, publishing.

The libraries (``render``, ``publishing``) take plain values; this module is the one
place that reads the settings for them, so the CLI, the web UI and the jobs build
the same backend from the same settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent.errors import AgentError

if TYPE_CHECKING:
    from publishing.base import MediaHosting, Publisher
    from render.captions import CaptionStyle
    from sqlmodel import Session

    from agent.db.models import PublishAccount
    from agent.settings import CaptionsSettings, Settings


def voice_config(settings: Settings, backend: str) -> dict[str, Any]:
    """What a voice backend's factory takes, from the settings."""
    if backend == "xtts":
        from agent.model_licenses import is_accepted

        return {"model_dir": settings.voice.xtts_model_dir, "device": settings.voice.device,
                "license_accepted": is_accepted(settings.data_dir, "xtts")}
    if backend == "piper-world":
        return {"base": "auto"}   # speaks with the base a voice was enrolled with; chooses one for a voice enrolled without
    return {}


def caption_style(captions: CaptionsSettings) -> CaptionStyle:
    """The captions settings as the library's CaptionStyle."""
    from render.captions import CaptionStyle

    return CaptionStyle(font_family=captions.font, font_size_px=captions.font_size_px, fill=captions.fill, highlight=captions.highlight,
                        outline=captions.outline, outline_px=captions.outline_px, uppercase=captions.uppercase,
                        max_words=captions.max_words_per_chunk)


def publishing_account(settings: Settings) -> str:
    """The account the configured publisher posts as (the key under which a long-running process keeps one publisher)."""
    publishing = settings.publishing
    if publishing.backend == "graph":
        return f"graph:{publishing.graph_ig_user_id or ''}"
    if publishing.backend == "instagrapi":
        return f"instagrapi:{(publishing.instagrapi_username or '').strip().lstrip('@').lower()}"
    return f"{publishing.backend}:{settings.outbox_dir}"


def make_media_host(settings: Settings) -> MediaHosting:
    """Where the Graph API fetches the reel from (``publishing.media_hosting``): our own signed URLs, or an S3 bucket."""
    publishing = settings.publishing
    if publishing.media_hosting == "s3":
        s3 = publishing.s3
        if not s3.bucket:
            raise AgentError("publishing.media_hosting is s3 but publishing.s3.bucket is not set; set it (or REELTWIN_PUBLISHING__S3__BUCKET)")
        if (s3.access_key_id is None) != (s3.secret_access_key is None):
            missing = "secret_access_key" if s3.secret_access_key is None else "access_key_id"
            raise AgentError(f"publishing.s3.{missing} is not set but its partner is; set REELTWIN_PUBLISHING__S3__{missing.upper()} in .env, "
                             "or neither to use the AWS credential chain")
        try:
            from publishing.s3_hosting import S3MediaHost
        except ImportError:
            raise AgentError("publishing.media_hosting = \"s3\" needs boto3: pip install 'reeltwin[s3]'") from None
        return S3MediaHost(
            bucket=s3.bucket, endpoint_url=s3.endpoint_url, region=s3.region, prefix=s3.prefix,
            access_key_id=s3.access_key_id.get_secret_value() if s3.access_key_id else None,
            secret_access_key=s3.secret_access_key.get_secret_value() if s3.secret_access_key else None,
            url_lifetime_s=s3.url_lifetime_s, delete_after_publish=s3.delete_after_publish, addressing_style=s3.addressing_style,
        )
    if not publishing.media_base_url:
        raise AgentError("publishing.media_base_url is not set: Instagram fetches the video from a public URL; set it to "
                         "https://your-host/public, or use publishing.media_hosting = \"s3\"; see README 'Media hosting for the Graph API'")
    from publishing.hosting import MediaHost

    return MediaHost(base_url=publishing.media_base_url, secret=settings.web.secret_key.get_secret_value() if settings.web.secret_key else "", root=settings.data_dir)


def make_publisher(settings: Settings) -> Publisher:
    """The configured publisher; the caller closes it (``with make_publisher(settings) as publisher: ...``)."""
    from publishing import PublishError

    publishing = settings.publishing
    if publishing.backend == "outbox":
        from publishing.outbox import OutboxPublisher

        return OutboxPublisher(settings.outbox_dir)
    if publishing.backend == "graph":
        missing = [name for name, value in (("graph_ig_user_id", publishing.graph_ig_user_id), ("graph_access_token", publishing.graph_access_token),
                                            ("media_base_url", publishing.media_base_url if publishing.media_hosting == "self" else "s3")) if not value]
        if missing:
            raise AgentError(f"publishing.backend is graph but {', '.join('publishing.' + m for m in missing)} is not set; see README 'Going live'")
        from publishing.graph import GraphPublisher

        try:
            host = make_media_host(settings)
        except PublishError as error:
            raise AgentError(str(error)) from None
        return GraphPublisher(ig_user_id=publishing.graph_ig_user_id, access_token=publishing.graph_access_token.get_secret_value(),
                              media_host=host, api_version=publishing.graph_api_version, api_base=publishing.graph_api_base)
    if publishing.backend == "instagrapi":
        if not publishing.instagrapi_username:
            raise AgentError("publishing.backend is instagrapi but publishing.instagrapi_username is not set; then run `reeltwin instagram login`")
        try:
            from publishing.instagrapi_publisher import InstagrapiPublisher, session_file_for
        except ImportError:
            raise AgentError("the instagrapi publisher needs the instagram extra: pip install 'reeltwin[instagram]'") from None
        try:
            session_file = session_file_for(settings.data_dir, publishing.instagrapi_username)
        except PublishError as error:
            raise AgentError(f"publishing.instagrapi_username: {error}") from None
        from agent.publish_accounts import session_cipher

        password = publishing.instagrapi_password.get_secret_value() if publishing.instagrapi_password else None
        return InstagrapiPublisher(username=publishing.instagrapi_username, session_file=session_file, password=password,
                                   cipher=session_cipher(settings))
    raise AgentError(f"publishing.backend {publishing.backend!r} is unknown; use outbox, graph or instagrapi")


def make_account_publisher(settings: Settings, account: PublishAccount) -> Publisher:
    """The publisher of one creator's connected account (its secret decrypted here, kept only inside the publisher)."""
    from publishing import PublishError

    from agent.publish_accounts import outbox_folder, plain_secret, session_cipher

    if account.backend == "outbox":
        from publishing.outbox import OutboxPublisher

        return OutboxPublisher(outbox_folder(settings, account))
    if account.backend == "graph":
        token = plain_secret(settings, account)
        if not account.ig_user_id or not token:
            raise AgentError(f"@{account.handle}'s Graph account has no {'Instagram user id' if not account.ig_user_id else 'token'}; "
                             f"connect it again: reeltwin account connect {account.handle} --backend graph --ig-user-id ID --token-stdin")
        publishing = settings.publishing
        if publishing.media_hosting == "self" and not publishing.media_base_url:
            raise AgentError("publishing.media_base_url is not set: Instagram fetches the video from a public URL; set it to "
                             "https://your-host/public, or use publishing.media_hosting = \"s3\"; see README 'Media hosting for the Graph API'")
        from publishing.graph import GraphPublisher

        try:
            host = make_media_host(settings)
        except PublishError as error:
            raise AgentError(str(error)) from None
        return GraphPublisher(ig_user_id=account.ig_user_id, access_token=token, media_host=host,
                              api_version=publishing.graph_api_version, api_base=account.api_base or publishing.graph_api_base)
    if account.backend == "instagrapi":
        try:
            from publishing.instagrapi_publisher import InstagrapiPublisher, session_file_for
        except ImportError:
            raise AgentError("the instagrapi publisher needs the instagram extra: pip install 'reeltwin[instagram]'") from None
        try:
            session_file = session_file_for(settings.data_dir, account.username or "")
        except PublishError as error:
            raise AgentError(f"@{account.handle}'s instagrapi account: {error}") from None
        return InstagrapiPublisher(username=account.username or "", session_file=session_file, password=plain_secret(settings, account),
                                   cipher=session_cipher(settings))
    raise AgentError(f"@{account.handle}'s publishing account has backend {account.backend!r}, which this ReelTwin does not know; "
                     f"connect it again with --backend graph, instagrapi or outbox")


def publishing_account_for(session: Session, settings: Settings, handle: str) -> str:
    """The key of the account ``handle``'s reels go to (see :func:`publishing_account`); raises NoPublishAccount where none may be used."""
    from agent.publish_accounts import account_key, resolve_account

    account = resolve_account(session, settings, handle)
    return publishing_account(settings) if account is None else account_key(account)


def make_publisher_for(session: Session, settings: Settings, handle: str) -> Publisher:
    """The publisher of creator ``handle``'s own account, or the settings' one while no account is connected at all
    (:func:`agent.publish_accounts.resolve_account`); never another creator's. The caller closes it."""
    from agent.publish_accounts import resolve_account

    account = resolve_account(session, settings, handle)
    return make_publisher(settings) if account is None else make_account_publisher(settings, account)
