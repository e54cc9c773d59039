"""Release-candidate tags: `v24.1.0-rc1` -> version `v24.1`, release tag `v24.1.0`, sort order.

Order is semantic, not lexical: rc10 comes after rc9, and v24.10 after v24.9.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from verification_pipeline.errors import InputError, shown

# ASCII digits, at most nine per number: no version is longer, and int() of 5,000 digits is an error.
_NUMBER = "[0-9]{1,9}"
_RC = re.compile(rf"^v(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})-rc(?P<rc>{_NUMBER})$")


@dataclass(frozen=True, order=True)
class RcTag:
    """A release-candidate tag, parsed: what its name says (version, release tag, order).

    Only the name: the release candidate itself (with its commit) is `evidence.statements.ReleaseCandidate`.
    """

    sort_key: tuple[int, int, int, int]
    tag: str

    @property
    def version(self) -> str:
        """The seed's short version, used in bundle paths and document names (`v24.1`)."""
        major, minor, _, _ = self.sort_key
        return f"v{major}.{minor}"

    @property
    def release_tag(self) -> str:
        """The tag promotion creates (`v24.1.0` for `v24.1.0-rc1`)."""
        major, minor, patch, _ = self.sort_key
        return f"v{major}.{minor}.{patch}"

    @property
    def rc_number(self) -> int:
        return self.sort_key[3]


def parse_rc(tag: str) -> RcTag:
    match = _RC.match(tag.strip())
    if not match:
        raise InputError(
            f"'{shown(tag)}' is not a release-candidate tag",
            field="rc",
            hint="use the form vMAJOR.MINOR.PATCH-rcN, e.g. v24.1.0-rc1",
        )
    parts = tuple(int(match[g]) for g in ("major", "minor", "patch", "rc"))
    return RcTag(sort_key=parts, tag=tag.strip())  # type: ignore[arg-type]


def is_rc(tag: str) -> bool:
    return bool(_RC.match(tag))


def newest(tags: Iterable[str]) -> str | None:
    candidates = sorted(parse_rc(t) for t in tags if is_rc(t))
    return candidates[-1].tag if candidates else None
