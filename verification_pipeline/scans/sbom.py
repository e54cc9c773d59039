"""SBOM parsers: syft JSON, CycloneDX JSON and SPDX 2.x JSON -> the components table.

Each SBOM format names the scanned subject itself (syft's `source`, CycloneDX's
`metadata.component`, SPDX's described package); that subject is not a component, so all three
formats give the same rows for the same scan.
"""

from __future__ import annotations

from typing import Any

from verification_pipeline.scans.document import Node, empty_to_none
from verification_pipeline.scans.parsed import Parsed, known_version
from verification_pipeline.scans.purl import purl_type
from verification_pipeline.scans.schemas import COMPONENT_SCHEMA, frame

_NO_LICENSE = {"NOASSERTION", "NONE"}


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v and v not in _NO_LICENSE))


def _component(
    name: str, version: str | None, kind: str | None, purl: str | None, licenses: list[str]
) -> dict[str, Any]:
    return {
        "name": name,
        "version": empty_to_none(version),
        "type": empty_to_none(kind),
        "purl": empty_to_none(purl),
        "licenses": _unique(licenses),
    }


def parse_syft_json(doc: Node) -> Parsed:
    rows = []
    for artifact in doc["artifacts"].items():
        licenses = []
        for lic in artifact["licenses"].items():
            # schema < 8 lists plain strings; later ones objects with value and spdxExpression
            if isinstance(lic.value, str):
                licenses.append(lic.value)
            else:
                licenses.append(lic["spdxExpression"].text() or lic["value"].text() or "")
        purl = artifact["purl"].text()
        rows.append(
            _component(
                artifact["name"].required_text(),
                artifact["version"].text(),
                artifact["type"].text() or purl_type(purl),
                purl,
                licenses,
            )
        )
    descriptor = doc["descriptor"]
    return Parsed(
        tool=descriptor["name"].text() or "syft",
        tool_version=known_version(descriptor["version"].text()),
        components=frame(rows, COMPONENT_SCHEMA),
    )


def parse_cyclonedx_json(doc: Node) -> Parsed:
    rows: list[dict[str, Any]] = []
    _cyclonedx_components(doc["components"], rows)
    tool, version = _cyclonedx_tool(doc["metadata"]["tools"])
    return Parsed(tool=tool, tool_version=version, components=frame(rows, COMPONENT_SCHEMA))


def _cyclonedx_components(components: Node, rows: list[dict[str, Any]]) -> None:
    for component in components.items():
        purl = component["purl"].text()
        syft_type = None
        for prop in component["properties"].items():
            if prop["name"].text() == "syft:package:type":
                syft_type = prop["value"].text()
        licenses = []
        for choice in component["licenses"].items():
            licenses.append(
                choice["expression"].text()
                or choice["license"]["id"].text()
                or choice["license"]["name"].text()
                or ""
            )
        rows.append(
            _component(
                component["name"].required_text(),
                component["version"].text(),
                syft_type or purl_type(purl) or component["type"].text(),
                purl,
                licenses,
            )
        )
        _cyclonedx_components(component["components"], rows)  # assemblies nest their parts


def _cyclonedx_tool(tools: Node) -> tuple[str, str | None]:
    # 1.4 and earlier: an array of tools; 1.5+: {"components": [...], "services": [...]}
    listed = list(tools.items()) if isinstance(tools.value, list) else list(tools["components"].items())
    for tool in listed:
        if name := tool["name"].text():
            return name, known_version(tool["version"].text())
    return "cyclonedx", None


def parse_spdx_json(doc: Node) -> Parsed:
    described = set(doc["documentDescribes"].texts())
    document_id = doc["SPDXID"].text() or "SPDXRef-DOCUMENT"
    for rel in doc["relationships"].items():
        kind = rel["relationshipType"].text()
        if kind == "DESCRIBES" and rel["spdxElementId"].text() == document_id:
            described.add(rel["relatedSpdxElement"].text() or "")
        elif kind == "DESCRIBED_BY" and rel["relatedSpdxElement"].text() == document_id:
            described.add(rel["spdxElementId"].text() or "")
    packages = list(doc["packages"].items())
    parts = [p for p in packages if p["SPDXID"].text() not in described]
    # a document that describes one package and lists nothing else is an SBOM of that package
    chosen = parts if parts else packages
    rows = []
    for package in chosen:
        purl = None
        for ref in package["externalRefs"].items():
            if ref["referenceType"].text() == "purl":
                purl = ref["referenceLocator"].text()
                break
        purpose = package["primaryPackagePurpose"].text()
        rows.append(
            _component(
                package["name"].required_text(),
                package["versionInfo"].text(),
                purl_type(purl) or (purpose.lower() if purpose else None),
                purl,
                [package["licenseDeclared"].text() or "", package["licenseConcluded"].text() or ""],
            )
        )
    tool, version = _spdx_tool(doc["creationInfo"]["creators"].texts())
    return Parsed(tool=tool, tool_version=version, components=frame(rows, COMPONENT_SCHEMA))


def _spdx_tool(creators: list[str]) -> tuple[str, str | None]:
    for creator in creators:
        if creator.startswith("Tool:"):
            name, sep, version = creator.removeprefix("Tool:").strip().rpartition("-")
            return (name, known_version(version)) if sep and name else (version, None)
    return "spdx", None
