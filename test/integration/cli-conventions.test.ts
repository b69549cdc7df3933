/**
 * The command line's conventions (issue 15, point 10): version, help, "did you mean", --json
 * where it works, exit codes, validate, notify's unquoted message, the TCP control listener,
 * shell completion.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { CLI, ROOT, configYaml, dispose, removeDir, runCli, startBaton, type RunningBaton } from '../helpers/baton.js';
import { freePort } from '../../src/runtime/free-port.js';

const run = promisify(execFile);
const TOKEN = 'cli-token-0123456789abcdef';

describe('version and help', () => {
  it('baton version, -v, -V and --version print the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const args of [['version'], ['-v'], ['-V'], ['--version']]) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(new RegExp(`^baton ${version.replaceAll('.', '\\.')} \\(node v\\d+`));
    }
    const json = await runCli(['version', '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ version, node: expect.stringMatching(/^v\d+/) });
  });

  it('baton help COMMAND prints the same help as COMMAND --help, listing its options', async () => {
    const viaHelp = await runCli(['help', 'logs']);
    const viaFlag = await runCli(['logs', '--help']);
    expect(viaHelp.code).toBe(0);
    expect(viaHelp.stdout).toBe(viaFlag.stdout);
    expect(viaHelp.stdout).toContain('usage: baton logs SERVICE [-f] [-n N] [--json]');
    expect(viaHelp.stdout).toContain('--token-file FILE');
  });

  it('baton help with an unknown command exits 2 and suggests the closest one', async () => {
    const r = await runCli(['help', 'rolback']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('baton: no command "rolback"; did you mean "rollback"?');
  });

  it('an unknown command or option gets "did you mean"', async () => {
    const cmd = await runCli(['depoly', 'web', 'v2']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr.split('\n')[0]).toBe('baton: unknown command "depoly"; did you mean "deploy"?');
    const opt = await runCli(['status', '--jsno']);
    expect(opt.code).toBe(2);
    expect(opt.stderr.split('\n')[0]).toBe('baton: unknown option --jsno; did you mean --json?');
    const far = await runCli(['frobnicate']);
    expect(far.stderr.split('\n')[0]).toBe('baton: unknown command "frobnicate"');
  });

  it('--json is listed in the usage of every command that takes it, and refused by those that do not', async () => {
    for (const cmd of ['validate', 'deploy', 'promote', 'rollback', 'reload', 'maintenance', 'pause', 'resume', 'status', 'notify', 'logs', 'version']) {
      const r = await runCli([cmd, '--help']);
      expect(r.stdout.split('\n')[0], cmd).toContain('[--json]');
    }
    const general = await runCli(['help']);
    expect(general.stdout.replace(/\s+/g, ' ')).toContain('with validate, deploy, promote, rollback,');
    const start = await runCli(['start', '--json']);
    expect(start.code).toBe(2);
    expect(start.stderr.split('\n')[0]).toBe('baton: start does not take --json');
  });

  it('a bare baton prints the help and exits 2; baton help exits 0', async () => {
    const bare = await runCli([]);
    expect(bare.code).toBe(2);
    expect(bare.stdout).toContain('Commands:');
    expect((await runCli(['help'])).code).toBe(0);
  });

  it('the help names exit code 3 for "no Baton answered"', async () => {
    expect((await runCli(['help'])).stdout).toContain('3 no Baton answered');
  });
});

describe('baton validate', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'baton-validate-'));
  });
  afterAll(() => removeDir(dir));

  it('a valid file: exit 0, a one-line summary, nothing started', async () => {
    const file = path.join(dir, 'ok.yaml');
    await writeFile(file, configYaml({ web: {}, api: { version: 'v7', hosts: ['api.example.com'] } }));
    const r = await runCli(['validate', '-c', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain('is valid: 2 services: web (process, v1), api (process, v7)');
    const json = await runCli(['validate', '-c', file, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, file, services: [{ name: 'web' }, { name: 'api', version: 'v7' }] });
    // Nothing was started: no control socket was created beside the file.
    await expect(readFile(path.join(dir, 'baton.sock'))).rejects.toThrow();
  });

  it('an invalid file: exit 2 with the key path and line', async () => {
    const file = path.join(dir, 'bad.yaml');
    await writeFile(file, configYaml({ web: { health: 'interval: fast' } }));
    const r = await runCli(['validate', '-c', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/services\.web\.health\.interval: expected a duration like "500ms", got "fast" \(line \d+\)/);
    const json = await runCli(['validate', '-c', file, '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'CONFIG_INVALID', problems: [{ path: 'services.web.health.interval', line: expect.any(Number) }] } });
  });

  it('a missing file, or a TCP token file that cannot be read: exit 2 naming it', async () => {
    const missing = await runCli(['validate', '-c', path.join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.yaml');
    const file = path.join(dir, 'tcp.yaml');
    await writeFile(file, configYaml({ web: {} }, '  tcp:\n    listen: 127.0.0.1:9\n    token_file: ./missing.token\n'));
    const token = await runCli(['validate', '-c', file]);
    expect(token.code).toBe(2);
    expect(token.stderr).toContain('missing.token');
  });

  it('a process.cwd missing for the configured version is a warning, not an error', async () => {
    const file = path.join(dir, 'cwd.yaml');
    await writeFile(file, 'services:\n  web:\n    version: v1\n    process:\n      command: ["node", "server.js"]\n      cwd: ./releases/{version}\n');
    const r = await runCli(['validate', '-c', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: services.web.process.cwd: ${path.join(dir, 'releases/v1')} does not exist`);
  });
});

describe('commands against a running Baton', () => {
  let baton: RunningBaton | undefined;
  let tcpPort: number;
  afterEach(async () => {
    await dispose(baton);
    baton = undefined;
  });

  async function startWithTcp(): Promise<RunningBaton> {
    tcpPort = await freePort();
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-test-'));
    await writeFile(path.join(dir, 'token'), TOKEN + '\n', { mode: 0o600 });
    return startBaton(configYaml({ web: {} }, `  tcp:\n    listen: 127.0.0.1:${tcpPort}\n    token_file: ./token\n`), { dir });
  }

  it('notify takes an unquoted multi-word message', async () => {
    baton = await startBaton(configYaml({ web: {} }));
    const ws = new WebSocket(`ws://127.0.0.1:${baton.port}/_baton/ws`);
    const got = new Promise<Record<string, unknown>>((resolve) => ws.on('message', (d) => resolve(JSON.parse(String(d)) as Record<string, unknown>)));
    await new Promise((r) => ws.once('open', r));
    const r = await baton.cli('notify', 'web', 'Maintenance', 'at', '18:00');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('sent to 1 browser\n');
    expect(await got).toMatchObject({ type: 'notice', service: 'web', message: 'Maintenance at 18:00' });
    ws.close();
  });

  it('--control URL reaches the TCP control listener with --token-file or BATON_TOKEN', async () => {
    baton = await startWithTcp();
    const url = `http://127.0.0.1:${tcpPort}`;
    const viaFile = await runCli(['status', '--json', '--control', url, '--token-file', path.join(baton.dir, 'token')]);
    expect(viaFile.code, viaFile.stderr).toBe(0);
    expect(JSON.parse(viaFile.stdout).services.web.active.version).toBe('v1');
    const viaEnv = await runCli(['deploy', 'web', 'v2', '--control', url], { BATON_TOKEN: TOKEN });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(viaEnv.stdout).toContain('v2 is live');
    const viaEnvUrl = await runCli(['status'], { BATON_CONTROL: url, BATON_TOKEN: TOKEN });
    expect(viaEnvUrl.code, viaEnvUrl.stderr).toBe(0);
    expect(viaEnvUrl.stdout).toContain('v2');
  });

  it('--control with a wrong token exits 2 naming the header; without one it is bad usage', async () => {
    baton = await startWithTcp();
    const url = `http://127.0.0.1:${tcpPort}`;
    const wrong = await runCli(['status', '--control', url], { BATON_TOKEN: 'wrong-token-0123456789' });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('UNAUTHORIZED');
    const none = await runCli(['status', '--control', url], { BATON_TOKEN: '' });
    expect(none.code).toBe(2);
    expect(none.stderr.split('\n')[0]).toBe('baton: the TCP control listener needs its token: --token-file FILE or BATON_TOKEN');
  });

  it('--control where nothing listens exits 3', async () => {
    const port = await freePort();
    const r = await runCli(['status', '--control', `http://127.0.0.1:${port}`], { BATON_TOKEN: TOKEN });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`no Baton answered at http://127.0.0.1:${port}`);
  });
});

describe('shell completion', () => {
  let baton: RunningBaton | undefined;
  afterAll(() => dispose(baton));

  /** What bash completes `words` (the last one being typed) to. */
  async function bashComplete(words: string[], env: NodeJS.ProcessEnv = {}): Promise<string[]> {
    const script = (await runCli(['completion', 'bash'])).stdout;
    const bin = await mkdtemp(path.join(tmpdir(), 'baton-bin-'));
    // `baton` on PATH for the script's service lookup: this build of the CLI.
    await writeFile(path.join(bin, 'baton'), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} "$@"\n`, { mode: 0o755 });
    const program = `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _baton; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const { stdout } = await run('bash', ['-c', program], { env: { ...process.env, ...env, PATH: `${bin}:${process.env.PATH}` } });
    await removeDir(bin);
    return stdout.split('\n').filter((l) => l !== '');
  }

  it('bash: commands, options of the command, choices of an option', async () => {
    expect(await bashComplete(['baton', 'dep'])).toEqual(['deploy']);
    expect(await bashComplete(['baton', 'logs', 'web', '--fo'])).toEqual(['--follow']);
    expect(await bashComplete(['baton', 'start', '--log-format', ''])).toEqual(['json', 'pretty']);
    expect(await bashComplete(['baton', 'completion', ''])).toEqual(['bash', 'zsh']);
  });

  it("bash: SERVICE completes to the running Baton's services", async () => {
    baton = await startBaton(configYaml({ web: {}, api: { hosts: ['api.test'] } }));
    expect(await bashComplete(['baton', 'deploy', '--socket', baton.socket, ''])).toEqual(['web', 'api']);
    expect(await bashComplete(['baton', 'logs', 'a'], { BATON_SOCKET: baton.socket })).toEqual(['api']);
  });

  it('zsh: the script loads and defines the completion function', async () => {
    const zsh = await run('sh', ['-c', 'command -v zsh']).then(
      () => true,
      () => false,
    );
    const r = await runCli(['completion', 'zsh']);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('#compdef baton\n')).toBe(true);
    if (!zsh && process.env.CI !== 'true') {
      console.warn('zsh completion only checked for its header: no zsh here (CI installs it)');
      return;
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'baton-zsh-'));
    await writeFile(path.join(dir, '_baton'), r.stdout);
    const { stdout } = await run('zsh', ['-f', '-c', `fpath=(${dir} $fpath); autoload -Uz compinit; compinit -u -d ${dir}/.zcompdump; whence -w _baton; print -r -- \${_comps[baton]}`]);
    await removeDir(dir);
    expect(stdout).toContain('_baton: function');
    expect(stdout.trim().split('\n').at(-1)).toBe('_baton');
  });

  it('completion with an unknown shell exits 2', async () => {
    const r = await runCli(['completion', 'fish']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('expected bash or zsh, got "fish"');
  });
});
