import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgument, toMicroError } from '@micro-os/core';
import { listenHttp } from '@micro-os/core/internal';
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
  if (!path.startsWith('/')) throw invalidArgument(`path must start with '/', got ${JSON.stringify(path)}`);
  const handle = metricsHttpHandler(metrics);
  const endpoint = await listenHttp(
    (req, res) => {
      if ((req.url ?? '/').split('?')[0] === path) handle(req, res);
      else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    },
    port,
    host,
  );
  return {
    url: `${endpoint.url}${path}`,
    port: endpoint.port,
    close: () => endpoint.close(),
    [Symbol.asyncDispose]: () => endpoint.close(),
  };
}
