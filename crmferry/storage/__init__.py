"""The file store: every file the service keeps (uploads, export results, error
reports) goes through one `FileStore`, chosen by CRMFERRY_STORAGE_URL.

* no CRMFERRY_STORAGE_URL: `LocalStore`, a folder (`CRMFERRY_DATA_DIR/files`);
* `s3://bucket/prefix`: `S3Store`, any S3-compatible object storage (boto3).

Files are named by keys (`keys.py`), never by paths: nothing outside this package
knows where a file lives. An export writes its result straight into the store as it
is produced (`FileStore.writing`); other files (error reports) are written into a local
staging folder the store gives, and the store takes them in (`put_file`) when the
attempt commits.
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
