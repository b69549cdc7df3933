import { open, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';

/**
 * Replace `file` with `text` so that a crash leaves the old content or the new, never half of
 * one: a temporary file beside it, written, fsynced, then renamed over it.
 */
export async function writeFileAtomic(file: string, text: string, mode = 0o600): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
    await handle.close();
    await rename(tmp, file);
  } catch (err) {
    await handle.close().catch(() => {});
    await rm(tmp, { force: true });
    throw err;
  }
}
