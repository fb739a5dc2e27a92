"""The library: every finished clip in one folder, as NAME.mp4 + NAME.json, kept across restarts.

Clips are addressed by id (the file stem), never by a path from outside: an id must match the
pattern below, and every file served must resolve inside the folder and not be a symlink.
"""

import json
import re
import secrets
import time
from pathlib import Path

CLIP_ID = re.compile(r"^clip-\d{8}-\d{6}-[0-9a-f]{6}$")


class ClipNotFound(LookupError):
    pass


class Library:
    def __init__(self, folder: Path):
        self.folder = Path(folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.remove_partials()

    def remove_partials(self) -> None:
        """Half-written files of a process that died mid-write never show up; clean them away."""
        for partial in self.folder.glob(".*.partial*"):
            partial.unlink(missing_ok=True)

    def new_path(self) -> Path:
        return self.folder / f"clip-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.mp4"

    def _safe(self, path: Path) -> bool:
        return path.is_file() and not path.is_symlink() and path.resolve().parent == self.folder

    def path(self, clip_id: str, suffix: str = ".mp4") -> Path:
        if not isinstance(clip_id, str) or not CLIP_ID.match(clip_id):
            raise ClipNotFound(f"no clip {clip_id!r} in the library")
        path = self.folder / f"{clip_id}{suffix}"
        if not self._safe(path):
            raise ClipNotFound(f"no clip {clip_id!r} in the library")
        return path

    def settings(self, clip_id: str) -> dict:
        try:
            return json.loads(self.path(clip_id, ".json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ClipNotFound(f"clip {clip_id!r} has unreadable settings") from err

    def clips(self) -> list[dict]:
        """Every complete clip (video and settings both present), newest first, with its id."""
        found = []
        for video in self.folder.glob("clip-*.mp4"):
            clip_id = video.stem
            try:
                self.path(clip_id)
                found.append({"id": clip_id, **self.settings(clip_id)})
            except ClipNotFound:
                continue
        return sorted(found, key=lambda clip: (clip.get("created", ""), clip["id"]), reverse=True)

    def delete(self, clip_id: str) -> None:
        self.path(clip_id)  # validates the id
        for suffix in (".mp4", ".json", ".gif"):
            target = self.folder / f"{clip_id}{suffix}"
            if target.is_file() or target.is_symlink():
                target.unlink()
