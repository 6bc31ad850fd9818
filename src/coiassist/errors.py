"""Every error coiassist raises on purpose, in one tree.

The core raises these; only the CLI (one line, exit code) and the UI (a chat message)
translate them. Each carries a message a user can act on: what went wrong and what to do.

CoiassistError
├── ConfigError            a setting is missing, malformed or contradicts another
├── CorpusError            the corpus path itself cannot be used (missing, not a folder/file)
├── ModelError             the embedding model cannot be found or loaded
├── IndexStoreError        the index cannot be read or written
│   ├── IndexLockedError   another index run holds the writer lock
│   ├── IndexEmptyError    nothing is indexed yet
│   └── IndexCorruptError  the index does not match its manifest; rebuild it
├── QuestionError          the question cannot be asked (empty, too long)
├── BackendError           an answer backend failed
│   ├── BackendUnavailable it cannot be reached or is not configured
│   ├── BackendTimeout     it did not answer within the deadline
│   └── BackendResponseError it answered with an error or with garbage
├── UploadError            an uploaded file was refused
└── AuthError              an admin action without the admin password, or an unsafe bind
"""

from __future__ import annotations


class CoiassistError(Exception):
    """Base of all errors meant for the user."""

    exit_code = 1


class ConfigError(CoiassistError):
    exit_code = 2


class CorpusError(CoiassistError):
    exit_code = 2


class ModelError(CoiassistError):
    pass


class IndexStoreError(CoiassistError):
    pass


class IndexLockedError(IndexStoreError):
    exit_code = 3


class IndexEmptyError(IndexStoreError):
    pass


class IndexCorruptError(IndexStoreError):
    pass


class QuestionError(CoiassistError):
    exit_code = 2


class BackendError(CoiassistError):
    pass


class BackendUnavailable(BackendError):  # noqa: N818 - reads as a state, like httpx's names
    pass


class BackendTimeout(BackendError):  # noqa: N818
    pass


class BackendResponseError(BackendError):
    pass


class UploadError(CoiassistError):
    pass


class AuthError(CoiassistError):
    exit_code = 2
