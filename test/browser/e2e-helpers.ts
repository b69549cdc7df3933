/**
 * What the end-to-end browser tests need beyond test/helpers/baton.ts: a deploy whose NDJSON
 * events are timestamped as they are read, Baton's own log time of a switch, a fixed free port
 * (so a restarted Baton keeps the page's origin) and an in-page recorder.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { CLI } from '../helpers/baton.js';

/** One NDJSON event of `baton deploy --json`, with the wall-clock time it was read. */
export interface TimedEvent {
  event: Record<string, unknown>;
  at: number;
}

export interface StreamingDeploy {
  /** Resolves with the time (Date.now()) the `switch` event was read; rejects if the deploy ended without one. */
  switched: Promise<number>;
  /** Resolves once the CLI exits. */
  done: Promise<{ code: number | null; events: TimedEvent[]; stderr: string }>;
}

/** `baton deploy SERVICE VERSION --json`, reading its events as they come. */
export function deployStreaming(socket: string, service: string, version: string, timeoutMs = 60_000): StreamingDeploy {
  const child = spawn(process.execPath, [CLI, 'deploy', service, version, '--json', '--socket', socket], { stdio: ['ignore', 'pipe', 'pipe'] });
  const events: TimedEvent[] = [];
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let onSwitch: (at: number) => void = () => {};
  let noSwitch: (err: Error) => void = () => {};
  const switched = new Promise<number>((resolve, reject) => {
    onSwitch = resolve;
    noSwitch = reject;
  });
  switched.catch(() => {}); // a failing deploy need not be awaited for its switch
  createInterface({ input: child.stdout }).on('line', (line) => {
    const at = Date.now();
    if (line.trim() === '') return;
    const event = JSON.parse(line) as Record<string, unknown>;
    events.push({ event, at });
    if (event.step === 'switch') onSwitch(at);
  });
  const done = new Promise<{ code: number | null; events: TimedEvent[]; stderr: string }>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      noSwitch(new Error(`deploy of ${version} ended (${code}) without a switch event: ${stderr}`));
      resolve({ code, events, stderr });
    });
  });
  return { switched, done };
}

/** The `time` of Baton's "switch step completed" log line for a swap to `version`. */
export function loggedSwitchTime(output: string, version: string): number | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"step":"switch"')) continue;
    try {
      const rec = JSON.parse(line) as { step?: string; to?: string; time?: number };
      if (rec.step === 'switch' && rec.to === version && typeof rec.time === 'number') return rec.time;
    } catch {
      // not a JSON log line
    }
  }
  return undefined;
}

/** A loopback port that was free a moment ago. */
export { freePort } from '../../src/runtime/free-port.js';

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** What the in-page recorder saw (see RECORDER). */
export interface PageRecord {
  /** Each Baton message, with the banner's text right after the client handled it (null: no banner). */
  messages: Array<{ type: string; version?: string; message?: string; at: number; banner: string | null }>;
  /** Each text the demo page's WebSocket state (#ws-state) took, in order. */
  wsState: Array<{ at: number; text: string }>;
}

/**
 * Runs in the page before its own scripts (page.addInitScript). It listens to Baton's window
 * events; the microtask runs once the client has handled the message (it renders the banner in
 * the same task that dispatches), so `banner` and `at` are what the visitor got and when.
 */
export const RECORDER = `(() => {
  const rec = { messages: [], wsState: [] };
  window.__rec = rec;
  addEventListener('baton:message', (e) => {
    const d = e.detail;
    queueMicrotask(() => {
      const el = document.querySelector('baton-notice');
      const text = el && el.isConnected ? el.shadowRoot.querySelector('.text').textContent : null;
      rec.messages.push({ type: d.type, version: d.version, message: d.message, at: Date.now(), banner: text });
    });
  });
  new MutationObserver((mutations) => {
    for (const m of mutations) {
      const el = m.target.nodeType === 3 ? m.target.parentElement : m.target;
      if (el && el.id === 'ws-state') rec.wsState.push({ at: Date.now(), text: el.textContent });
    }
  }).observe(document, { subtree: true, childList: true, characterData: true });
})();`;
