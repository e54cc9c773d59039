// The overload phase (verification_pipeline/overload): tenant A at OFFERED_RPS for OVERLOAD_S,
// then RECOVERY_RPS for RECOVERY_S; tenant B at NEIGHBOUR_RPS throughout. Every scenario is
// constant-arrival-rate: requests are due on a schedule, however slow the answers (no
// coordinated omission); one k6 could not start for want of a VU is a dropped iteration.
//
// Environment: GRAPHQL_URL, JWT_A, JWT_B, TENANT_A, TENANT_B, OFFERED_RPS, NEIGHBOUR_RPS,
// RECOVERY_RPS, OVERLOAD_S, RECOVERY_S, TIMEOUT (a k6 duration).
// One `overload_request` sample per request: value = latency ms; tags: tenant, status,
// retry_after (seconds, from whole seconds or an HTTP date; "" when absent, "x" when unreadable)
// and error_code; k6 adds the scenario.
import http from 'k6/http';
import { Trend } from 'k6/metrics';

const requests = new Trend('overload_request', true);

function required(name) {
  const value = __ENV[name];
  if (!value) {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

function positive(name) {
  const value = Number(required(name));
  if (!(value > 0)) {
    throw new Error(`${name} must be a positive number, got "${__ENV[name]}"`);
  }
  return value;
}

const url = required('GRAPHQL_URL');
const overloadS = positive('OVERLOAD_S');
const recoveryS = positive('RECOVERY_S');

function arrival(exec, rate, duration, startTime, latencyS) {
  // VUs for the requests in flight at once (rate x how long each may take), all started before
  // the schedule begins: a VU k6 must start mid-run arrives late, and the request is dropped
  const vus = Math.max(10, Math.ceil(rate * latencyS));
  return {
    executor: 'constant-arrival-rate',
    exec,
    rate: Math.round(rate),
    timeUnit: '1s',
    duration: `${duration}s`,
    startTime: `${startTime}s`,
    preAllocatedVUs: Math.min(vus, 200),
    maxVUs: Math.min(vus * 4, 400),
  };
}

export const options = {
  scenarios: {
    overload: arrival('tenantA', positive('OFFERED_RPS'), overloadS, 0, 0.5),
    recovery: arrival('tenantA', positive('RECOVERY_RPS'), recoveryS, overloadS, 0.3),
    neighbour: arrival('tenantB', positive('NEIGHBOUR_RPS'), overloadS + recoveryS, 0, 0.3),
  },
};

const QUERY = 'query($t:ID!){ tenantCoherence(tenantId:$t){ score status updatedAt } }';

function retryAfter(header) {
  if (header === undefined || header === null || header === '') {
    return '';
  }
  const text = String(header).trim();
  if (/^\d+$/.test(text)) {
    return text;
  }
  const when = Date.parse(text);
  return Number.isFinite(when) ? String(Math.max(0, Math.ceil((when - Date.now()) / 1000))) : 'x';
}

function send(tenantKey, jwtName, tenantName) {
  const res = http.post(url, JSON.stringify({ query: QUERY, variables: { t: __ENV[tenantName] } }), {
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${__ENV[jwtName]}` },
    timeout: __ENV.TIMEOUT || '10s',
  });
  requests.add(res.timings.duration, {
    tenant: tenantKey,
    status: String(res.status),
    retry_after: retryAfter(res.headers['Retry-After']),
    error_code: String(res.error_code || 0),
  });
}

export function tenantA() {
  send('a', 'JWT_A', 'TENANT_A');
}

export function tenantB() {
  send('b', 'JWT_B', 'TENANT_B');
}
