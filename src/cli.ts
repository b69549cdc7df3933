#!/usr/bin/env node
/**
 * Baton's command line: argv -> one command. The only module that reads process.argv and
 * process.env; everything below gets what it needs passed in.
 */
import path from 'node:path';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { defaultConfig } from './config/default.js';
import { checkOptions, parseArgs, UsageError, type Options } from './cli/args.js';
import { COMMANDS, commandOf } from './cli/commands.js';
import { commandHelp, generalHelp, usageLine } from './cli/help.js';
import { closest } from './cli/suggest.js';
import { ConnectError, request, type ControlTarget } from './cli/client.js';
import * as control from './cli/control.js';
import { logs } from './cli/logs.js';
import { history } from './cli/history.js';
import { validate } from './cli/validate.js';
import { completionScript, SHELLS, type Shell } from './cli/completion.js';
import { batonVersion } from './cli/version.js';
import { EXIT } from './cli/exit.js';
import { loadConfig } from './config/load.js';
import { parseDuration } from './config/duration.js';
import { chooseLogFormat } from './log/logger.js';
import { isBatonError } from './errors.js';
import { parseTokenLine } from './control/token.js';
import type { StatusBody } from './control/protocol.js';

const DEFAULT_CONFIG = 'config/baton.yaml';

async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = parseArgs(argv);
  const { command, positionals, options } = args;
  if (command === '__services') return services(await target(options, env));
  if (command !== undefined && commandOf(command) === undefined) {
    const guess = closest(command, COMMANDS.map((c) => c.name));
    throw new UsageError(`unknown command "${command}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`);
  }
  if ((command === 'version' && !options.help) || (options.version && command === undefined)) return version(options.json);
  if (command === undefined || command === 'help') {
    const topic = positionals[0];
    if (command === 'help' && topic !== undefined) {
      if (commandOf(topic) === undefined) {
        const guess = closest(topic, COMMANDS.map((c) => c.name));
        throw new UsageError(`no command "${topic}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`, 'help');
      }
      process.stdout.write(commandHelp(topic) + '\n');
      return EXIT.ok;
    }
    process.stdout.write(generalHelp() + '\n');
    // A bare `baton` is bad usage (it did nothing); `baton help` and `baton --help` are not.
    return command === undefined && !options.help ? EXIT.usage : EXIT.ok;
  }
  if (options.help) {
    process.stdout.write(commandHelp(command) + '\n');
    return EXIT.ok;
  }
  if (options.version) return version(options.json);
  checkOptions(args);
  const arity = (min: number, max: number, what: string): void => {
    if (positionals.length < min) throw new UsageError(`${command} needs ${what}`, command);
    if (positionals.length > max) throw new UsageError(`${command} takes ${max === 0 ? 'no arguments' : what} (unexpected "${positionals[max]}")`, command);
  };

  switch (command) {
    case 'start': {
      arity(0, 0, '');
      const logFormat = chooseLogFormat(options.logFormat, env.BATON_LOG_FORMAT, process.stderr.isTTY === true);
      if (typeof logFormat === 'object') throw new UsageError(logFormat.error, command);
      const config = options.config === undefined && !existsSync(DEFAULT_CONFIG) ? defaultConfig() : await loadConfig(path.resolve(options.config ?? DEFAULT_CONFIG));
      if (config.file === '<default>') process.stderr.write(`baton: no ${DEFAULT_CONFIG} here: serving the embedded default (the demo app)\n`);
      const { runStart } = await import('./cli/start.js');
      return runStart(config, {
        env,
        logLevel: env.BATON_LOG_LEVEL ?? 'info',
        logFormat,
        color: process.stderr.isTTY === true && (env.NO_COLOR ?? '') === '',
        ...(options.pidFile === undefined ? {} : { pidFile: path.resolve(options.pidFile) }),
        entry: process.argv[1]!,
      });
    }
    case 'validate':
      arity(0, 0, '');
      return validate(path.resolve(options.config ?? DEFAULT_CONFIG), options.json);
    case 'completion': {
      arity(1, 1, 'a shell: bash or zsh');
      const shell = positionals[0]!;
      if (!(SHELLS as readonly string[]).includes(shell)) throw new UsageError(`completion: expected bash or zsh, got "${shell}"`, command);
      process.stdout.write(completionScript(shell as Shell));
      return EXIT.ok;
    }
    case 'status':
      arity(0, 0, '');
      return control.status(await target(options, env), options.json);
    case 'deploy': {
      arity(2, 2, 'SERVICE and VERSION');
      const canary = options.canary === undefined ? undefined : /^\d{1,2}$/.test(options.canary) ? Number(options.canary) : NaN;
      if (canary !== undefined && !(canary >= 1 && canary <= 99)) throw new UsageError(`--canary: expected a percentage from 1 to 99, got "${options.canary}"`, command);
      return control.deploy(await target(options, env), positionals[0]!, positionals[1]!, options.json, canary);
    }
    case 'promote':
      arity(1, 1, 'SERVICE');
      return control.promote(await target(options, env), positionals[0]!, options.json);
    case 'reload':
      arity(0, 0, '');
      return control.reload(await target(options, env), options.json);
    case 'upgrade':
      arity(0, 0, '');
      if (options.timeout !== undefined && parseDuration(options.timeout) === undefined) throw new UsageError(`--timeout: expected a duration like "60s", got "${options.timeout}"`, command);
      return control.upgrade(await target(options, env), options.timeout, options.json);
    case 'maintenance': {
      arity(2, 2, 'SERVICE and on or off');
      const mode = positionals[1]!;
      if (mode !== 'on' && mode !== 'off') throw new UsageError(`maintenance: expected on or off, got "${mode}"`, command);
      if (mode === 'off' && options.message !== undefined) throw new UsageError('maintenance off takes no --message', command);
      return control.maintenance(await target(options, env), positionals[0]!, mode === 'on', options.message ?? '', options.json);
    }
    case 'rollback':
      arity(1, 1, 'SERVICE');
      return control.rollback(await target(options, env), positionals[0]!, options.json);
    case 'pause':
      arity(1, 1, 'SERVICE');
      if (options.timeout !== undefined && parseDuration(options.timeout) === undefined) throw new UsageError(`--timeout: expected a duration like "30s", got "${options.timeout}"`, command);
      return control.pause(await target(options, env), positionals[0]!, options.timeout, options.json);
    case 'resume':
      arity(1, 1, 'SERVICE');
      return control.resume(await target(options, env), positionals[0]!, options.json);
    case 'notify':
      arity(2, Infinity, 'SERVICE and MESSAGE');
      return control.notify(await target(options, env), positionals[0]!, positionals.slice(1).join(' '), options.json);
    case 'logs': {
      arity(1, 1, 'SERVICE');
      const lines = options.lines === undefined ? 100 : /^\d{1,5}$/.test(options.lines) ? Number(options.lines) : NaN;
      if (!(lines <= 10_000)) throw new UsageError(`-n: expected a number of lines from 0 to 10000, got "${options.lines}"`, command);
      return logs(await target(options, env), positionals[0]!, { follow: options.follow, lines, json: options.json });
    }
    case 'history': {
      arity(0, 1, 'at most one SERVICE');
      const n = options.lines === undefined ? 20 : /^\d{1,4}$/.test(options.lines) ? Number(options.lines) : NaN;
      if (!(n >= 1 && n <= 1000)) throw new UsageError(`-n: expected a number of records from 1 to 1000, got "${options.lines}"`, command);
      return history(await target(options, env), positionals[0], n, options.json);
    }
    case 'dashboard': {
      arity(0, 0, '');
      const { dashboard } = await import('./cli/dashboard.js');
      return dashboard(await target(options, env), options.json);
    }
  }
  throw new UsageError(`unknown command "${command}"`);
}

