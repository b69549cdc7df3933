/**
 * What the command line accepts, as data: every command with its arguments and options, and
 * every option with its value. The parser, `--help`, "did you mean" and the shell completion
 * scripts are all made from these tables, so they cannot disagree.
 */

export type OptionKey =
  | 'config'
  | 'socket'
  | 'control'
  | 'tokenFile'
  | 'json'
  | 'timeout'
  | 'canary'
  | 'message'
  | 'logFormat'
  | 'pidFile'
  | 'follow'
  | 'lines'
  | 'help'
  | 'version';

export interface OptionSpec {
  key: OptionKey;
  /** The spellings, long form last (`-c`, `--config`). */
  flags: readonly string[];
  /** Placeholder of its value; absent for a switch. */
  value?: string;
  /** The values it takes, when it is a choice (for completion). */
  choices?: readonly string[];
  /** A file path (for completion). */
  file?: boolean;
  help: string;
}

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'config', flags: ['-c', '--config'], value: 'FILE', file: true, help: 'the config file (default config/baton.yaml)' },
  { key: 'socket', flags: ['--socket'], value: 'PATH', file: true, help: 'the control socket (else $BATON_SOCKET, else control.socket of -c FILE, else ./baton.sock)' },
  { key: 'control', flags: ['--control'], value: 'URL', help: 'the TCP control listener instead, http://HOST:PORT (else $BATON_CONTROL)' },
  { key: 'tokenFile', flags: ['--token-file'], value: 'FILE', file: true, help: "the TCP listener's bearer token: the file's first line (else $BATON_TOKEN)" },
  { key: 'json', flags: ['--json'], help: 'print JSON (NDJSON for streams) instead of text' },
  { key: 'timeout', flags: ['--timeout'], value: 'DURATION', help: 'pause: release held requests after DURATION (like "30s"); upgrade: how long the new process may take to be ready (default 60s)' },
  { key: 'canary', flags: ['--canary'], value: 'PERCENT', help: 'send PERCENT (1-99) of clients to VERSION, the rest stays on the active version' },
  { key: 'message', flags: ['--message'], value: 'TEXT', help: 'the text of the maintenance page' },
  { key: 'logFormat', flags: ['--log-format'], value: 'FORMAT', choices: ['json', 'pretty'], help: 'log lines as JSON or for people (else $BATON_LOG_FORMAT, else pretty on a terminal)' },
  { key: 'pidFile', flags: ['--pid-file'], value: 'FILE', file: true, help: "write Baton's pid to FILE (kept current across `baton upgrade`, for systemd's PIDFile=)" },
  { key: 'follow', flags: ['-f', '--follow'], help: 'keep printing new lines' },
  { key: 'lines', flags: ['-n', '--lines'], value: 'N', help: 'how many: lines of recent output (logs, default 100), records (history, default 20)' },
  { key: 'help', flags: ['-h', '--help'], help: 'show help' },
  { key: 'version', flags: ['-v', '-V', '--version'], help: "show Baton's version" },
];

export interface CommandSpec {
  name: string;
  /** Positional arguments as shown in usage (`SERVICE VERSION`). */
  args: string;
  summary: string;
  /** More lines for `baton help COMMAND`. */
  details?: string;
  options: readonly OptionKey[];
  /** What the positional arguments complete to, in order; the last repeats. */
  complete?: ReadonlyArray<'service' | 'command' | 'shell' | 'none'>;
}

