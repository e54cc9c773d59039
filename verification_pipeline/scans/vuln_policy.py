"""The vulnerability policy: which findings block a release, and time-boxed exceptions to it.

Default: any Critical fails, and a High fails when a fix is available (there is something to
do about it). An allowlist entry accepts one vulnerability (optionally in one package) for a
stated reason until its expiry date; from that date on it no longer applies, so an accepted
risk has to be looked at again instead of being forgotten (the VEX idea, kept in config).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from verification_pipeline.config_files import load_yaml, validate
from verification_pipeline.errors import ConfigError
from verification_pipeline.scans.schemas import (
    SEVERITIES,
    VULNERABILITY_SCHEMA,
    frame,
    normalize_severity,
    schema,
)

Severity = Literal["Critical", "High", "Medium", "Low", "Negligible", "Unknown"]

VIOLATION_SCHEMA = schema({**VULNERABILITY_SCHEMA, "rule": pl.Utf8})
ALLOWLISTED_SCHEMA = schema(
    {**VULNERABILITY_SCHEMA, "rule": pl.Utf8, "allowlist_reason": pl.Utf8, "allowlist_expires": pl.Date}
)


def _not_blank(value: str, message: str) -> str:
    """The text without surrounding white space; ValueError(message) (pydantic names the field) when blank."""
    if not value.strip():
        raise ValueError(message)
    return value.strip()


class AllowlistEntry(BaseModel):
    """One accepted vulnerability: id, why, and until when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(
        min_length=1, description="vulnerability id as the scanner reports it (CVE-..., GHSA-...)"
    )
    reason: str = Field(description="why the risk is accepted; shown in the evidence")
    expires: date = Field(description="first day on which the entry no longer applies")
    package: str | None = Field(default=None, description="limit the entry to one package name")

    @field_validator("id")
    @classmethod
    def _strip_id(cls, value: str) -> str:
        return _not_blank(value, "must not be blank")

    @field_validator("reason")
    @classmethod
    def _reason_not_blank(cls, value: str) -> str:
        return _not_blank(value, "must say why the vulnerability is accepted")

    def in_force(self, today: date) -> bool:
        return today < self.expires

    def covers(self, vuln_id: str, package: str | None) -> bool:
        same_id = self.id.casefold() == vuln_id.casefold()
        return same_id and (self.package is None or self.package == package)


class VulnerabilityPolicy(BaseModel):
    """Which findings fail the gate. Severity names are case-insensitive in config."""

    model_config = ConfigDict(extra="forbid")

    fail_on: list[Severity] = Field(default=["Critical"])
    fail_on_fixable: list[Severity] = Field(default=["High"])
    allowlist: list[AllowlistEntry] = Field(default_factory=list)

    @field_validator("fail_on", "fail_on_fixable", mode="before")
    @classmethod
    def _normalize(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return value
        out = []
        for item in value:
            if (
                isinstance(item, str)
                and normalize_severity(item) == "Unknown"
                and item.strip().lower() != "unknown"
            ):
                raise ValueError(f"{item!r} is not a severity; use one of {', '.join(SEVERITIES)}")
            out.append(normalize_severity(item) if isinstance(item, str) else item)
        return out


def load_vulnerability_policy(config: bytes | Mapping[str, Any] | None, source: str) -> VulnerabilityPolicy:
    """Validate a policy from YAML bytes or an already-parsed mapping; None gives the default.

    The policy may stand alone or sit under a `vulnerability_policy:` key of a larger file.
    A missing or invalid field is a ConfigError naming it (e.g. `allowlist[0].expires`).
    """
    if config is None:
        return VulnerabilityPolicy()
    if isinstance(config, bytes):
        config = load_yaml(config, source=source) or {}
    if not isinstance(config, Mapping):
        raise ConfigError("a vulnerability policy must be a mapping", source=source)
    if "vulnerability_policy" in config:
        config = config["vulnerability_policy"] or {}
    try:
        return VulnerabilityPolicy.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        hint = (
            "every allowlist entry needs id, reason and expires: YYYY-MM-DD"
            if "allowlist" in first["loc"]
            else None
        )
        if first["type"] == "extra_forbidden":
            hint = f"known keys: {', '.join(_model_keys(first['loc']))}"
        return validate(VulnerabilityPolicy, config, source=source, hint=hint)


def _model_keys(loc: tuple[Any, ...]) -> list[str]:
    model = AllowlistEntry if "allowlist" in loc else VulnerabilityPolicy
    return list(model.model_fields)


@dataclass(frozen=True)
class PolicyEvaluation:
    """The gate's answer: blocking findings, accepted ones, and entries that ran out."""

    violations: pl.DataFrame
    allowlisted: pl.DataFrame
    expired_entries: tuple[AllowlistEntry, ...]

    @property
    def passed(self) -> bool:
        return self.violations.height == 0


def _breach(row: Mapping[str, Any], policy: VulnerabilityPolicy) -> str | None:
    severity = row["severity"]
    if severity in policy.fail_on:
        return f"fail_on: {severity}"
    if severity in policy.fail_on_fixable and row["fix_state"] == "fixed":
        fixed = ", ".join(row["fixed_versions"]) or "a fixed version"
        return f"fail_on_fixable: {severity} with a fix available ({fixed})"
    return None


def evaluate_vulnerability_policy(
    vulnerabilities: pl.DataFrame, policy: VulnerabilityPolicy, *, today: date | None = None
) -> PolicyEvaluation:
    """Apply the policy to a vulnerabilities table (VULNERABILITY_SCHEMA).

    `today` defaults to the current UTC date; pass it explicitly for a reproducible verdict.
    """
    today = today or datetime.now(UTC).date()
    in_force = [e for e in policy.allowlist if e.in_force(today)]
    expired = tuple(e for e in policy.allowlist if not e.in_force(today))
    violations, allowlisted = [], []
    for row in vulnerabilities.iter_rows(named=True):
        rule = _breach(row, policy)
        if rule is None:
            continue
        entry = next((e for e in in_force if e.covers(row["id"], row["package"])), None)
        if entry is not None:
            allowlisted.append(
                {**row, "rule": rule, "allowlist_reason": entry.reason, "allowlist_expires": entry.expires}
            )
            continue
        lapsed = next((e for e in expired if e.covers(row["id"], row["package"])), None)
        if lapsed is not None:
            rule += f"; allowlist entry expired on {lapsed.expires.isoformat()}"
        violations.append({**row, "rule": rule})
    return PolicyEvaluation(
        violations=frame(violations, VIOLATION_SCHEMA),
        allowlisted=frame(allowlisted, ALLOWLISTED_SCHEMA),
        expired_entries=expired,
    )
