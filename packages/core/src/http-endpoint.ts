import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invalidArgument, toMicroError } from './errors.js';

/** A small standalone HTTP server (metrics, health probes). */
export interface HttpEndpoint {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  /** Stops listening and closes every connection; calling it again is harmless. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Listens on `host:port` (0 picks a free port) with `handle` for every request. A port in use or not
 * allowed is `unavailable`; a bad port number `invalid_argument`.
 */
export async function listenHttp(
  handle: (req: IncomingMessage, res: ServerResponse) => void,
  port: number,
  host: string,
): Promise<HttpEndpoint> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalidArgument(`port must be an integer 0-65535, got ${port}`);
  }
  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(toMicroError(err, 'unavailable')));
    server.listen(port, host, () => resolve());
  });
  server.on('error', () => undefined);
  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  const endpoint: HttpEndpoint = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}`,
    port: bound,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
    async [Symbol.asyncDispose]() {
      await endpoint.close();
    },
  };
  return endpoint;
}
