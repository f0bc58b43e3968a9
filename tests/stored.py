"""Looking into the file store from tests, whichever backend the settings select."""

from __future__ import annotations

import contextlib
import io
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx

from crmferry.config import Settings
from crmferry.storage import job_prefix, store_for
from crmferry.storage.local import LocalStore


def stored_keys(settings: Settings, prefix: str = "") -> list[str]:
    """Every key under `prefix` (all keys for an empty prefix), sorted."""
    return [f.key for f in store_for(settings).list(prefix)]


def read_stored(settings: Settings, key: str) -> bytes:
    with store_for(settings).open(key) as stream:
        return stream.read()


def put_stored(settings: Settings, key: str, data: bytes) -> None:
    store_for(settings).put_stream(key, io.BytesIO(data))


def fetched_copy(settings: Settings, key: str) -> Path:
    """A local copy of a stored file, in a temporary folder of its own."""
    path = Path(tempfile.mkdtemp(prefix="crmferry-test-copy-")) / Path(key).name
    path.write_bytes(read_stored(settings, key))
    return path


def job_folder_left(settings: Settings, organization_id: object, job_id: object) -> bool:
    """Whether anything of a job is left in the store: a file, or for the folder
    backend even an empty folder."""
    store = store_for(settings)
    prefix = job_prefix(organization_id, job_id)
    if isinstance(store, LocalStore):
        return (store.root / prefix).exists()
    return bool(store.list(prefix)) or staging_left(settings)


def staging_left(settings: Settings) -> bool:
    """Whether object storage's local staging folder (CRMFERRY_DATA_DIR/tmp) holds a file."""
    if isinstance(store_for(settings), LocalStore):
        return False
    return any(p.is_file() for p in (settings.data_dir.resolve() / "tmp").rglob("*"))


def download(client: httpx.Client, url: str, headers: dict[str, str]) -> httpx.Response:
    """GET a file from the API as a browser would: a 302 to a presigned URL of the
    object store is followed there (outside the app)."""
    response = client.get(url, headers=headers, follow_redirects=False)
    if response.status_code == 302:
        return httpx.get(response.headers["location"])
    return response


class FilesSeen:
    """Every file that appears under a folder while the block runs (polled), outside
    `files/` (the folder store's own files)."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.seen = folder, set[Path]()
        self._stop = threading.Event()

    def _poll(self) -> None:
        while not self._stop.wait(0.002):
            for path in self.folder.rglob("*"):
                if path.is_file() and "files" not in path.relative_to(self.folder).parts[:1]:
                    self.seen.add(path)

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        thread = threading.Thread(target=self._poll, daemon=True)
        thread.start()
        try:
            yield
        finally:
            self._stop.set()
            thread.join()
