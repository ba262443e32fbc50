/**
 * The micro-os demo: a greeter on two instances plus a 1.1.0 canary taking a weighted share, callers that
 * authenticate with service tokens, one request traced across two services with its correlated logs,
 * `/metrics` and `/health`, a kv + config step and a lock step. In memory by default, with no server;
 * `--transport=http|nats` and `--registry=redis|nats` switch the plumbing (see README.md).
 */
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { invalidArgument, isMicroError, sleep } from '@micro-os/core';
import { trace } from '@opentelemetry/api';
import { canarySplit, type HelloResponse, startFleet } from './greeter.js';
import { lockStep } from './lock.js';
import { fetchOnce, logLine, serveEndpoints, startObservability, traceTree } from './observability.js';
import { plumbing } from './plumbing.js';
import { kvStep, loadSettings } from './storage.js';

const { values } = parseArgs({
  options: {
    transport: { type: 'string', default: 'memory' },
    registry: { type: 'string', default: 'memory' },
    calls: { type: 'string', default: '20' },
    serve: { type: 'boolean', default: false },
  },
});
const calls = Number(values.calls);
if (!Number.isInteger(calls) || calls < 1)
  throw invalidArgument(`--calls must be a positive integer, got ${values.calls}`);
const described = (err: unknown): string => {
  if (!isMicroError(err)) return String(err);
  const reason = err.details.reason;
  return typeof reason === 'string' ? `${err.code} (${reason})` : err.code;
};
const count = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);
const counts = (map: Map<string, number>): string =>
  [...map]
    .sort()
    .map(([key, n]) => `${key} ${n}`)
    .join(', ');
const section = (title: string, lines: readonly string[]): void => {
  for (const [i, line] of lines.entries()) console.log(`${(i === 0 ? title : '').padEnd(8)}${line}`);
};

const settings = await loadSettings();
const wiring = await plumbing({ transport: values.transport, registry: values.registry });
const o = startObservability();
const fleet = await startFleet(wiring, o, settings.greeting);
const { client } = fleet;
console.log(
  `micro-os demo: transport=${values.transport} registry=${values.registry} calls=${calls} traces=${o.traceSink}`,
);

// 1. Balanced, authenticated calls with a weighted canary.
const byInstance = new Map<string, number>();
const byVersion = new Map<string, number>();
const durations: number[] = [];
let last: HelloResponse | undefined;
for (let i = 0; i < calls; i++) {
  const started = performance.now();
  last = await client.call<HelloResponse>('greeter', 'Greeter.Hello', { name: `caller-${i}` });
  durations.push(performance.now() - started);
  count(byInstance, `${last.instance} (${last.version})`);
  count(byVersion, last.version);
  await client.publish('greeter.greeted', { name: `caller-${i}` });
}
const later = durations.slice(1).sort((a, b) => a - b);
const median = later[Math.floor(later.length / 2)] ?? 0;
const forced = new Map<string, number>();
for (let i = 0; i < 3; i++) {
  const res = await client.call<HelloResponse>(
    'greeter',
    'Greeter.Hello',
    { name: 'tester' },
    { metadata: { 'x-micro-label-version': '1.1.0' } },
  );
  count(forced, res.instance);
}
const failure = (promise: Promise<unknown>): Promise<string> => promise.then(() => 'ok', described);
const noToken = await failure(fleet.anonymous.call('greeter', 'Greeter.Hello', { name: 'eve' }));
const noScope = await failure(client.call('names', 'Names.Format', { name: 'eve' }, { retries: 0 }));
const missing = await failure(client.call('greeter', 'Greeter.Missing', {}, { retries: 0 }));
await sleep(100);
const split = Object.keys(canarySplit)
  .map((version) => `${version}: ${byVersion.get(version) ?? 0}`)
  .join(', ');
section('rpc', [
  `${calls} authenticated calls to greeter: first ${(durations[0] ?? 0).toFixed(0)} ms (gets the tokens), then median ${median.toFixed(2)} ms`,
  `e.g. "${last?.message}"; served by ${counts(byInstance)}`,
  `split ${JSON.stringify(canarySplit)} -> observed ${split}`,
  `x-micro-label-version: 1.1.0 forces the canary: ${[...forced].map(([k, n]) => `${k} ${n}/3`).join(', ')}`,
  `greeted events (queue group): ${counts(fleet.greeted)}`,
  `no token -> ${noToken}; names without its scope -> ${noScope}; unknown endpoint -> ${missing}`,
]);

// 2. One request traced across greeter and names, its logs, /metrics and /health.
o.reset();
// A span of our own: the wrappers' spans join it, so the whole request is one trace under it.
const traceId = await trace.getTracer('micro-os-demo').startActiveSpan('demo request', async (span) => {
  try {
    await client.call<HelloResponse>('greeter', 'Greeter.Hello', { name: 'ada' });
    return span.spanContext().traceId;
  } finally {
    span.end();
  }
});
await sleep(50);
const tree = traceTree(o.spans(), traceId);
section('trace', tree.length > 1 ? tree : [`trace ${traceId} exported to ${o.traceSink}`]);
const correlated = o.logLines().filter((line) => line.trace_id === traceId);
section('logs', correlated.slice(0, 2).map(logLine));
o.monitor.register({
  id: 'registry',
  description: 'names is registered',
  check: async () => ({ nodes: (await wiring.registry.getService('names')).flatMap((s) => s.nodes).length }),
  interval: 5000,
});
await o.monitor.checkNow();
const endpoints = await serveEndpoints(o, values.serve);
const scraped = await fetchOnce(endpoints.metrics.url);
const health = await fetchOnce(`${endpoints.health.url}/health`);
const report = JSON.parse(health.body) as { status: string; checks: { id: string; status: string }[] };
section('metrics', [
  `GET ${endpoints.metrics.url} -> ${scraped.status}`,
  ...scraped.body.split('\n').filter((line) => line.startsWith('micro_server_requests_total')),
]);
section('health', [
  `GET ${endpoints.health.url}/health -> ${health.status} status=${report.status} ${report.checks
    .map((check) => `${check.id}=${check.status}`)
    .join(' ')}`,
]);

// 3. kv + config, 4. lock.
section('config', [
  `greeting.prefix="${settings.greeting}" (DEMO_GREETING__PREFIX overrides), session.ttl=${settings.sessionTtl} ms, greeting.retries=${settings.retries} (default)`,
]);
section('kv', await kvStep(settings));
section('lock', await lockStep());

if (values.serve) {
  console.log(
    `serving ${endpoints.metrics.url} and ${endpoints.health.url}/health, one call a second; Ctrl-C stops`,
  );
  const timer = setInterval(() => {
    client.call('greeter', 'Greeter.Hello', { name: 'prometheus' }).catch((err: unknown) => {
      console.error(described(err));
    });
  }, 1000);
  await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
  clearInterval(timer);
  console.log('stopping');
}
await endpoints.close();
await fleet.stop();
await wiring.close();
await o.close();
