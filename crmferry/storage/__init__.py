"""The file store: every file the service keeps (uploads, export results, error
reports) goes through one `FileStore`, chosen by CRMFERRY_STORAGE_URL.

* no CRMFERRY_STORAGE_URL: `LocalStore`, a folder (`CRMFERRY_DATA_DIR/files`);
* `s3://bucket/prefix`: `S3Store`, any S3-compatible object storage (boto3).

Files are named by keys (`keys.py`), never by paths: nothing outside this package
knows where a file lives. Exports, error reports and uploads are written straight into
the store as they are produced (`FileStore.writing`); a file that must be local first
(a batch's ZIP, the second half of a two-stream export) is written into a local
staging folder the store gives, and the store takes it in (`put_file`).
"""

from __future__ import annotations

from crmferry.storage.base import FileGone, FileStore, StoredFile
from crmferry.storage.keys import attempt_prefix, job_prefix, upload_key
from crmferry.storage.selection import store_for

__all__ = [
    "FileGone",
    "FileStore",
    "StoredFile",
    "attempt_prefix",
    "job_prefix",
    "store_for",
    "upload_key",
]
