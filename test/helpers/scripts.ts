/**
 * Runs a Node script of the repository (bench/run.js, bench/neighbour.js) as a child process on
 * this test's Node, and tells whether a command the script needs is installed.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT, runNode, type CliResult } from './baton.js';

/** `node <ROOT>/<script> ...args`, its output collected; rejects (after SIGTERM) past `timeoutMs`. */
export function runScript(script: string, args: string[], timeoutMs: number): Promise<CliResult> {
  return runNode(path.join(ROOT, script), args, { timeoutMs, signal: 'SIGTERM', what: script });
}

/** Whether `cmd` is on the PATH. */
export function installed(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
