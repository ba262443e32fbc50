import {
  ClosedConnectionError,
  connect,
  DrainingConnectionError,
  type NatsConnection,
} from '@nats-io/transport-node';
import { invalidArgument, MicroError } from './errors.js';

/** Where the NATS backends connect when given neither a connection nor servers. */
export const defaultNatsServers = 'nats://127.0.0.1:4222';

export interface NatsLinkOptions {
  connection?: NatsConnection | undefined;
  servers?: string | string[] | undefined;
}

/**
 * A NATS connection as the transport and broker hold it: borrowed (left open on close) or opened lazily on
 * first use (owned, closed on close), with nats.js's own reconnection forever, and whether it is up right now.
 */
export interface NatsLink {
  /** The connection once open. */
  readonly current: NatsConnection | undefined;
  /** False while disconnected (nats.js is reconnecting) or closed. */
  readonly up: boolean;
  connect(): Promise<NatsConnection>;
  close(): Promise<void>;
}

/** `onDown` runs when the connection drops or closes, so waiters can fail with `unavailable` at once. */
export function natsLink(
  options: NatsLinkOptions,
  owner: string,
  onDown: (error: MicroError) => void,
): NatsLink {
  if (options.connection !== undefined && options.servers !== undefined) {
    throw invalidArgument(`${owner}: give either connection or servers, not both`);
  }
  const servers = options.servers ?? defaultNatsServers;
  const list = typeof servers === 'string' ? [servers] : servers;
  if (list.length === 0 || list.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw invalidArgument(`${owner}: servers must be non-empty URLs, got ${JSON.stringify(servers)}`);
  }
  const owned = options.connection === undefined;
  let current: NatsConnection | undefined;
  let opening: Promise<NatsConnection> | undefined;
  let up = false;
  let closed = false;
  let stopWatching: (() => void) | undefined;

  const watch = async (nc: NatsConnection): Promise<void> => {
    const statuses = nc.status();
    // nats.js's status iterator has stop(), though its declared type does not say so.
    stopWatching = () => (statuses as { stop?: () => void }).stop?.();
    for await (const status of statuses) {
      if (status.type === 'disconnect') {
        up = false;
        onDown(
          new MicroError('unavailable', `${owner}: connection to NATS ${status.server} lost`, {
            details: { local: true },
          }),
        );
      } else if (status.type === 'reconnect') {
        up = true;
      }
    }
  };

  const adopt = (nc: NatsConnection): NatsConnection => {
    current = nc;
    up = !nc.isClosed();
    watch(nc).catch(() => undefined);
    nc.closed().then(
      (error) => {
        up = false;
        onDown(new MicroError('unavailable', `${owner}: NATS connection closed`, { cause: error }));
      },
      () => undefined,
    );
    return nc;
  };

  if (options.connection !== undefined) adopt(options.connection);

  return {
    get current() {
      return current;
    },
    get up() {
      return up;
    },
    connect() {
      if (current !== undefined) return Promise.resolve(current);
      if (closed) return Promise.reject(new MicroError('unavailable', `${owner} is closed`));
      opening ??= connect({
        servers: list,
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        name: owner,
      }).then(
        (nc) => {
          if (closed) {
            nc.close().catch(() => undefined);
            throw new MicroError('unavailable', `${owner} is closed`);
          }
          return adopt(nc);
        },
        (cause: unknown) => {
          opening = undefined;
          const reason = cause instanceof Error ? cause.message : String(cause);
          throw new MicroError(
            'unavailable',
            `${owner} cannot connect to NATS at ${list.join(', ')}: ${reason}`,
            {
              cause,
            },
          );
        },
      );
      return opening;
    },
    async close() {
      if (closed) return;
      closed = true;
      stopWatching?.();
      if (!owned) return;
      const nc = current ?? (await opening?.catch(() => undefined));
      await nc?.close().catch(() => undefined);
    },
  };
}

const subjectPattern = /^[^\s.*>]+(\.[^\s.*>]+)*$/;

/** A literal NATS subject: dot-separated tokens without spaces or wildcards. */
export function checkNatsSubject(value: string, what: string): string {
  if (typeof value !== 'string' || !subjectPattern.test(value)) {
    throw invalidArgument(
      `${what} must be a NATS subject (dot-separated tokens, no spaces or wildcards), got ${JSON.stringify(value)}`,
      { [what]: value },
    );
  }
  return value;
}

/** A failed NATS operation: `unavailable` when the connection is closed or draining, `internal` otherwise. */
export function natsError(error: unknown, what: string): MicroError {
  const gone = error instanceof ClosedConnectionError || error instanceof DrainingConnectionError;
  const reason = error instanceof Error ? error.message : String(error);
  return new MicroError(gone ? 'unavailable' : 'internal', `${what} failed: ${reason}`, { cause: error });
}
