// `baton` with the metrics observer taken off the request path, to measure what metrics cost
// (scenario 1, "metrics off"). The proxy only installs its per-request hook when the observer
// has requestFinished, so removing that method removes the whole per-request cost.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { Metrics } = await import(path.join(root, 'dist/metrics.js'));
delete Metrics.prototype.requestFinished;
process.argv = [process.argv[0], path.join(root, 'dist/cli.js'), ...process.argv.slice(2)];
await import(path.join(root, 'dist/cli.js'));
