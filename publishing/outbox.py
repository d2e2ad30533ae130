"""The default publisher: a folder per reel that a person can inspect or post by hand. Nothing leaves the machine."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path

from publishing.base import Capability, PublishProgress, PublishRefused, PublishRequest, PublishResult, Publisher


class OutboxPublisher(Publisher):
    """Writes each reel to ``<folder>/<publish_key>/`` (video, cover, caption, metadata); nothing to close."""

    name = "outbox"
    capabilities = frozenset({Capability.AI_LABEL})   # recorded in metadata.json

    def __init__(self, folder: Path):
        self.folder = folder

    def _target(self, request: PublishRequest) -> Path:
        return self.folder / request.publish_key

    def find_published(self, request: PublishRequest, resume: Mapping[str, str]) -> PublishResult | None:
        marker = self._target(request) / "published.json"
        if not marker.is_file():
            return None
        data = json.loads(marker.read_text(encoding="utf-8"))
        return PublishResult(media_id=data["media_id"], permalink=data["permalink"], published_at=datetime.fromisoformat(data["published_at"]),
                             backend=self.name, already_published=True)

    def publish(self, request: PublishRequest, resume: Mapping[str, str], on_progress: Callable[[PublishProgress], None]) -> PublishResult:
        existing = self.find_published(request, resume)
        if existing is not None:
            return existing
        if not request.video_path.is_file():
            raise PublishRefused(f"video {str(request.video_path)!r}: no such file; render the reel again")
        target = self._target(request)
        staging = target.with_name(target.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            staging.mkdir(parents=True)
            shutil.copy2(request.video_path, staging / "reel.mp4")
            if request.cover_path is not None and request.cover_path.is_file():
                shutil.copy2(request.cover_path, staging / "cover.jpg")
            (staging / "caption.txt").write_text(request.caption + "\n", encoding="utf-8")
            published_at = datetime.now(timezone.utc)
            permalink = (target / "reel.mp4").resolve().as_uri()
            meta = {
                "publish_key": request.publish_key, "handle": request.handle, "ai_generated": request.ai_generated,
                "share_to_feed": request.share_to_feed, "media_id": f"outbox:{request.publish_key}", "permalink": permalink,
                "published_at": published_at.isoformat(), **dict(request.metadata),
            }
            (staging / "metadata.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            # The marker is written last and the folder renamed into place atomically:
            # a crash leaves either nothing or a complete, published folder.
            (staging / "published.json").write_text(json.dumps({k: meta[k] for k in ("media_id", "permalink", "published_at")}) + "\n", encoding="utf-8")
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging, target)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            raise PublishRefused(f"outbox {str(self.folder)!r}: cannot write ({error.strerror}); check publishing.outbox_dir and free space") from None
        on_progress(PublishProgress("uploaded", str(target)))
        return PublishResult(media_id=meta["media_id"], permalink=permalink, published_at=published_at, backend=self.name)
