/**
 * `baton dashboard`: the live dashboard of a running Baton, served on 127.0.0.1 at a random
 * port with a one-time token in the printed URL (dashboard/local-server.ts), until SIGINT or
 * SIGTERM. The URL goes to stdout (`--json`: `{"url": ...}`), the rest to stderr.
 */
import { request, describeTarget, type ControlTarget } from './client.js';
import { replyError } from './control.js';
import { EXIT } from './exit.js';
import { LocalDashboard } from '../dashboard/local-server.js';

export async function dashboard(target: ControlTarget, json: boolean): Promise<number> {
  // A Baton must answer first: exit 3 when none does, as every control command.
  const reply = await request(target, 'GET', '/v1/status');
  if (reply.status !== 200) return replyError(reply);
  const server = new LocalDashboard({ target });
  const url = await server.listen();
  process.stdout.write(json ? JSON.stringify({ url }) + '\n' : `${url}\n`);
  process.stderr.write(`baton: the dashboard of ${describeTarget(target)} is at the URL above (it opens once: the token is spent on first use); Ctrl-C stops it\n`);
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.removeListener('SIGINT', stop);
      process.removeListener('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return EXIT.ok;
}
