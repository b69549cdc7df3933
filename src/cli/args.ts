/**
 * argv -> a command with its positionals and options. Options may come before or after the
 * positionals; `--` ends them. Pure: no process access.
 */
import { ALWAYS, COMMANDS, OPTIONS, commandOf, optionOf, type OptionKey } from './commands.js';
import { closest } from './suggest.js';

export interface Options {
  config?: string;
  socket?: string;
  control?: string;
  tokenFile?: string;
  json: boolean;
  timeout?: string;
  canary?: string;
  message?: string;
  logFormat?: string;
  pidFile?: string;
  follow: boolean;
  lines?: string;
  help: boolean;
  version: boolean;
}

export interface Parsed {
  command: string | undefined;
  positionals: string[];
  options: Options;
  /** Each option given, with the spelling used, in order. */
  given: Array<{ key: OptionKey; flag: string }>;
}

/** Bad usage: exit 2 with the message, and the command's usage line when `command` is known. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

const ALL_FLAGS = OPTIONS.flatMap((o) => o.flags);

export function parseArgs(argv: string[]): Parsed {
  const parsed: Parsed = { command: undefined, positionals: [], options: { json: false, follow: false, help: false, version: false }, given: [] };
  const options = parsed.options as unknown as Record<string, unknown>;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      const rest = argv.slice(i + 1);
      if (parsed.command === undefined && rest.length > 0) parsed.command = rest.shift();
      parsed.positionals.push(...rest);
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      if (parsed.command === undefined) parsed.command = arg;
      else parsed.positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const spec = optionOf(flag);
    if (spec === undefined) {
      const guess = closest(flag, ALL_FLAGS);
      throw new UsageError(`unknown option ${flag}${guess === undefined ? '' : `; did you mean ${guess}?`}`, known(parsed.command));
    }
    parsed.given.push({ key: spec.key, flag });
    if (spec.value === undefined) {
      if (eq !== -1) throw new UsageError(`${flag} takes no value`, known(parsed.command));
      options[spec.key] = true;
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value (${spec.value})`, known(parsed.command));
    options[spec.key] = value;
  }
  return parsed;
}

/** Refuse options the command does not take (`start --json`), naming them. */
export function checkOptions(parsed: Parsed): void {
  const spec = parsed.command === undefined ? undefined : commandOf(parsed.command);
  if (spec === undefined) return;
  for (const { key, flag } of parsed.given) {
    if (!spec.options.includes(key) && !ALWAYS.includes(key)) throw new UsageError(`${spec.name} does not take ${flag}`, spec.name);
  }
}

/** The command name when it is one, for the usage line of an error. */
function known(command: string | undefined): string | undefined {
  return command !== undefined && COMMANDS.some((c) => c.name === command) ? command : undefined;
}
