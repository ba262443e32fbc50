import type { IncomingMessage, ServerResponse } from 'node:http';
import { toMicroError } from '@micro-os/core';
import { listenHttp } from '@micro-os/core/internal';
import type { Monitor } from './monitor.js';

const send = (
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: unknown,
  type = 'application/json',
) => {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : `${JSON.stringify(body)}\n`);
};

/**
 * A node:http listener for the Kubernetes probes and stats. `/health`: 200 on pass or warn (degraded), 503 on
 * fail, body application/health+json. `/live`: 200 while the process answers. `/ready`: 200 when ready, 503
 * when shutting down or a critical check fails. `/stats`: process and call stats. Returns false (and answers
 * 404) for any other path, so it can sit in front of other routes.
 */
export function monitorHttpHandler(monitor: Monitor): (req: IncomingMessage, res: ServerResponse) => boolean {
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/health' && path !== '/live' && path !== '/ready' && path !== '/stats') {
      send(req, res, 404, { error: `no route ${path}` });
      return false;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    try {
      if (path === '/health') {
        const report = monitor.health();
        send(req, res, report.status === 'fail' ? 503 : 200, report, 'application/health+json');
      } else if (path === '/live') {
        const live = monitor.live();
        send(req, res, live ? 200 : 503, { status: live ? 'pass' : 'fail' }, 'application/health+json');
      } else if (path === '/ready') {
        const { ready, reasons } = monitor.readiness();
        send(
          req,
          res,
          ready ? 200 : 503,
          { status: ready ? 'pass' : 'fail', ready, reasons },
          'application/health+json',
        );
      } else send(req, res, 200, monitor.stats());
    } catch (err) {
      send(req, res, 500, { error: toMicroError(err).message });
    }
    return true;
  };
}

export interface MonitorServerOptions {
  /** @default 8081 (0 picks a free port) */
  port?: number | undefined;
  /** Use '0.0.0.0' for kubelet probes from outside the pod's loopback. @default '127.0.0.1' */
  host?: string | undefined;
}

export interface MonitorServer {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A standalone HTTP server with /health, /live, /ready and /stats. */
export async function serveMonitor(
  monitor: Monitor,
  options: MonitorServerOptions = {},
): Promise<MonitorServer> {
  const port = options.port ?? 8081;
  const host = options.host ?? '127.0.0.1';
  return listenHttp(monitorHttpHandler(monitor), port, host);
}
