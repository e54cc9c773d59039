"""`policy test`: conftest's `test` in process (Rego v1 through regopy), with the project's exit codes.

0 no failure; 1 a failure (or a warning with --fail-on-warn); 2 bad input: a Rego error names the
module and line, a namespace no policy declares is named.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from verification_pipeline.errors import GateFailed, UsageError

if TYPE_CHECKING:
    from verification_pipeline.policy.conftest import Engine
    from verification_pipeline.policy.runner import TestOptions

app = typer.Typer(
    help="Policy as code: Rego (v1) evaluated in process with conftest's semantics.", no_args_is_help=True
)


@app.callback()
def _group() -> None:
    """Policy as code (Rego, conftest semantics)."""


@app.command("test")
def test(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Configuration files: YAML (multi-document), JSON, TOML, INI, dotenv, XML, Dockerfile, HCL2, "
            "JSONC, Java properties, HOCON, EDN, Jsonnet, CycloneDX (JSON), SPDX (tag-value), .gitignore/.dockerignore."
        ),
    ],
    policy: Annotated[
        list[Path] | None,
        typer.Option("--policy", "-p", help="Directory or .rego file; repeatable (default: policy/)."),
    ] = None,
    data: Annotated[
        list[Path] | None,
        typer.Option("--data", "-d", help="Data documents (.json/.yaml) for data.*; repeatable."),
    ] = None,
    namespace: Annotated[
        list[str] | None,
        typer.Option(
            "--namespace", "-n", help="Package to test (a glob with * ? [); repeatable. Default main."
        ),
    ] = None,
    all_namespaces: Annotated[bool, typer.Option("--all-namespaces", help="Test every package.")] = False,
    combine: Annotated[
        bool, typer.Option("--combine", help="Judge all files at once, as one input.")
    ] = False,
    fail_on_warn: Annotated[bool, typer.Option("--fail-on-warn", help="Exit 1 on a warning too.")] = False,
    rego_version: Annotated[
        str,
        typer.Option(
            "--rego-version",
            help="v1 (default) or v0 (rewritten to v1 before compiling, as opa fmt --v0-v1).",
        ),
    ] = "v1",
    parser: Annotated[
        str | None,
        typer.Option(
            "--parser",
            help="yaml, json, toml, ini, dotenv, xml, dockerfile, hcl2, jsonc, properties, hocon, edn, "
            "jsonnet, cyclonedx, spdx or ignore for every file.",
        ),
    ] = None,
    output: Annotated[
        str, typer.Option("--output", "-o", help="stdout (default) or json (conftest's shape).")
    ] = "stdout",
    no_color: Annotated[bool, typer.Option("--no-color", help="Accepted; the output has no colour.")] = False,
    suppress_exceptions: Annotated[
        bool, typer.Option("--suppress-exceptions", help="Hide exception lines.")
    ] = False,
) -> None:
    """Evaluate Rego policies against configuration files, as `conftest test` does."""
    from verification_pipeline.policy.conftest import Engine
    from verification_pipeline.policy.inputs import PARSERS
    from verification_pipeline.policy.runner import (
        TestOptions,
        load_data,
        load_modules,
        read_inputs,
        render_json,
        render_text,
        run_test,
        totals,
    )

    del no_color  # accepted for conftest's command lines: nothing here is coloured
    if rego_version.lower() not in ("v0", "v1"):
        raise UsageError(f"--rego-version {rego_version!r}: expected v0 or v1")
    if output not in ("stdout", "json"):
        raise UsageError(f"--output {output!r}: expected stdout or json")
    if parser is not None and parser not in PARSERS:
        raise UsageError(f"--parser {parser!r}: expected one of {', '.join(PARSERS)}")
    engine = Engine(load_modules(policy or [Path("policy")], rego_version.lower()), load_data(data or []))
    options = TestOptions(
        namespaces=tuple(namespace or ["main"]), all_namespaces=all_namespaces, combine=combine, parser=parser
    )
    _check_namespaces(engine, options)
    results = run_test(engine, read_inputs(files, parser), options)
    typer.echo(
        render_json(results)
        if output == "json"
        else render_text(results, suppress_exceptions=suppress_exceptions)
    )
    counts = totals(results)
    if counts["failures"] or (fail_on_warn and counts["warnings"]):
        raise GateFailed(
            f"{counts['failures']} failure(s), {counts['warnings']} warning(s)"
            + (" (--fail-on-warn)" if fail_on_warn and not counts["failures"] else "")
        )


def _check_namespaces(engine: Engine, options: TestOptions) -> None:
    """Every namespace asked for names a package of the policies (a glob at least one)."""
    known = engine.namespaces()
    selected = engine.select_namespaces(options.namespaces, options.all_namespaces)
    unknown = [ns for ns in selected if ns not in known]
    if unknown or not selected:
        raise UsageError(
            f"namespace {', '.join(unknown or options.namespaces)} matches no package of the policies",
            hint=f"packages: {', '.join(known)}",
        )
