/**
 * The help texts, made from the command and option tables: `baton help`, `baton help COMMAND`
 * (same as `baton COMMAND --help`) and the usage line of an error.
 */
import { COMMANDS, commandOf, optionByKey, type CommandSpec, type OptionKey } from './commands.js';

/** Options shown together in a synopsis as `[--socket PATH | --control URL]`. */
const CONTROL_SHOWN: readonly OptionKey[] = ['socket', 'control'];
const CONTROL_HIDDEN: readonly OptionKey[] = ['tokenFile', 'config'];

/** `baton deploy SERVICE VERSION [--json] [--socket PATH | --control URL]` */
export function synopsis(spec: CommandSpec): string {
  const parts = ['baton', spec.name];
  if (spec.args !== '') parts.push(spec.args);
  for (const key of spec.options) {
    if (CONTROL_SHOWN.includes(key) || CONTROL_HIDDEN.includes(key)) continue;
    parts.push(`[${flagText(key)}]`);
  }
  if (spec.options.includes('socket')) parts.push('[--socket PATH | --control URL]');
  else if (spec.options.includes('config')) parts.push('[-c FILE]');
  return parts.join(' ');
}

export function commandHelp(name: string): string {
  const spec = commandOf(name)!;
  const lines = [`usage: ${synopsis(spec)}`, '', sentence(spec.summary)];
  if (spec.details !== undefined) lines.push(spec.details);
  const keys: OptionKey[] = [...spec.options, 'help'];
  const rows = keys.map((k) => {
    const o = optionByKey(k);
    return [o.flags.join(', ') + (o.value === undefined ? '' : ` ${o.value}`), o.help] as const;
  });
  const width = Math.max(...rows.map((r) => r[0].length));
  lines.push('', 'Options:', ...rows.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`));
  return lines.join('\n');
}

export function generalHelp(): string {
  const head = (c: CommandSpec): string => (c.args === '' ? c.name : `${c.name} ${c.args}`);
  const width = Math.max(...COMMANDS.map((c) => head(c).length));
  const withJson = COMMANDS.filter((c) => c.options.includes('json')).map((c) => c.name);
  return `baton: a reverse proxy with zero-downtime hot swap

Usage: baton COMMAND [ARGUMENTS] [OPTIONS]

Commands:
${COMMANDS.map((c) => `  ${head(c).padEnd(width)}  ${c.summary}`).join('\n')}

Commands that talk to a running Baton find it through --socket PATH, else $BATON_SOCKET,
else control.socket of -c FILE, else ./baton.sock; or through its TCP control listener:
--control http://HOST:PORT (or $BATON_CONTROL) with --token-file FILE (or $BATON_TOKEN).
${wrap(`--json prints JSON (NDJSON for streams) instead of text, with ${withJson.join(', ')}.`)}

Exit codes: 0 done; 1 the operation failed (the previous version still serves);
2 bad usage or input; 3 no Baton answered on the control socket or URL.

Run "baton help COMMAND" for a command's options.`;
}

/** The first line of an error's usage hint. */
export function usageLine(name: string | undefined): string {
  const spec = name === undefined ? undefined : commandOf(name);
  return spec === undefined ? 'Run "baton help".' : `usage: ${synopsis(spec)}`;
}

function flagText(key: OptionKey): string {
  const o = optionByKey(key);
  const flag = o.flags.length > 1 && o.flags[0]!.length === 2 ? o.flags[0]! : o.flags.at(-1)!;
  const value = o.choices !== undefined && o.choices.length <= 4 ? o.choices.join('|') : o.value;
  return value === undefined ? flag : `${flag} ${value}`;
}

function wrap(text: string, width = 92): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join('\n');
}

function sentence(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1) + '.';
}
