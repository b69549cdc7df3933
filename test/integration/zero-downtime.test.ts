import { afterEach, describe, it } from 'vitest';
import { configYaml, type RunningBaton, dispose } from '../helpers/baton.js';
import { CLIENTS, DEPLOYS, httpTransport, zeroDowntime } from '../helpers/zero-downtime.js';

let baton: RunningBaton | undefined;
afterEach(async () => {
  await dispose(baton);
  baton = undefined;
});

/** The same load and deploys with one instance per version, and with three (all switched as one). */
const VARIANTS: Array<[string, string]> = [
  ['one instance', ''],
  ['replicas: 3', '\nreplicas: 3'],
];

describe.each(VARIANTS)('zero downtime (%s)', (variant, extra) => {
  it(`${CLIENTS} keep-alive clients see no failure across ${DEPLOYS} deploys, each answer from a version active during the request`, async () => {
    const yaml = configYaml({ web: { extra: `drain:\n  timeout: 10s\n  websocket_grace: 1s${extra}` } });
    await zeroDowntime(variant, yaml, (b) => httpTransport(b.port), (b) => (baton = b));
  });
});
