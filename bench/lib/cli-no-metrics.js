// `baton` with the metrics observer taken off the request path, to measure what metrics cost
// (scenario 1, configuration "baton-nometrics"). The proxy only installs its per-request hook
// when the observer has requestFinished, so removing that method removes the whole per-request
// cost. A build without that shape exits 78 (EX_CONFIG) and the bench skips the configuration.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const metrics = await import(path.join(root, 'dist/metrics.js')).catch(() => undefined);
if (typeof metrics?.Metrics?.prototype?.requestFinished !== 'function') {
  process.stderr.write('cli-no-metrics: this build has no Metrics.prototype.requestFinished in dist/metrics.js; cannot take metrics off\n');
  process.exit(78);
}
delete metrics.Metrics.prototype.requestFinished;
process.argv = [process.argv[0], path.join(root, 'dist/cli.js'), ...process.argv.slice(2)];
await import(path.join(root, 'dist/cli.js'));
