// The seed's graphql_write.js (same mutation, headers and check), parametrized: see common.js.
// It also records the target's pre-storage ingest time from `Server-Timing: ingest;dur=<ms>`.
import { Trend } from 'k6/metrics';
import { loadOptions, postGraphql, tenant } from './common.js';

export const options = loadOptions('write', 20);

const ingestDuration = new Trend('ingest_duration', true);

// The `dur` of the `ingest` entry of a Server-Timing header, e.g. `db;dur=3, ingest;dur=4.2`.
function ingestMs(header) {
  for (const entry of (header || '').split(',')) {
    const [name, ...params] = entry.split(';').map((part) => part.trim());
    if (name === 'ingest') {
      const dur = params.find((param) => param.startsWith('dur='));
      return dur === undefined ? undefined : Number(dur.slice(4));
    }
  }
  return undefined;
}

export default function () {
  postGraphql(
    'mutation($input:PublishCoherenceSignalInput!){ publishCoherenceSignal(input:$input) }',
    {
      input: {
        tenantId: tenant,
        type: 'k6',
        value: Math.random(),
        source: 'k6',
        ts: new Date().toISOString(),
      },
    },
    (res) => {
      const ms = ingestMs(res.headers['Server-Timing']);
      if (Number.isFinite(ms)) {
        ingestDuration.add(ms);
      }
    },
  );
}