/**
 * Where the running Baton is: --socket, --control, $BATON_SOCKET, $BATON_CONTROL, control.socket
 * of -c FILE, ./baton.sock, in that order. The TCP listener needs a token: --token-file or
 * $BATON_TOKEN.
 */
async function target(options: Options, env: NodeJS.ProcessEnv): Promise<ControlTarget> {
  if (options.socket !== undefined && options.control !== undefined) throw new UsageError('give --socket or --control, not both');
  const url = options.socket === undefined ? (options.control ?? (env.BATON_SOCKET ? undefined : env.BATON_CONTROL || undefined)) : undefined;
  if (url === undefined) {
    if (options.tokenFile !== undefined) throw new UsageError('--token-file is for the TCP control listener: add --control http://HOST:PORT');
    const socket = options.socket ?? (env.BATON_SOCKET || undefined) ?? (options.config !== undefined ? (await loadConfig(path.resolve(options.config))).control.socket : './baton.sock');
    return { kind: 'socket', path: socket };
  }
  const flag = options.control !== undefined ? '--control' : 'BATON_CONTROL';
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${flag}: expected a URL like http://127.0.0.1:9900, got "${url}"`);
  }
  if (parsed.protocol !== 'http:' || (parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '') throw new UsageError(`${flag}: expected http://HOST:PORT, got "${url}"`);
  return { kind: 'tcp', url: parsed, token: await token(options, env) };
}

async function token(options: Options, env: NodeJS.ProcessEnv): Promise<string> {
  if (options.tokenFile !== undefined) {
    let text: string;
    try {
      text = await readFile(options.tokenFile, 'utf8');
    } catch (err) {
      throw new UsageError(`--token-file: cannot read ${options.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    // The first token of the file; a `name:` in front of it is the server's to read, not sent.
    const first = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('#'))?.trim() ?? '';
    if (first === '') throw new UsageError(`--token-file: ${options.tokenFile} is empty`);
    return parseTokenLine(first, '').token;
  }
  const fromEnv = (env.BATON_TOKEN ?? '').trim();
  if (fromEnv === '') throw new UsageError('the TCP control listener needs its token: --token-file FILE or BATON_TOKEN');
  return parseTokenLine(fromEnv, '').token;
}

function version(json: boolean): number {
  const v = batonVersion();
  process.stdout.write(json ? JSON.stringify({ version: v, node: process.version }) + '\n' : `baton ${v} (node ${process.version})\n`);
  return EXIT.ok;
}

/** For shell completion: the running Baton's service names, one a line. */
async function services(t: ControlTarget): Promise<number> {
  const reply = await request(t, 'GET', '/v1/status');
  if (reply.status !== 200) return EXIT.failed;
  process.stdout.write(Object.keys((reply.body as StatusBody).services).join('\n') + '\n');
  return EXIT.ok;
}

function usage(err: UsageError): number {
  process.stderr.write(`baton: ${err.message}\n${usageLine(err.command)}\n`);
  return EXIT.usage;
}

main(process.argv.slice(2), process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof UsageError) process.exitCode = usage(err);
    else if (isBatonError(err) && (err.code === 'CONFIG_INVALID' || err.code === 'CONFIG_UNREADABLE' || err.code === 'STATE_UNREADABLE' || err.code === 'LISTEN_FAILED')) {
      process.stderr.write(`baton: ${err.message}\n`);
      process.exitCode = EXIT.usage;
    } else if (err instanceof ConnectError) {
      process.stderr.write(`baton: ${err.message}\n`);
      process.exitCode = EXIT.unreachable;
    } else {
      process.stderr.write(`baton: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = EXIT.failed;
    }
  },
);
