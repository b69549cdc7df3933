import path from 'node:path';
import type { Logger } from 'pino';
import type { Config, ServiceConfig } from '../config/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { ProcessRuntime } from '../runtime/process.js';
import { freePort } from '../runtime/free-port.js';
import { Baton } from '../baton.js';
import { BatonError, isBatonError } from '../errors.js';
import { createLogger, type LogFormat } from '../log/logger.js';
import { LogOutput } from '../log/output.js';
import { Takeover, FAULT_ENV } from '../upgrade/takeover.js';
import { notifySystemd, removePidFile, writePidFile } from '../upgrade/systemd.js';
import { tuneV8Heap } from '../runtime/v8-heap.js';

export interface StartOptions {
  env: NodeJS.ProcessEnv;
  logLevel: string;
  logFormat: LogFormat;
  color: boolean;
  /** Write Baton's pid there (and a successor's, after `baton upgrade`). */
  pidFile?: string;
  /** The installed entry (process.argv[1]): what `baton upgrade` runs again. */
  entry: string;
}

/**
 * `baton start`: run in the foreground until SIGTERM/SIGINT, then stop gracefully; or, started
 * by `baton upgrade` (BATON_UPGRADE set), take over from the running Baton. Resolves with the
 * exit code.
 */
export async function runStart(config: Config, opts: StartOptions): Promise<number> {
  tuneV8Heap();
  const takeover = Takeover.fromEnv(opts.env);
  const output = new LogOutput();
  const log = createLogger({ level: opts.logLevel, format: opts.logFormat, out: output, color: opts.color });
  const processRuntimes: ProcessRuntime[] = [];
  // However Baton exits, the processes it owns do not outlive it. A successor owns none until
  // it is in charge; a Baton that handed over owns none any more.
  let ownsApps = takeover === undefined;
  process.once('exit', () => {
    if (ownsApps) for (const r of processRuntimes) r.killAllSync();
  });
  let dockerRuntime: typeof import('../runtime/docker.js') | undefined;
  let docker: import('dockerode') | undefined;
  const makeRuntime = async (service: ServiceConfig, slog: Logger): Promise<Runtime> => {
    if (service.runtime === 'process') {
      const runtime = new ProcessRuntime({ service, log: slog, pickPort: () => freePort(), env: opts.env, outputDir: appOutputDir(config.stateFile) });
      processRuntimes.push(runtime);
      return runtime;
    }
    // Loaded only when a service runs on Docker: the process runtime needs no engine.
    dockerRuntime ??= await import('../runtime/docker.js');
    if (docker === undefined) {
      const { default: Dockerode } = await import('dockerode');
      docker = new Dockerode();
    }
    return new dockerRuntime.DockerRuntime({ service, docker, log: slog, pickPort: () => freePort() });
  };
  // `baton upgrade` runs this same command again, from the installed code.
  const argv = [...process.execArgv, opts.entry, 'start', ...(config.file === '<default>' ? [] : ['-c', config.file]), '--log-format', opts.logFormat, ...(opts.pidFile === undefined ? [] : ['--pid-file', opts.pidFile])];
  const baton = new Baton({ config, log, makeRuntime, upgrade: { command: { execPath: process.execPath, argv, cwd: process.cwd(), env: opts.env }, output } });

  let inCharge = takeover === undefined;
  let stopping: Promise<void> | undefined;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (!inCharge) {
      // A successor not yet in charge stops nothing: its predecessor still owns the apps.
      log.warn({ signal }, 'signal received before taking over: leaving');
      void baton.abandon().finally(() => process.exit(1));
      return;
    }
    if (stopping !== undefined) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
    void notifySystemd(opts.env, { STOPPING: 1 }, log);
    stopping = baton.stop();
    void stopping.then(stopped, stopped);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // systemctl reload, kill -HUP: re-read the config (an invalid one changes nothing).
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'signal received: reloading');
    baton.reload({ via: 'signal', signal: 'SIGHUP' }).catch((err: unknown) => log.error({ err: (err as Error).message, code: isBatonError(err) ? err.code : undefined }, 'reload refused'));
  });
  // logrotate's postrotate, kill -USR1: reopen the access log file (issue 16). Also keeps
  // Node's default for SIGUSR1 (starting the inspector) off a production proxy.
  process.on('SIGUSR1', () => baton.reopenLogs());
  // kill -USR2: `baton upgrade`, its steps in the log.
  process.on('SIGUSR2', () => {
    log.info({ signal: 'SIGUSR2' }, 'signal received: upgrading');
    baton
      .upgrade(() => {}, { by: { via: 'signal', signal: 'SIGUSR2' } })
      .catch((err: unknown) => log.error({ err: (err as Error).message, code: isBatonError(err) ? err.code : undefined }, 'upgrade refused'));
  });

  try {
    if (takeover === undefined) await baton.start();
    else await takeOver(baton, takeover);
  } catch (err) {
    // An expected failure (a taken port, a bad state file, an app that cannot start) is said in
    // one line; a fault keeps its stack.
    if (isBatonError(err)) log.error({ code: err.code, ...err.details }, `baton failed to start: ${err.message}`);
    else log.error({ err }, 'baton failed to start');
    if (takeover !== undefined) {
      const e = isBatonError(err) ? err : new BatonError('UPGRADE_FAILED', (err as Error).message);
      await takeover.send({ type: 'failed', error: { code: e.code, message: e.message } });
      await baton.abandon();
      return 1;
    }
    await baton.stop().catch(() => {});
    process.stderr.write(`baton: ${(err as Error).message}\n`);
    // Bad input that needs no attempt to judge (a corrupt state file, an unreadable token): 2.
    return isBatonError(err) && ['STATE_UNREADABLE', 'CONFIG_INVALID', 'CONFIG_UNREADABLE', 'LISTEN_FAILED'].includes(err.code) ? 2 : 1;
  }
  if (takeover !== undefined) {
    await takeover.send({ type: 'ready', pid: process.pid });
    await takeover.inCharge;
    // The predecessor's pipes end with it: log where it logged.
    output.moveTo(takeover.fds.stderr);
    inCharge = ownsApps = true;
    await baton.takeCharge();
    // Issue 16: the predecessor's record of this upgrade is on disk once it lets go.
    void takeover.released.then(() => baton.rereadHistory());
    if (opts.pidFile !== undefined) await writePidFile(opts.pidFile, process.pid);
    await notifySystemd(opts.env, { MAINPID: process.pid, READY: 1, STATUS: `serving on ${baton.listenAddress} (upgraded)` }, log);
  } else {
    if (opts.pidFile !== undefined) await writePidFile(opts.pidFile, process.pid);
    await notifySystemd(opts.env, { READY: 1, MAINPID: process.pid, STATUS: `serving on ${baton.listenAddress}` }, log);
    process.stderr.write(`baton: serving on http://${baton.listenAddress} (control socket ${config.control.socket})\n`);
  }
  // Serving: the listeners keep the process alive until a signal's stop() has run, or an
  // upgrade has handed everything to a successor.
  const how = await Promise.race([done.then(() => 'stopped' as const), baton.handedOver.then(() => 'handed over' as const)]);
  if (how === 'handed over') ownsApps = false;
  else if (opts.pidFile !== undefined) await removePidFile(opts.pidFile, process.pid);
  return 0;
}

/** Started by `baton upgrade`: learn what the state file cannot say, adopt, accept on the sockets handed over. */
async function takeOver(baton: Baton, takeover: Takeover): Promise<void> {
  const carried = await takeover.state();
  await baton.start({
    listeners: takeover.fds.listeners,
    ...(carried.ticketKeys === undefined ? {} : { ticketKeys: carried.ticketKeys }),
    adopted: async (services) => {
      if (takeover.fault === 'adopt') throw new BatonError('ADOPTION_FAILED', `${FAULT_ENV}=adopt: failing after adopting, as asked`);
      await takeover.send({ type: 'adopted', services });
      // Never ready: the predecessor's deadline kills this process.
      if (takeover.fault === 'hang') await new Promise(() => setInterval(() => {}, 1_000));
    },
  });
}

/** Where process-runtime apps write their output: a folder beside the state file. */
function appOutputDir(stateFile: string): string {
  return path.join(path.dirname(stateFile), `${path.basename(stateFile, '.json')}.apps`);
}
