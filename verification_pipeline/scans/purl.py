"""Just enough of package URLs to compare packages across scanners (not a full purl parser)."""

from __future__ import annotations

from urllib.parse import unquote


def purl_type(purl: str | None) -> str | None:
    """`pkg:golang/x@1` -> `golang`."""
    if not purl or not purl.startswith("pkg:"):
        return None
    kind = purl[4:].lstrip("/").split("/", 1)[0]
    return kind.lower() or None


def purl_identity(purl: str | None) -> str | None:
    """The purl without qualifiers and subpath, percent-decoded, type lowercased.

    Scanners disagree on qualifiers (arch, distro, upstream, package-id) for the same package,
    so only type/namespace/name@version identifies it.
    """
    if not purl or not purl.startswith("pkg:"):
        return None
    core = purl[4:].lstrip("/").split("#", 1)[0].split("?", 1)[0]
    kind, _, rest = core.partition("/")
    return f"pkg:{kind.lower()}/{unquote(rest)}" if rest else None
