import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { decide, hasDockerSuites } from './docker-images.js';

describe('the Docker images setup decides', () => {
  const base = { dockerSuites: true, engine: true, dockerCli: true, ci: false };

  it('to build the images when the run has Docker suites and an engine answers, in or out of CI', () => {
    expect(decide(base)).toEqual({ action: 'build' });
    expect(decide({ ...base, ci: true })).toEqual({ action: 'build' });
  });

  it('to do nothing when the run has no Docker suite, engine or not', () => {
    expect(decide({ ...base, dockerSuites: false })).toEqual({ action: 'none' });
    expect(decide({ ...base, dockerSuites: false, engine: false })).toEqual({ action: 'none' });
  });

  it('to skip with a printed reason when no engine answers outside CI', () => {
    const d = decide({ ...base, engine: false, dockerCli: false, dockerHost: 'tcp://127.0.0.1:2375' });
    expect(d).toEqual({ action: 'skip', reason: expect.stringContaining('no Docker engine answered at DOCKER_HOST=tcp://127.0.0.1:2375') });
  });

  it('under CI=true with no engine, to say the suites will fail (they must not skip)', () => {
    expect(decide({ ...base, engine: false, ci: true })).toEqual({ action: 'skip', reason: expect.stringContaining('the Docker suites will fail') });
  });

  it('to explain when the engine answers but there is no docker command to build with', () => {
    expect(decide({ ...base, dockerCli: false })).toEqual({ action: 'skip', reason: expect.stringContaining('docker command is missing') });
  });
});

describe('a run has Docker suites', () => {
  const root = '/repo';
  it('when one of its files is under test/docker/', () => {
    expect(hasDockerSuites(['/repo/test/unit/a.test.ts', '/repo/test/docker/baton.test.ts'], root)).toBe(true);
    expect(hasDockerSuites(['/repo/test/unit/a.test.ts'], root)).toBe(false);
    expect(hasDockerSuites([path.join(root, 'test/dockerish/x.test.ts')], root)).toBe(false);
    expect(hasDockerSuites([], root)).toBe(false);
  });
});
