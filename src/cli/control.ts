/**
 * The commands that send one control request to a running Baton and print its reply:
 * status, deploy, promote, rollback, reload, upgrade, maintenance, pause, resume, notify.
 */
import { formatEvent, formatReload, formatStatus, formatUpgradeEvent } from './print.js';
import type { ReloadReport } from '../reload.js';
import { request, type ControlTarget, type Reply } from './client.js';
import { EXIT } from './exit.js';
import { formatDuration } from '../config/duration.js';
import { isDone } from '../swap/swap.js';
import { isUpgradeDone } from '../upgrade/handover.js';
import type { ErrorBody, StatusBody, SwapEvent, UpgradeDone, UpgradeEvent } from '../control/protocol.js';

const service = (name: string): string => `/v1/services/${encodeURIComponent(name)}`;

export async function status(target: ControlTarget, json: boolean): Promise<number> {
  const reply = await request(target, 'GET', '/v1/status');
  if (reply.status !== 200) return replyError(reply);
  process.stdout.write(json ? JSON.stringify(reply.body, null, 2) + '\n' : formatStatus(reply.body as StatusBody) + '\n');
  return EXIT.ok;
}

export function deploy(target: ControlTarget, name: string, version: string, json: boolean, canary?: number): Promise<number> {
  return swap(target, name, 'deploy', canary === undefined ? { version } : { version, canary }, json);
}

export function promote(target: ControlTarget, name: string, json: boolean): Promise<number> {
  return swap(target, name, 'promote', {}, json);
}

export async function reload(target: ControlTarget, json: boolean): Promise<number> {
  const reply = await request(target, 'POST', '/v1/reload');
  if (reply.status !== 200) return replyError(reply);
  process.stdout.write(json ? JSON.stringify(reply.body) + '\n' : formatReload(reply.body as ReloadReport) + '\n');
  return (reply.body as ReloadReport).failed.length > 0 ? EXIT.failed : EXIT.ok;
}

export async function maintenance(target: ControlTarget, name: string, on: boolean, message: string, json: boolean): Promise<number> {
  const reply = await request(target, 'POST', `${service(name)}/maintenance`, { on, message });
  if (reply.status !== 200) return replyError(reply);
  const body = reply.body as { message: string | null };
  process.stdout.write(json ? JSON.stringify(reply.body) + '\n' : on ? `${name} in maintenance${body.message ? `: ${body.message}` : ''}\n` : `${name} serving again\n`);
  return EXIT.ok;
}

export async function upgrade(target: ControlTarget, timeout: string | undefined, json: boolean): Promise<number> {
  const reply = await request(target, 'POST', '/v1/upgrade', timeout === undefined ? {} : { timeout }, (e) => {
    process.stdout.write(json ? JSON.stringify(e) + '\n' : formatUpgradeEvent(e as UpgradeEvent | UpgradeDone) + '\n');
  });
  if (reply.status !== 200) return replyError(reply);
  const last = reply.body as UpgradeEvent | UpgradeDone | undefined;
  if (last === undefined || !isUpgradeDone(last)) {
    process.stderr.write('baton: the control stream ended before the upgrade finished\n');
    return EXIT.failed;
  }
  return last.ok ? EXIT.ok : EXIT.failed;
}

export function rollback(target: ControlTarget, name: string, json: boolean): Promise<number> {
  return swap(target, name, 'rollback', {}, json);
}

export async function pause(target: ControlTarget, name: string, timeout: string | undefined, json: boolean): Promise<number> {
  const reply = await request(target, 'POST', `${service(name)}/pause`, timeout === undefined ? {} : { timeout });
  if (reply.status !== 200) return replyError(reply);
  process.stdout.write(json ? JSON.stringify(reply.body) + '\n' : `${name} paused${timeout === undefined ? '' : ` for at most ${timeout}`}\n`);
  return EXIT.ok;
}

export async function resume(target: ControlTarget, name: string, json: boolean): Promise<number> {
  const reply = await request(target, 'POST', `${service(name)}/resume`, {});
  if (reply.status !== 200) return replyError(reply);
  const body = reply.body as { released: number };
  process.stdout.write(json ? JSON.stringify(body) + '\n' : `${name} resumed (${body.released} held request${body.released === 1 ? '' : 's'} released)\n`);
  return EXIT.ok;
}

export async function notify(target: ControlTarget, name: string, message: string, json: boolean): Promise<number> {
  const reply = await request(target, 'POST', `${service(name)}/notify`, { message });
  if (reply.status !== 200) return replyError(reply);
  const body = reply.body as { browsers: number };
  process.stdout.write(json ? JSON.stringify(body) + '\n' : `sent to ${body.browsers} browser${body.browsers === 1 ? '' : 's'}\n`);
  return EXIT.ok;
}

async function swap(target: ControlTarget, name: string, action: string, body: unknown, json: boolean): Promise<number> {
  // On a terminal, the wait for health (or a migration) shows its progress on a line of its own.
  const progress = !json && process.stdout.isTTY === true ? new Progress(target, name) : undefined;
  const reply = await request(target, 'POST', `${service(name)}/${action}`, body, (e) => {
    progress?.clear();
    process.stdout.write(json ? JSON.stringify(e) + '\n' : formatEvent(e as SwapEvent) + '\n');
  }).finally(() => progress?.stop());
  if (reply.status !== 200) return replyError(reply);
  const last = reply.body as SwapEvent | undefined;
  if (last === undefined || !isDone(last)) {
    process.stderr.write('baton: the control stream ended before the swap finished\n');
    return EXIT.failed;
  }
  return last.ok ? EXIT.ok : EXIT.failed;
}

/** 4xx that judge the input itself (unknown service, bad version or duration, a bad token) exit 2; others 1. */
export function replyError(reply: Reply): number {
  const err = (reply.body as ErrorBody | undefined)?.error;
  process.stderr.write(`baton: ${err?.message ?? `control API answered ${reply.status}`}${err?.code === undefined ? '' : ` [${err.code}]`}\n`);
  return reply.status === 409 || reply.status >= 500 ? EXIT.failed : EXIT.usage;
}

/** A line that says what a swap waits for (probes so far, the last answer), redrawn twice a second. */
class Progress {
  readonly #timer: NodeJS.Timeout;
  #shown = false;

  constructor(
    readonly target: ControlTarget,
    readonly name: string,
  ) {
    this.#timer = setInterval(() => void this.#poll(), 500);
  }

  async #poll(): Promise<void> {
    const reply = await request(this.target, 'GET', '/v1/status').catch(() => undefined);
    const swap = (reply?.body as StatusBody | undefined)?.services[this.name]?.swapping;
    if (swap === undefined || swap === null) return;
    let line: string | undefined;
    if (swap.step === 'healthy') line = `waiting for health: ${swap.probes} probe${swap.probes === 1 ? '' : 's'}${swap.last_probe === null ? '' : `, last ${swap.last_probe}`} (${formatDuration(swap.elapsed_ms)})`;
    else if (swap.step === 'quiesce') line = `waiting for the old version's requests to finish (${formatDuration(swap.elapsed_ms)})`;
    else if (swap.step === 'migrate') line = `migrating, requests held (${formatDuration(swap.elapsed_ms)})`;
    if (line === undefined) return;
    process.stdout.write(`\x1b[2K\r  ${line}`);
    this.#shown = true;
  }

  clear(): void {
    if (!this.#shown) return;
    process.stdout.write('\x1b[2K\r');
    this.#shown = false;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.clear();
  }
}
