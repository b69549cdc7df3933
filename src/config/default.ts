import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from './load.js';
import type { Config } from './types.js';

/** The folder Baton is installed in (dist/config/ -> the package root). */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * The embedded default: the bundled demo app on the process runtime, on 127.0.0.1:8080, with
 * the control socket ./baton.sock (relative to the working directory). What `baton start`
 * serves when it is given no config and finds no config/baton.yaml.
 */
export function defaultConfig(): Config {
  const demo = path.join(PACKAGE_ROOT, 'examples/demo/server.js');
  const yaml = `listen: 127.0.0.1:8080
control:
  socket: ./baton.sock
services:
  web:
    hosts: ["*"]
    version: v1
    runtime: process
    process:
      command: ${JSON.stringify([process.execPath, demo])}
    health:
      interval: 100ms
      deadline: 20s
`;
  return parseConfig(yaml, '<default>');
}
