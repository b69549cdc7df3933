#!/usr/bin/env node
/**
 * Baton's command line: argv -> one command. The only module that reads process.argv and
 * process.env; everything below gets what it needs passed in.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { defaultConfig } from './config/default.js';
import { parseArgs, UsageError, USAGE, GENERAL_USAGE, type Parsed } from './cli/args.js';
import { request, ConnectError, type Reply } from './cli/client.js';
import { formatEvent, formatStatus } from './cli/print.js';
import { loadConfig } from './config/load.js';
import { parseDuration } from './config/duration.js';
import { isBatonError } from './errors.js';
import { isDone } from './swap/swap.js';
import type { StatusBody, SwapEvent, ErrorBody } from './control/protocol.js';

const DEFAULT_CONFIG = 'config/baton.yaml';
const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  let args: Parsed;
  try {
    args = parseArgs(argv);
  } catch (err) {
    return usage((err as Error).message);
  }
  const { command, positionals, options } = args;
  if (options.version) {
    process.stdout.write('baton 0.1.0\n');
    return EXIT_OK;
  }
  if (command === undefined || command === 'help') {
    process.stdout.write(GENERAL_USAGE + '\n');
    return command === undefined && !options.help ? EXIT_USAGE : EXIT_OK;
  }
  const help = USAGE[command];
  if (help === undefined) return usage(`unknown command "${command}"`);
  if (options.help) {
    process.stdout.write(help + '\n');
    return EXIT_OK;
  }

  if (command === 'start') {
    if (positionals.length > 0) return usage(`start takes no arguments (got "${positionals[0]}")`, command);
    const config = options.config === undefined && !existsSync(DEFAULT_CONFIG) ? defaultConfig() : await loadConfig(path.resolve(options.config ?? DEFAULT_CONFIG));
    if (config.file === '<default>') process.stderr.write(`baton: no ${DEFAULT_CONFIG} here: serving the embedded default (the demo app)\n`);
    const { runStart } = await import('./cli/start.js');
    return runStart(config, { env, logLevel: env.BATON_LOG_LEVEL ?? 'info' });
  }

  const socket = options.socket ?? env.BATON_SOCKET ?? (options.config !== undefined ? (await loadConfig(path.resolve(options.config))).control.socket : './baton.sock');
  const need = (n: number, names: string): string[] | undefined => (positionals.length === n ? positionals : undefined);
  switch (command) {
    case 'status': {
      if (need(0, '') === undefined) return usage('status takes no arguments', command);
      const reply = await request(socket, 'GET', '/v1/status');
      if (reply.status !== 200) return replyError(reply);
      process.stdout.write(options.json ? JSON.stringify(reply.body, null, 2) + '\n' : formatStatus(reply.body as StatusBody) + '\n');
      return EXIT_OK;
    }
    case 'deploy': {
      const p = need(2, 'SERVICE VERSION');
      if (p === undefined) return usage('deploy needs SERVICE and VERSION', command);
      return swap(socket, `/v1/services/${encodeURIComponent(p[0]!)}/deploy`, { version: p[1] }, options.json);
    }
    case 'rollback': {
      const p = need(1, 'SERVICE');
      if (p === undefined) return usage('rollback needs SERVICE', command);
      return swap(socket, `/v1/services/${encodeURIComponent(p[0]!)}/rollback`, {}, options.json);
    }
    case 'pause': {
      const p = need(1, 'SERVICE');
      if (p === undefined) return usage('pause needs SERVICE', command);
      if (options.timeout !== undefined && parseDuration(options.timeout) === undefined) return usage(`--timeout: expected a duration like "30s", got "${options.timeout}"`, command);
      const reply = await request(socket, 'POST', `/v1/services/${encodeURIComponent(p[0]!)}/pause`, options.timeout === undefined ? {} : { timeout: options.timeout });
      if (reply.status !== 200) return replyError(reply);
      process.stdout.write(options.json ? JSON.stringify(reply.body) + '\n' : `${p[0]} paused${options.timeout === undefined ? '' : ` for at most ${options.timeout}`}\n`);
      return EXIT_OK;
    }
    case 'resume': {
      const p = need(1, 'SERVICE');
      if (p === undefined) return usage('resume needs SERVICE', command);
      const reply = await request(socket, 'POST', `/v1/services/${encodeURIComponent(p[0]!)}/resume`, {});
      if (reply.status !== 200) return replyError(reply);
      const body = reply.body as { released: number };
      process.stdout.write(options.json ? JSON.stringify(body) + '\n' : `${p[0]} resumed (${body.released} held requests released)\n`);
      return EXIT_OK;
    }
    case 'notify': {
      const p = need(2, 'SERVICE MESSAGE');
      if (p === undefined) return usage('notify needs SERVICE and MESSAGE (quote it)', command);
      const reply = await request(socket, 'POST', `/v1/services/${encodeURIComponent(p[0]!)}/notify`, { message: p[1] });
      if (reply.status !== 200) return replyError(reply);
      const body = reply.body as { browsers: number };
      process.stdout.write(options.json ? JSON.stringify(body) + '\n' : `sent to ${body.browsers} browser${body.browsers === 1 ? '' : 's'}\n`);
      return EXIT_OK;
    }
  }
  return usage(`unknown command "${command}"`);
}

async function swap(socket: string, route: string, body: unknown, json: boolean): Promise<number> {
  const reply = await request(socket, 'POST', route, body, (e: SwapEvent) => {
    process.stdout.write(json ? JSON.stringify(e) + '\n' : formatEvent(e) + '\n');
  });
  if (reply.status !== 200) return replyError(reply);
  const last = reply.body as SwapEvent | undefined;
  if (last === undefined || !isDone(last)) {
    process.stderr.write('baton: the control stream ended before the swap finished\n');
    return EXIT_FAILED;
  }
  return last.ok ? EXIT_OK : EXIT_FAILED;
}

/** 4xx that judge the input itself (unknown service, bad version or duration) exit 2; others 1. */
function replyError(reply: Reply): number {
  const err = (reply.body as ErrorBody | undefined)?.error;
  process.stderr.write(`baton: ${err?.message ?? `control API answered ${reply.status}`}${err?.code === undefined ? '' : ` [${err.code}]`}\n`);
  return reply.status === 409 || reply.status >= 500 ? EXIT_FAILED : EXIT_USAGE;
}

function usage(message: string, command?: string): number {
  process.stderr.write(`baton: ${message}\n${command === undefined ? 'Run "baton --help".' : `usage: ${USAGE[command]!.split('\n')[0]}`}\n`);
  return EXIT_USAGE;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.exitCode = usage(err.message);
    else if (isBatonError(err) && (err.code === 'CONFIG_INVALID' || err.code === 'CONFIG_UNREADABLE' || err.code === 'STATE_UNREADABLE')) {
      process.stderr.write(`baton: ${err.message}\n`);
      process.exitCode = EXIT_USAGE;
    } else if (err instanceof ConnectError) {
      process.stderr.write(`baton: ${err.message}\n`);
      process.exitCode = EXIT_FAILED;
    } else {
      process.stderr.write(`baton: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = EXIT_FAILED;
    }
  },
);
