/**
 * Scenario 4: the hold queue. Pause the service, send `count` requests (one connection each),
 * wait until Baton holds them all, read its RSS, resume, and time the answers first to last.
 */
import path from 'node:path';
import { BENCH, startBaton } from '../lib/baton.js';
import { forkClient } from '../lib/ipc.js';
import { nofile, rssKb } from '../lib/procs.js';
import { now, sleep } from '../lib/util.js';

const APP = path.join(BENCH, 'apps/app.mjs');

export async function holdQueue({ target, node, log }) {
  // Released, each held request also opens an upstream connection: two descriptors each.
  const limit = nofile();
  const count = Math.min(target, Math.floor((limit.hard - 512) / 2));
  if (count < target) log(`  open-files hard limit ${limit.hard}: ${count} held requests instead of ${target}`);
  const baton = await startBaton({ node, command: [node, APP], service: `hold:\n  timeout: 120s\n  max_queued: ${count + 1000}` });
  const client = forkClient('hold-load.js');
  try {
    await sleep(300);
    const rssIdle = rssKb(baton.pid);
    await baton.control('POST', '/v1/services/web/pause', {});
    const opened = await client.ask({ cmd: 'open', port: baton.port, count, batch: 400 }, 'opened', 120_000);
    let queued = 0;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      queued = (await baton.control('GET', '/v1/status')).body.services.web.queued;
      if (queued >= opened.connected) break;
      await sleep(100);
    }
    await sleep(300);
    const rssHeld = rssKb(baton.pid);
    const answers = client.ask({ cmd: 'wait', timeoutMs: 120_000 }, 'answers', 130_000);
    const resumedAt = now();
    const resumed = await baton.control('POST', '/v1/services/web/resume', {});
    const a = await answers;
    const rssAfter = rssKb(baton.pid);
    const out = {
      target,
      count,
      connected: opened.connected,
      queued,
      released: resumed.body.released,
      answered: a.answered,
      ok: a.ok,
      other: a.other,
      errors: a.errors,
      rssIdleMb: rssIdle / 1024,
      rssHeldMb: rssHeld / 1024,
      rssAfterMb: rssAfter / 1024,
      kbPerHeld: (rssHeld - rssIdle) / Math.max(1, queued),
      releaseFirstToLastMs: a.last - a.first,
      resumeToLastMs: a.last - resumedAt,
    };
    log(`  ${queued} held: RSS ${out.rssIdleMb.toFixed(0)} -> ${out.rssHeldMb.toFixed(0)} MiB; released first->last ${out.releaseFirstToLastMs.toFixed(0)} ms; ${a.ok} ok, ${a.other} other, ${a.errors} errors`);
    return out;
  } finally {
    client.kill();
    await baton.stop();
  }
}
