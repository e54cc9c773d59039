"""The environment `verification-pipeline run` reads, checked before anything starts.

A run against a service the pipeline does not manage takes every setting from the environment
(README: "Pointing the pipeline at a real service" and "a real S3 endpoint"). Dagster would
find a missing or malformed one only when the step that needs it runs, minutes into the load,
as a failed step; here each is checked first and refused with exit 2 naming the variable.
Messages never hold a secret's value, only its name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

from verification_pipeline.errors import ConfigError, PipelineError
from verification_pipeline.fileio import CONFIG_MAX_BYTES, KEY_MAX_BYTES, read_capped

# Defaults of the optional S3 variables. The resources read them as `dg.EnvVar`s, which Dagster
# refuses when unset, so `run` fills in these (the same as the embedded stack's and S3Settings').
S3_DEFAULTS = {
    "VP_S3_ENDPOINT_URL": "",
    "VP_S3_REGION": "us-east-1",
    "VP_S3_PREFIX": "verification",
    "VP_S3_ACCESS_KEY_ID": "",
    "VP_S3_SECRET_ACCESS_KEY": "",
    "VP_S3_OBJECT_LOCK_MODE": "COMPLIANCE",
}
OBJECT_LOCK_MODES = ("COMPLIANCE", "GOVERNANCE")
# S3's bucket naming rules (3-63 characters, lower case, digits, dots, hyphens; alphanumeric ends)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,40}")
# A compact JWS: three base64url parts (the signature part may be empty only for alg none, refused anyway)
_JWT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
T = TypeVar("T")
_K6_DURATION = re.compile(r"(?:\d+(?:\.\d+)?(?:ms|s|m|h))+")


@dataclass(frozen=True)
class RunEnvironment:
    """What a person should see about the run's settings (never a secret)."""

    target_url: str
    credentials: str
    """Which variable authenticates to the target: its name, never its value."""
    store: str
    signing: str


def check_run_environment(environ: MutableMapping[str, str]) -> RunEnvironment:
    """Check every variable `run` depends on; fill the optional S3 ones with their defaults.

    Raises ConfigError (exit 2) naming the first variable that is missing or malformed.
    """
    target_url = _url(environ, "VP_TARGET_GRAPHQL_URL", required=True)
    for name in ("VP_TARGET_VERSION_URL",):
        _url(environ, name, required=False)
    credentials = _credentials(environ)
    bucket = environ.get("VP_S3_BUCKET", "").strip()
    if not bucket:
        raise _not_set("VP_S3_BUCKET", "name the bucket evidence goes to")
    if not _BUCKET.fullmatch(bucket):
        raise ConfigError(
            f"{bucket!r} is not an S3 bucket name", field="VP_S3_BUCKET", hint="3-63 of a-z, 0-9, '.', '-'"
        )
    endpoint = _url(environ, "VP_S3_ENDPOINT_URL", required=False)
    region = environ.get("VP_S3_REGION", "")
    if region and not _REGION.fullmatch(region):
        raise ConfigError(f"{region!r} is not a region name", field="VP_S3_REGION", hint="e.g. eu-west-1")
    has_id, has_secret = (
        bool(environ.get("VP_S3_ACCESS_KEY_ID")),
        bool(environ.get("VP_S3_SECRET_ACCESS_KEY")),
    )
    if has_id != has_secret:
        missing = "VP_S3_SECRET_ACCESS_KEY" if has_id else "VP_S3_ACCESS_KEY_ID"
        raise ConfigError(
            "not set while its pair is",
            field=missing,
            hint="give both S3 keys, or neither for the default AWS credential chain",
        )
    lock = environ.get("VP_S3_OBJECT_LOCK_MODE", "")
    if lock and lock not in OBJECT_LOCK_MODES:
        raise ConfigError(
            f"{lock!r} is not an Object Lock mode",
            field="VP_S3_OBJECT_LOCK_MODE",
            hint=" or ".join(OBJECT_LOCK_MODES),
        )
    signing = _signing_key(environ)
    duration = environ.get("VP_LOAD_DURATION", "")
    if duration and not _K6_DURATION.fullmatch(duration):
        raise ConfigError(f"{duration!r} is not a k6 duration", field="VP_LOAD_DURATION", hint="e.g. 3m, 90s")
    _slos_file(environ)
    for name in ("VP_VULN_REPORT", "VP_POLICY_REPORT", "VP_VULN_POLICY", "VP_SBOM_REPORT"):
        _local_file(environ, name)
    for name, value in S3_DEFAULTS.items():
        environ.setdefault(name, value)
    prefix = environ["VP_S3_PREFIX"].strip("/")
    return RunEnvironment(
        target_url=target_url or "",
        credentials=credentials,
        store=f"s3://{bucket}/{prefix} ({endpoint or 'AWS S3'})",
        signing=signing,
    )


