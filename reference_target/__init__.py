"""The reference target: the GraphQL + Socket.IO service under test, built from the seed.

Started only as a process (`python -m reference_target` or
`verification-pipeline target serve`); the pipeline never imports this package, so it can
only rely on what any real service offers over the wire. Modules:

- `app`: the ASGI app (Starlette routes + Socket.IO), `server`: uvicorn around it;
- `graphql_api` / `graphql_http`: schema, resolvers and the POST /graphql hot path;
- `realtime`: Socket.IO rooms per tenant and the `coherenceEvents` fan-out;
- `tokens`: HS256 JWTs (`mint_token` for tests); `store`: bounded in-memory storage;
- `limiter`: 429 + Retry-After; `tenant_limits`: per-tenant rate limits (slos.yaml's cost_controls);
  `faults`: fault injection; `metrics`: /metrics names.
"""
