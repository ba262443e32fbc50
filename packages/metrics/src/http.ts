import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invalidArgument, toMicroError } from '@micro-os/core';
import type { Metrics } from './metrics.js';

/** A node:http request listener answering GET/HEAD with the exposition (mount it on your own server). */
export function metricsHttpHandler(metrics: Metrics): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    metrics.exposition().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${toMicroError(err).message}\n`);
      },
    );
  };
}

export interface MetricsServerOptions {
  /** @default 9464 (0 picks a free port) */
  port?: number | undefined;
  /** Interface to bind; use '0.0.0.0' for Prometheus to scrape from other hosts. @default '127.0.0.1' */
  host?: string | undefined;
  /** @default '/metrics' */
  path?: string | undefined;
}

export interface MetricsServer {
  /** `http://host:port/metrics` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a standalone HTTP server exposing the metrics at `path`; anything else is 404. */
export async function serveMetrics(
  metrics: Metrics,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const port = options.port ?? 9464;
  const host = options.host ?? '127.0.0.1';
  const path = options.path ?? '/metrics';
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw invalidArgument(`port must be an integer 0-65535, got ${port}`);
  if (!path.startsWith('/')) throw invalidArgument(`path must start with '/', got ${JSON.stringify(path)}`);
  const handle = metricsHttpHandler(metrics);
  const server = createServer((req, res) => {
    if ((req.url ?? '/').split('?')[0] === path) handle(req, res);
    else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(toMicroError(err, 'unavailable')));
    server.listen(port, host, () => resolve());
  });
  server.on('error', () => undefined);
  const bound = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  const metricsServer: MetricsServer = {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${bound}${path}`,
    port: bound,
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
    async [Symbol.asyncDispose]() {
      await metricsServer.close();
    },
  };
  return metricsServer;
}
