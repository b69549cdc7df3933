/**
 * `baton logs SERVICE [-f] [-n N]`: the active instances' output, as the apps wrote it (or as
 * NDJSON records with --json). With -f it follows across deploys: a version that becomes
 * active joins the stream, announced on stderr.
 */
import { request, type ControlTarget } from './client.js';
import { replyError } from './control.js';
import { EXIT } from './exit.js';
import type { LogRecord } from '../control/protocol.js';

export async function logs(target: ControlTarget, name: string, opts: { follow: boolean; lines: number; json: boolean }): Promise<number> {
  const seen = new Set<string>();
  const query = `n=${opts.lines}${opts.follow ? '&follow=1' : ''}`;
  const reply = await request(target, 'GET', `/v1/services/${encodeURIComponent(name)}/logs?${query}`, undefined, (line) => {
    const r = line as LogRecord;
    if (!seen.has(r.instance)) {
      if (opts.follow && seen.size > 0) process.stderr.write(`baton: now also following ${name} ${r.version} (${r.instance})\n`);
      seen.add(r.instance);
    }
    process.stdout.write(opts.json ? JSON.stringify(r) + '\n' : r.line + '\n');
  });
  if (reply.status !== 200) return replyError(reply);
  return EXIT.ok;
}
