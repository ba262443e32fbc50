import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomPort, waitForPort } from '@micro-os/core/testing';

/** A throwaway server on a random loopback port, owned by one test file (never the shared servers). */
export interface OwnServer {
  readonly port: number;
  readonly url: string;
  pause(): void;
  resume(): void;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function own(
  command: string,
  args: (port: number) => string[],
  scheme: string,
  cleanup = (): void => {},
): Promise<OwnServer> {
  const port = randomPort();
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    child = spawn(command, args(port), { stdio: 'ignore' });
    await waitForPort(port);
  };
  const kill = async (): Promise<void> => {
    const current = child;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((r) => current.once('exit', r));
    current.kill('SIGKILL');
    await exited;
  };
  const server: OwnServer = {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    kill,
    restart: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      child?.kill('SIGCONT');
      await kill();
      cleanup();
    },
  };
  return start().then(() => server);
}

/** redis-server without persistence on a random loopback port. */
export function ownRedis(): Promise<OwnServer> {
  return own(
    'redis-server',
    (port) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    'redis',
  );
}

/** nats-server with JetStream in a temporary directory. */
export function ownNats(): Promise<OwnServer> {
  const dir = mkdtempSync(join(tmpdir(), 'micro-sync-nats-'));
  return own(
    'nats-server',
    (port) => ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', dir],
    'nats',
    () => rmSync(dir, { recursive: true, force: true }),
  );
}
