/**
 * Syscalls of a group of processes while a load runs, counted in the kernel: `perf stat` on the
 * syscalls:sys_enter_* tracepoints (cheap; counted where the syscall happens), else `strace -c`
 * (ptrace stops the process at every syscall, which slows it and so changes how much each read
 * batches: a fallback, flagged in the report). Bounded: the counter is stopped with SIGINT as
 * soon as the load ends, and killed if it does not stop within a few seconds.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LOAD_CORE, pinned, stopPid, track, untrack, which } from './procs.js';
import { sleep } from './util.js';

/**
 * The syscalls named in the breakdown; the total comes from raw_syscalls:sys_enter and the rest
 * is "other". Not syscalls:sys_enter_* (~360 tracepoints per thread): perf takes over 10 s to
 * close that many counters on a Node process.
 */
const NAMED = ['read', 'write', 'writev', 'readv', 'pread64', 'pwrite64', 'openat', 'unlink', 'recvfrom', 'sendto', 'recvmsg', 'sendmsg', 'sendfile64', 'splice', 'epoll_wait', 'epoll_pwait', 'epoll_ctl', 'accept', 'accept4', 'connect', 'socket', 'close', 'shutdown', 'setsockopt', 'getsockopt', 'getsockname', 'getpeername', 'ioctl', 'fcntl', 'futex', 'getpid', 'mmap', 'munmap', 'mprotect', 'madvise', 'brk', 'io_uring_enter'];

function perfOk(bin, events) {
  try {
    execFileSync(bin, ['stat', '-x,', '-e', events.join(','), '--', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/** The tracepoints this kernel has (and this user may count), total first; undefined if none. */
function perfEvents(bin) {
  const total = 'raw_syscalls:sys_enter';
  if (!perfOk(bin, [total])) return undefined;
  const named = NAMED.map((n) => `syscalls:sys_enter_${n}`);
  if (perfOk(bin, [total, ...named])) return [total, ...named];
  return [total, ...named.filter((e) => perfOk(bin, [e]))];
}

/**
 * The counter to use: `want` is 'auto' (perf, else strace, else none), 'perf', 'strace' or
 * 'off'. Returns `{ name, count(pids, during) }` or undefined.
 */
export function syscallCounter(want = 'auto') {
  if (want === 'off') return undefined;
  const perf = want === 'auto' || want === 'perf' ? which('perf') : undefined;
  const events = perf === undefined ? undefined : perfEvents(perf);
  if (events !== undefined) return { name: 'perf', count: (pids, during) => withCounter(perfCommand(perf, events, pids), parsePerf, during) };
  const strace = want === 'auto' || want === 'strace' ? which('strace') : undefined;
  if (strace !== undefined) return { name: 'strace', count: (pids, during) => withCounter(straceCommand(strace, pids), parseStrace, during) };
  return undefined;
}

function perfCommand(bin, events, pids) {
  return (out) => pinned(LOAD_CORE, bin, ['stat', '-x,', '-e', events.join(','), '-p', pids.join(','), '-o', out]);
}

function straceCommand(bin, pids) {
  return (out) => pinned(LOAD_CORE, bin, ['-c', '-f', '-o', out, ...pids.flatMap((p) => ['-p', String(p)])]);
}

/**
 * perf -x, lines: `count,unit,event,...`; events that did not fire count "0" or "<not counted>".
 * The named counts, plus `other` for what the total has beyond them.
 */
function parsePerf(text) {
  const counts = {};
  let total = 0;
  for (const line of text.split('\n')) {
    const f = line.split(',');
    const n = Number(f[0]);
    if (!(n > 0)) continue;
    if (f[2] === 'raw_syscalls:sys_enter') total = n;
    const m = /^syscalls:sys_enter_(\w+)$/.exec(f[2] ?? '');
    if (m !== null) counts[m[1]] = n;
  }
  const named = Object.values(counts).reduce((a, b) => a + b, 0);
  if (total > named) counts.other = total - named;
  return counts;
}

/** strace -c table: `% time  seconds  usecs/call  calls  [errors]  syscall`. */
function parseStrace(text) {
  const counts = {};
  for (const line of text.split('\n')) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$/.exec(line);
    if (m !== null && m[2] !== 'total') counts[m[2]] = Number(m[1]);
  }
  return counts;
}

/** Start the counter, run `during()` (the load), stop it, parse what it wrote. */
async function withCounter(command, parse, during) {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-syscalls-'));
  const out = path.join(dir, 'counts.txt');
  const cmd = command(out);
  const child = spawn(cmd.cmd, cmd.args, { stdio: ['ignore', 'ignore', 'pipe'] });
  track(child.pid);
  let stderr = '';
  child.stderr.on('data', (c) => (stderr += c.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    // Attaching takes a moment (perf opens one counter per tracepoint and thread).
    await sleep(500);
    if (child.exitCode !== null) throw new Error(`${cmd.args.includes('stat') ? 'perf' : 'strace'} exited at once: ${stderr.trim()}`);
    const result = await during();
    child.kill('SIGINT');
    // perf writes its counts once it has closed every counter (about a second here).
    const stopped = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!stopped) await stopPid(child.pid, 'SIGKILL', 1000);
    return { result, counts: parse(await readFile(out, 'utf8').catch(() => '')) };
  } finally {
    if (child.exitCode === null) await stopPid(child.pid, 'SIGKILL', 1000);
    untrack(child.pid);
    await rm(dir, { recursive: true, force: true });
  }
}
