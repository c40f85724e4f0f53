"""Opening a store root: a local folder, ``s3://bucket/prefix``, or any fsspec URI.

S3 goes through ``pyarrow.fs.S3FileSystem`` (no extra dependency); ``storage_options`` are
accepted as pandas and fsspec spell them (``key``, ``secret``, ``token``, ``endpoint_url``,
``client_kwargs={"endpoint_url": ..., "region_name": ...}``, ``anon``) and mapped onto it.
Other schemes (gs://, az://, memory://...) go through fsspec, wrapped for pyarrow.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow.fs as pafs

from melious_impact.store.backend import ArrowFsBackend

_S3_ALIASES = {
    "key": "access_key",
    "aws_access_key_id": "access_key",
    "access_key": "access_key",
    "secret": "secret_key",
    "aws_secret_access_key": "secret_key",
    "secret_key": "secret_key",
    "token": "session_token",
    "aws_session_token": "session_token",
    "session_token": "session_token",
    "region_name": "region",
    "region": "region",
    "anon": "anonymous",
    "anonymous": "anonymous",
}
_S3_PASSTHROUGH = {
    "scheme",
    "endpoint_override",
    "connect_timeout",
    "request_timeout",
    "allow_bucket_creation",
    "force_virtual_addressing",
    "role_arn",
}


def is_remote(root: str | Path) -> bool:
    return isinstance(root, str) and "://" in root and not root.startswith("file://")


def local_path(root: str | Path) -> Path:
    if isinstance(root, str) and root.startswith("file://"):
        return Path(urlsplit(root).path)
    return Path(root).expanduser()


def s3_kwargs(storage_options: Mapping[str, Any] | None) -> dict[str, Any]:
    """Map pandas/fsspec-style S3 options onto ``pyarrow.fs.S3FileSystem`` arguments."""
    opts = dict(storage_options or {})
    client_kwargs = dict(opts.pop("client_kwargs", None) or {})
    opts.pop("config_kwargs", None)  # botocore tuning: no pyarrow equivalent, safe to ignore
    endpoint = opts.pop("endpoint_url", None) or client_kwargs.pop("endpoint_url", None)
    if "region_name" in client_kwargs:
        opts.setdefault("region_name", client_kwargs.pop("region_name"))
    out: dict[str, Any] = {}
    for k, v in opts.items():
        if k in _S3_ALIASES:
            out[_S3_ALIASES[k]] = v
        elif k in _S3_PASSTHROUGH:
            out[k] = v
        else:
            raise ValueError(
                f"unsupported S3 storage option {k!r}; use key, secret, token, endpoint_url, "
                "region_name (or client_kwargs={'endpoint_url':..., 'region_name':...}), anon"
            )
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        out["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
        out["scheme"] = parts.scheme
    return out


def open_remote(uri: str, storage_options: Mapping[str, Any] | None) -> ArrowFsBackend:
    scheme, rest = uri.split("://", 1)
    scheme = scheme.lower()
    if scheme in ("s3", "s3a"):
        fs: pafs.FileSystem = pafs.S3FileSystem(**s3_kwargs(storage_options))
        base = rest
    else:
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec is the s3 extra
            raise ValueError(f"a {scheme}:// store needs fsspec: pip install 'melious-impact[s3]'") from exc
        ffs = fsspec.filesystem(scheme, **dict(storage_options or {}))
        fs = pafs.PyFileSystem(pafs.FSSpecHandler(ffs))
        base = ffs._strip_protocol(uri)
    if not base.strip("/"):
        raise ValueError(f"store URI {uri!r} needs a bucket (and optionally a prefix): s3://bucket/prefix")
    return ArrowFsBackend(fs, base.rstrip("/"), uri)