/** How every command but start, validate, version, help and completion finds a running Baton. */
const CONTROL: readonly OptionKey[] = ['socket', 'control', 'tokenFile', 'config'];

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: 'start',
    args: '',
    summary: 'run the proxy in the foreground',
    details:
      'Serves config/baton.yaml (or -c FILE); with neither, the embedded demo.\nStops gracefully on SIGTERM or Ctrl-C: drains, stops its apps, removes its socket.\nSIGHUP reloads the config; SIGUSR2 upgrades (see `baton help upgrade`).',
    options: ['config', 'logFormat', 'pidFile'],
  },
  {
    name: 'validate',
    args: '',
    summary: 'check a config file, start nothing',
    details: 'Exit 0 printing a one-line summary, or 2 with the reason.',
    options: ['config', 'json'],
  },
  {
    name: 'deploy',
    args: 'SERVICE VERSION',
    summary: 'start VERSION, health-check it, switch to it, drain the old one',
    details:
      'Holds, switches and resumes, notifies browsers, then drains and stops the old version;\nwith migrate: set, runs the migration in the hold (or before it).\n--canary PERCENT: starts VERSION beside the active one and sends PERCENT of clients to it\n(a cookie keeps each client on its side) until promote or rollback.\nExit 0 done, 1 failed (the previous version still serves), 2 bad input.',
    options: ['canary', 'json', ...CONTROL],
    complete: ['service', 'none'],
  },
  {
    name: 'promote',
    args: 'SERVICE',
    summary: 'make the canary the active version (hold, switch, resume, drain, stop)',
    options: ['json', ...CONTROL],
    complete: ['service'],
  },
  {
    name: 'rollback',
    args: 'SERVICE',
    summary: 'switch back to the previous version',
    details: 'The version that was active before the last deploy, with the same steps as a deploy.\nDuring a canary: stops the canary, its clients go back to the active version.\nMigrations are not run backwards: the migration tool owns its down-migrations.',
    options: ['json', ...CONTROL],
    complete: ['service'],
  },
  {
    name: 'pause',
    args: 'SERVICE',
    summary: 'hold new requests of SERVICE in its queue',
    details: 'Until resume, or for at most DURATION.',
    options: ['timeout', 'json', ...CONTROL],
    complete: ['service'],
  },
  { name: 'resume', args: 'SERVICE', summary: 'release held requests, in arrival order', options: ['json', ...CONTROL], complete: ['service'] },
  {
    name: 'reload',
    args: '',
    summary: "re-read the running Baton's config and apply it live (SIGHUP does the same)",
    details:
      'Services added start health-gated and are routed once healthy; removed ones drain and stop;\nhosts, paths, limits, health, hold and drain change in place; runtime settings wait for the\nnext deploy. An invalid file changes nothing: exit 2 with the reason.',
    options: ['json', ...CONTROL],
  },
  {
    name: 'upgrade',
    args: '',
    summary: 'replace the running Baton process with a new one from the installed code, dropping no connection',
    details:
      'The new process takes over the listeners and adopts every running app (none restarts);\nthe old one finishes its requests, lets WebSockets run to drain.websocket_grace (then 1012)\nand exits. SIGUSR2 does the same. Refused (exit 1) during a swap or when the config file\ndiffers from the one applied (reload first). A new process that fails changes nothing:\nexit 1 with its last output.',
    options: ['timeout', 'json', ...CONTROL],
  },
  {
    name: 'maintenance',
    args: 'SERVICE on|off',
    summary: 'answer every request of SERVICE with a 503 maintenance page, or serve again',
    details: 'on [--message TEXT]: HTML for browsers, JSON for Accept: application/json, with Retry-After;\nthe health path still answers. Kept across restarts.',
    options: ['message', 'json', ...CONTROL],
    complete: ['service', 'none'],
  },
  {
    name: 'status',
    args: '',
    summary: 'show each service: state, versions, requests in flight and queued',
    details: '--json prints the body of GET /v1/status.',
    options: ['json', ...CONTROL],
  },
  {
    name: 'notify',
    args: 'SERVICE MESSAGE...',
    summary: 'push MESSAGE to every browser connected to SERVICE',
    details: 'The words of MESSAGE need no quotes: baton notify web Maintenance at 18:00',
    options: ['json', ...CONTROL],
    complete: ['service', 'none'],
  },
  {
    name: 'logs',
    args: 'SERVICE',
    summary: "print the output of SERVICE's active instances",
    details: 'The last N lines (-n, default 100); with -f, new lines as they come, across deploys.',
    options: ['follow', 'lines', 'json', ...CONTROL],
    complete: ['service'],
  },
  {
    name: 'history',
    args: '[SERVICE]',
    summary: 'show past deploys, rollbacks, promotes, canaries, pauses, maintenance changes and reloads, newest first',
    details: 'With SERVICE, only its records; -n N, the last N (default 20, at most 1000); who asked, each\none: the control socket, a TCP token by name, or a signal. --json prints the body of GET /v1/history.',
    options: ['lines', 'json', ...CONTROL],
    complete: ['service'],
  },
  {
    name: 'dashboard',
    args: '',
    summary: 'serve the live dashboard on 127.0.0.1 and print its URL',
    details:
      'A random port and a one-time token in the URL; the page reads the control API (read only)\nthrough this process, which serves nothing else and nowhere else, until Ctrl-C. On a TCP\ncontrol listener the same page is at /dashboard/ (any user name, the token as the password).',
    options: ['json', ...CONTROL],
  },
  { name: 'version', args: '', summary: "show Baton's version (also -v, --version)", options: ['json'] },
  { name: 'help', args: '[COMMAND]', summary: 'show help for COMMAND', options: [], complete: ['command'] },
  {
    name: 'completion',
    args: 'bash|zsh',
    summary: 'print a shell completion script',
    details: 'bash: source <(baton completion bash)   (or save it under /etc/bash_completion.d/)\nzsh:  source <(baton completion zsh)    (or save it as _baton in a folder of $fpath)',
    options: [],
    complete: ['shell'],
  },
];

export function commandOf(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}

export function optionOf(flag: string): OptionSpec | undefined {
  return OPTIONS.find((o) => o.flags.includes(flag));
}

export function optionByKey(key: OptionKey): OptionSpec {
  return OPTIONS.find((o) => o.key === key)!;
}

/** The options every command takes: help, and version on its own. */
export const ALWAYS: readonly OptionKey[] = ['help', 'version'];
