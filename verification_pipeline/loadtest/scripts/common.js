// Shared by read.js and write.js: the load model from the environment, the seed's request
// (same headers, same check), and what k6 alone does not record.
//
// Environment: GRAPHQL_URL (required), JWT (required), TENANT (default tenant-123),
// EXECUTOR=vus (closed model: VUS for DURATION, as the seed) or arrival (open model:
// RATE requests/s for DURATION with VUS pre-allocated and MAX_VUS at most), TIMEOUT
// (per request, default 60s), P95_MS (optional threshold on this op's p95; k6 then exits 99
// when it is crossed). Concurrent baseline: BASELINE_GRAPHQL_URL and BASELINE_JWT name a
// second service (the baseline RC); each iteration then goes to it or to GRAPHQL_URL at random,
// and every sample of a baseline iteration carries the op tag `<op>@baseline`.
import http from 'k6/http';
import exec from 'k6/execution';
import { check } from 'k6';
import { Rate } from 'k6/metrics';

// A GraphQL answer that failed although HTTP said 200: k6's http_req_failed misses these.
const graphqlErrors = new Rate('graphql_errors');

function required(name) {
  const value = __ENV[name];
  if (!value) {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

function positiveNumber(name, fallback) {
  const value = Number(__ENV[name] || fallback);
  if (!(value > 0)) {
    throw new Error(`${name} must be a positive number, got "${__ENV[name]}"`);
  }
  return value;
}

// One scenario named after the op and tagged with it, so every sample (including
// dropped_iterations, which only carries the scenario) says which op it belongs to.
export function loadOptions(op, defaultVus) {
  const executor = __ENV.EXECUTOR || 'vus';
  const vus = positiveNumber('VUS', defaultVus);
  const duration = __ENV.DURATION || '3m';
  let scenario;
  if (executor === 'vus') {
    scenario = { executor: 'constant-vus', vus, duration };
  } else if (executor === 'arrival') {
    scenario = {
      executor: 'constant-arrival-rate',
      rate: positiveNumber('RATE', undefined),
      timeUnit: '1s',
      duration,
      preAllocatedVUs: vus,
      maxVUs: positiveNumber('MAX_VUS', vus),
    };
  } else {
    throw new Error(`EXECUTOR must be "vus" or "arrival", got "${executor}"`);
  }
  scenario.tags = { op };
  const options = { scenarios: { [op]: scenario } };
  if (__ENV.P95_MS) {
    options.thresholds = { [`http_req_duration{op:${op}}`]: [`p(95)<${positiveNumber('P95_MS')}`] };
  }
  return options;
}

export const tenant = __ENV.TENANT || 'tenant-123';
const url = required('GRAPHQL_URL');
const jwt = required('JWT');
const baselineUrl = __ENV.BASELINE_GRAPHQL_URL || '';
const baselineJwt = baselineUrl ? required('BASELINE_JWT') : '';
export const BASELINE_SUFFIX = '@baseline';

// A 200 whose body is not JSON or carries a non-empty `errors` list failed as GraphQL.
function failedAsGraphql(res) {
  if (res.status !== 200) {
    return false; // counted from the HTTP status
  }
  try {
    const body = res.json();
    return Array.isArray(body.errors) && body.errors.length > 0;
  } catch (_) {
    return true;
  }
}

// Send one GraphQL request as the seed does. While it is in flight the VU's samples carry a
// request_id in their metadata (not a tag: no new time series per request), which is how the
// ingestion joins http_req_duration with graphql_errors and the caller's own metrics.
// `record(res)` adds the caller's per-request metrics under the same id.
export function postGraphql(query, variables, record) {
  exec.vu.metrics.metadata.request_id = `${exec.vu.idInTest}-${exec.vu.iterationInInstance}`;
  // same script, same VUs: the side is picked per iteration, so both share every second of noise
  const baseline = baselineUrl !== '' && Math.random() < 0.5;
  const op = exec.vu.tags.op;
  if (baseline) {
    exec.vu.tags.op = `${op}${BASELINE_SUFFIX}`;
  }
  const res = http.post(baseline ? baselineUrl : url, JSON.stringify({ query, variables }), {
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${baseline ? baselineJwt : jwt}`,
    },
    timeout: __ENV.TIMEOUT || '60s',
  });
  check(res, { 200: (r) => r.status === 200 });
  graphqlErrors.add(failedAsGraphql(res));
  if (record) {
    record(res);
  }
  delete exec.vu.metrics.metadata.request_id;
  if (baseline) {
    exec.vu.tags.op = op;
  }
  return res;
}
