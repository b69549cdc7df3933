import { fork } from 'node:child_process';
import path from 'node:path';
import { BENCH } from './baton.js';

/** Fork a bench client (it inherits the orchestrator's pinning to the load core). */
export function forkClient(name) {
  const child = fork(path.join(BENCH, 'clients', name), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  child.ask = (msg, type, timeoutMs = 300_000) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: no ${type} within ${timeoutMs} ms`)), timeoutMs);
      const onMessage = (m) => {
        if (m.type !== type) return;
        clearTimeout(timer);
        child.removeListener('message', onMessage);
        child.removeListener('exit', onExit);
        resolve(m);
      };
      const onExit = (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before ${type}`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      if (msg !== undefined) child.send(msg);
    });
  return child;
}
