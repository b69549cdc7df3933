/**
 * Telling systemd about Baton (Type=notify): ready, the main pid after `baton upgrade`,
 * stopping. Node cannot write to a Unix datagram socket, so the message goes through
 * `systemd-notify`; nothing happens outside systemd (no NOTIFY_SOCKET).
 */
import { execFile } from 'node:child_process';
import { readFile, unlink } from 'node:fs/promises';
import { writeFileAtomic } from '../state/atomic-write.js';
import type { Logger } from 'pino';

export function notifySystemd(env: NodeJS.ProcessEnv, fields: Record<string, string | number>, log: Logger): Promise<void> {
  if ((env.NOTIFY_SOCKET ?? '') === '') return Promise.resolve();
  const args = Object.entries(fields).map(([k, v]) => `${k}=${v}`);
  return new Promise((resolve) => {
    execFile('systemd-notify', args, { env, timeout: 5_000 }, (err, _out, stderr) => {
      if (err !== null) log.warn({ err: err.message, stderr: stderr.trim(), fields }, 'systemd-notify failed');
      resolve();
    });
  });
}

/** Write `pid` to the file atomically (systemd's PIDFile=, a monitor): never a half-written file. */
export async function writePidFile(file: string, pid: number): Promise<void> {
  await writeFileAtomic(file, `${pid}\n`, 0o644);
}

/** Remove the pid file if it still names `pid` (a successor may have written its own). */
export async function removePidFile(file: string, pid: number): Promise<void> {
  const text = await readFile(file, 'utf8').catch(() => '');
  if (text.trim() === String(pid)) await unlink(file).catch(() => {});
}