def _url(environ: Mapping[str, str], name: str, *, required: bool) -> str | None:
    value = environ.get(name, "")
    if not value:
        if required:
            raise _not_set(name, "give the service's URL, e.g. https://rc.example.com/graphql")
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or value != value.strip():
        raise ConfigError(f"{value!r} is not an http(s) URL with a host", field=name)
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        raise ConfigError(f"{value!r} has a port that is not a number in 0-65535", field=name) from None
    return value


def _credentials(environ: Mapping[str, str]) -> str:
    token = environ.get("VP_TARGET_JWT", "")
    if token:
        if not _JWT.fullmatch(token):
            # the value is a secret: say what is wrong with it, never what it is
            raise ConfigError(
                f"is not a JWT (three base64url parts joined by dots; got {len(token)} characters)",
                field="VP_TARGET_JWT",
            )
        return "VP_TARGET_JWT"
    secret_file = environ.get("VP_TARGET_JWT_SECRET_FILE", "")
    if secret_file:
        _read(secret_file, "VP_TARGET_JWT_SECRET_FILE", KEY_MAX_BYTES)
        return "tokens minted with VP_TARGET_JWT_SECRET_FILE"
    raise _not_set(
        "VP_TARGET_JWT",
        "a bearer token with the coherence:read and coherence:write scopes for VP_TARGET_TENANT",
    )


def _signing_key(environ: Mapping[str, str]) -> str:
    from verification_pipeline.evidence.keys import load_signing_key_pem

    if _file_loads(environ, "VP_EVIDENCE_SIGNING_KEY_FILE", KEY_MAX_BYTES, load_signing_key_pem):
        return "the key in VP_EVIDENCE_SIGNING_KEY_FILE"
    pem_text = environ.get("VP_EVIDENCE_SIGNING_KEY", "")
    if pem_text.strip():
        _as_config_error(
            "VP_EVIDENCE_SIGNING_KEY",
            lambda: load_signing_key_pem(
                pem_text.encode(), source="environment variable VP_EVIDENCE_SIGNING_KEY"
            ),
        )
        return "the key in VP_EVIDENCE_SIGNING_KEY"
    if environ.get("VP_EVIDENCE_DEV_KEY_DIR"):
        return "a DEV key (VP_EVIDENCE_DEV_KEY_DIR): not release evidence"
    raise _not_set(
        "VP_EVIDENCE_SIGNING_KEY",
        "an Ed25519 private key (PEM) signs the bundle: `verification-pipeline keygen --out DIR`",
        nor="VP_EVIDENCE_SIGNING_KEY_FILE",
    )


def _slos_file(environ: Mapping[str, str]) -> None:
    from verification_pipeline.slo.spec import load_slo_spec

    _file_loads(environ, "VP_SLOS_FILE", CONFIG_MAX_BYTES, load_slo_spec)


def _not_set(name: str, hint: str, *, nor: str = "") -> ConfigError:
    """A required variable `name` (nor its alternative `nor`) is not set: exit 2 with `hint`."""
    return ConfigError(f"not set, nor {nor}" if nor else "not set", field=name, hint=hint)


def _local_file(environ: Mapping[str, str], name: str) -> None:
    value = environ.get(name, "")
    if value and not value.startswith("s3://") and not Path(value).is_file():
        raise ConfigError(f"{value} is not a file", field=name, hint="a path to the report, or an s3:// URI")


class _Loader(Protocol):
    def __call__(self, data: bytes, /, *, source: str) -> object: ...


def _file_loads(environ: Mapping[str, str], name: str, limit: int, load: _Loader) -> bool:
    """The file variable `name` names (if set) is read within `limit` and `load(data, source=path)`
    accepts it; False when the variable is not set. Any failure: exit 2 naming the variable."""
    path = environ.get(name, "")
    if not path:
        return False
    data = _read(path, name, limit)
    _as_config_error(name, lambda: load(data, source=path))
    return True


def _read(path: str, name: str, limit: int) -> bytes:
    return _as_config_error(name, lambda: read_capped(Path(path), limit=limit, what=name))


def _as_config_error(name: str, read: Callable[[], T]) -> T:
    """A file or key a variable names that cannot be used: exit 2 naming the variable."""
    try:
        return read()
    except PipelineError as exc:
        raise ConfigError(exc.message, field=name, hint=exc.hint) from None
