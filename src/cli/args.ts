/**
 * argv -> a command with its positionals and options. Options may come before or after the
 * positionals. Pure: no process access.
 */
export interface Parsed {
  command: string | undefined;
  positionals: string[];
  options: { config?: string; socket?: string; json: boolean; timeout?: string; help: boolean; version: boolean };
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const WITH_VALUE: Record<string, keyof Parsed['options']> = {
  '-c': 'config',
  '--config': 'config',
  '--socket': 'socket',
  '--timeout': 'timeout',
};

export function parseArgs(argv: string[]): Parsed {
  const parsed: Parsed = { command: undefined, positionals: [], options: { json: false, help: false, version: false } };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      parsed.positionals.push(...argv.slice(i + 1));
      break;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const key = WITH_VALUE[name];
    if (key !== undefined) {
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
      (parsed.options as Record<string, unknown>)[key] = value;
    } else if (arg === '--json') parsed.options.json = true;
    else if (arg === '-h' || arg === '--help') parsed.options.help = true;
    else if (arg === '-V' || arg === '--version') parsed.options.version = true;
    else if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
    else if (parsed.command === undefined) parsed.command = arg;
    else parsed.positionals.push(arg);
  }
  return parsed;
}

export const USAGE: Record<string, string> = {
  start: 'baton start [-c FILE]\n  Run the proxy in the foreground (default FILE: config/baton.yaml).',
  deploy: 'baton deploy SERVICE VERSION [--json] [--socket PATH]\n  Start VERSION beside the active one, health-check it, hold, switch, resume,\n  notify browsers, drain and stop the old one. Exit 0 done, 1 failed (the previous\n  version still serves), 2 bad input.',
  rollback: 'baton rollback SERVICE [--json] [--socket PATH]\n  Switch back to the version that was active before the last deploy.',
  pause: 'baton pause SERVICE [--timeout DURATION] [--socket PATH]\n  Hold new requests of SERVICE in its queue (until resume, or for DURATION).',
  resume: 'baton resume SERVICE [--socket PATH]\n  Release held requests, in arrival order.',
  status: 'baton status [--json] [--socket PATH]\n  Show each service: state, active and previous version, in flight, queued.',
  notify: 'baton notify SERVICE MESSAGE [--socket PATH]\n  Push MESSAGE to every browser connected to SERVICE.',
};

export const GENERAL_USAGE = `baton: a reverse proxy with zero-downtime hot swap

Commands:
${Object.values(USAGE)
  .map((u) => '  ' + u.split('\n')[0])
  .join('\n')}

The control socket is --socket PATH, else $BATON_SOCKET, else control.socket of -c FILE,
else ./baton.sock. Run "baton COMMAND --help" for details.`;
