"""Policy as code, evaluated in process: Rego (v1) through regopy, with conftest's semantics.

`rego` wraps the interpreter (compile once into a bundle, evaluate many inputs), `heads` reads
a module's package and rule heads (what conftest reads from OPA's AST), `inputs` parses the
configuration files conftest reads, `conftest` is its `test` command's evaluation and output.
"""
