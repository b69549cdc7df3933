import type { Logger } from 'pino';
import type { Config, ServiceConfig } from '../config/types.js';
import type { Runtime } from '../runtime/runtime.js';
import { ProcessRuntime } from '../runtime/process.js';
import { freePort } from '../runtime/free-port.js';
import { Baton } from '../baton.js';
import { isBatonError } from '../errors.js';
import { createLogger, type LogFormat } from '../log/logger.js';

/**
 * `baton start`: run in the foreground until SIGTERM/SIGINT, then stop gracefully.
 * Resolves with the exit code.
 */
export async function runStart(config: Config, opts: { env: NodeJS.ProcessEnv; logLevel: string; logFormat: LogFormat; color: boolean }): Promise<number> {
  const log = createLogger({ level: opts.logLevel, format: opts.logFormat, out: process.stderr, color: opts.color });
  const processRuntimes: ProcessRuntime[] = [];
  // However Baton exits, the processes it started do not outlive it.
  process.once('exit', () => {
    for (const r of processRuntimes) r.killAllSync();
  });
  let dockerRuntime: typeof import('../runtime/docker.js') | undefined;
  let docker: import('dockerode') | undefined;
  const makeRuntime = async (service: ServiceConfig, slog: Logger): Promise<Runtime> => {
    if (service.runtime === 'process') {
      const runtime = new ProcessRuntime({ service, log: slog, pickPort: () => freePort(), env: opts.env });
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
  const baton = new Baton({ config, log, makeRuntime });

  let stopping: Promise<void> | undefined;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping !== undefined) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    log.info({ signal }, 'signal received');
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
  try {
    await baton.start();
  } catch (err) {
    // An expected failure (a taken port, a bad state file, an app that cannot start) is said in
    // one line; a fault keeps its stack.
    if (isBatonError(err)) log.error({ code: err.code, ...err.details }, `baton failed to start: ${err.message}`);
    else log.error({ err }, 'baton failed to start');
    await baton.stop().catch(() => {});
    process.stderr.write(`baton: ${(err as Error).message}\n`);
    // Bad input that needs no attempt to judge (a corrupt state file, an unreadable token): 2.
    return isBatonError(err) && ['STATE_UNREADABLE', 'CONFIG_INVALID', 'CONFIG_UNREADABLE', 'LISTEN_FAILED'].includes(err.code) ? 2 : 1;
  }
  process.stderr.write(`baton: serving on http://${baton.listenAddress} (control socket ${config.control.socket})\n`);
  // Serving: the listeners keep the process alive until a signal's stop() has run.
  await done;
  return 0;
}
