// The seed's graphql_read.js (same query, headers and check), parametrized: see common.js.
import { loadOptions, postGraphql, tenant } from './common.js';

export const options = loadOptions('read', 50);

export default function () {
  postGraphql('query($t:ID!){ tenantCoherence(tenantId:$t){ score status updatedAt } }', { t: tenant });
}
