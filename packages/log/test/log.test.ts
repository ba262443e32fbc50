import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { MicroError, memoryBroker } from '@micro-os/core';
import { brokerOutput, createLogger, fileOutput } from '@micro-os/log';
import { prettyOutput } from '@micro-os/log/pretty';
import { memoryOutput } from '@micro-os/log/testing';
import {
  type Context,
  type ContextManager,
  context,
  ROOT_CONTEXT,
  TraceFlags,
  trace,
} from '@opentelemetry/api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** The smallest AsyncLocalStorage context manager, so an active span exists without an SDK. */
class TestContextManager implements ContextManager {
  readonly #storage = new AsyncLocalStorage<Context>();
  active(): Context {
    return this.#storage.getStore() ?? ROOT_CONTEXT;
  }
  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    ctx: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    return this.#storage.run(ctx, () => fn.apply(thisArg, args));
  }
  bind<T>(_ctx: Context, target: T): T {
    return target;
  }
  enable(): this {
    return this;
  }
  disable(): this {
    this.#storage.disable();
    return this;
  }
}

describe('logger', () => {
  it('writes JSON lines at or above its level, with message, level label, time and service', () => {
    const out = memoryOutput();
    const log = createLogger({ service: 'orders', level: 'info', outputs: [out] });
    log.debug('hidden');
    log.info('order taken', { orderId: 7 });
    log.error('order failed');
    const lines = out.lines();
    expect(lines.map((l) => l.msg)).toEqual(['order taken', 'order failed']);
    expect(lines[0]).toMatchObject({ level: 'info', service: 'orders', orderId: 7, pid: process.pid });
    expect(lines[1]?.level).toBe('error');
    expect(Math.abs(Number(lines[0]?.time) - Date.now())).toBeLessThan(60_000);
    createLogger({ outputs: [out], time: 'iso' }).info('iso');
    expect(String(out.lines().at(-1)?.time)).toMatch(/^\d{4}-\d\d-\d\dT/);
    out.clear();
    log.level = 'debug';
    log.debug('now shown');
    expect(out.lines().at(-1)?.msg).toBe('now shown');
    expect(log.isLevelEnabled('trace')).toBe(false);
  });

  it('adds the fields of child loggers to every line, child over parent', () => {
    const out = memoryOutput();
    const log = createLogger({ outputs: [out], fields: { region: 'eu' } });
    const request = log.with({ requestId: 'r1', user: 'ada' });
    request.with({ step: 2 }).info('charged', { amount: 3 });
    log.info('plain');
    const [child, plain] = out.lines();
    expect(child).toMatchObject({
      region: 'eu',
      requestId: 'r1',
      user: 'ada',
      step: 2,
      amount: 3,
      msg: 'charged',
    });
    expect(plain?.requestId).toBeUndefined();
  });

  it('serialises errors with their MicroError code and message', () => {
    const out = memoryOutput();
    createLogger({ outputs: [out] }).error('lookup failed', {
      err: new MicroError('not_found', 'no order 7'),
    });
    expect(out.lines()[0]?.err).toMatchObject({
      type: 'MicroError',
      code: 'not_found',
      message: 'no order 7',
    });
  });

  it('applies a level set at run time to the logger and its children', () => {
    const out = memoryOutput();
    const log = createLogger({ outputs: [out], level: 'warn' });
    const child = log.with({ component: 'db' });
    log.info('dropped');
    child.warn('kept');
    log.level = 'debug';
    child.level = 'debug';
    log.debug('now kept');
    child.debug('child kept');
    log.trace('dropped too');
    expect(out.lines().map((l) => l.msg)).toEqual(['kept', 'now kept', 'child kept']);
  });

  it('rejects unknown levels with invalid_argument', () => {
    const invalid = expect.objectContaining({ code: 'invalid_argument' });
    expect(() => createLogger({ level: 'loud' as 'info', outputs: [memoryOutput()] })).toThrow(invalid);
    expect(() => createLogger({ outputs: [memoryOutput({ level: 'x' as 'info' })] })).toThrow(invalid);
    const log = createLogger({ outputs: [memoryOutput()] });
    expect(() => {
      log.level = 'nope' as 'info';
    }).toThrow(invalid);
    expect(() => createLogger({ outputs: [] })).toThrow(invalid);
    expect(() => createLogger({ outputs: [memoryOutput()], redact: ['a..b'] })).toThrow(invalid);
    expect(() => fileOutput({ path: '' })).toThrow(invalid);
  });
});

describe('redaction', () => {
  it('hides common secret names by default, at the top level and nested', () => {
    const out = memoryOutput();
    const log = createLogger({ outputs: [out] });
    log.info('login', {
      user: 'ada',
      password: 'hunter2',
      token: 't',
      apiKey: 'k',
      req: { headers: { authorization: 'Bearer x', cookie: 'sid=1', accept: 'json' } },
      db: { secret: 's', host: 'h' },
    });
    const [line] = out.lines();
    expect(line).toMatchObject({
      user: 'ada',
      password: '[REDACTED]',
      token: '[REDACTED]',
      apiKey: '[REDACTED]',
      req: { headers: { authorization: '[REDACTED]', cookie: '[REDACTED]', accept: 'json' } },
      db: { secret: '[REDACTED]', host: 'h' },
    });
    expect(out.raw()[0]).not.toContain('hunter2');
  });

  it('matches secret names ignoring case, dashes and underscores, in child fields too, without touching the caller object', () => {
    const out = memoryOutput();
    const log = createLogger({ outputs: [out] }).with({ access_token: 'a', nested: { Password: 'p' } });
    const headers = { 'X-Api-Key': 'k', Authorization: 'Bearer b', 'Set-Cookie': 'c', host: 'h' };
    log.info('proxied', { headers, err: new Error('boom') });
    const [line] = out.lines();
    expect(line).toMatchObject({
      access_token: '[REDACTED]',
      nested: { Password: '[REDACTED]' },
      headers: {
        'X-Api-Key': '[REDACTED]',
        Authorization: '[REDACTED]',
        'Set-Cookie': '[REDACTED]',
        host: 'h',
      },
      err: { message: 'boom' },
    });
    expect(headers.Authorization).toBe('Bearer b');
  });

  it('matches secret names with separators at either end and in any case, and leaves look-alikes alone', () => {
    const out = memoryOutput();
    const log = createLogger({ outputs: [out] });
    log.info('edges', {
      _password_: 'a',
      '-Token': 'b',
      API_KEY: 'c',
      'x-api-key': 'd',
      SESSION_ID: 'e',
      tokens: 'visible',
      passwords: 'visible',
      apiKeyId: 'visible',
    });
    expect(out.lines()[0]).toMatchObject({
      _password_: '[REDACTED]',
      '-Token': '[REDACTED]',
      API_KEY: '[REDACTED]',
      'x-api-key': '[REDACTED]',
      SESSION_ID: '[REDACTED]',
      tokens: 'visible',
      passwords: 'visible',
      apiKeyId: 'visible',
    });
  });

  it('hides secrets two levels down and in child fields given after a plain line', () => {
    const out = memoryOutput();
    const log = createLogger({ outputs: [out] });
    log.info('plain', { orderId: 1, user: 'ada' });
    log.with({ db: { auth: { password: 'p' } } }).info('nested', { req: { body: { token: 't', n: 1 } } });
    const [, line] = out.lines();
    expect(line).toMatchObject({
      db: { auth: { password: '[REDACTED]' } },
      req: { body: { token: '[REDACTED]', n: 1 } },
    });
  });

  it('hides configured paths, in child bindings too, with the censor given', () => {
    const out = memoryOutput();
    const log = createLogger({ outputs: [out], redact: ['card.number', 'ssn'], censor: '***' });
    log.with({ ssn: '123-45' }).info('paid', { card: { number: '4111', brand: 'visa' }, password: 'p' });
    const [line] = out.lines();
    expect(line).toMatchObject({ ssn: '***', card: { number: '***', brand: 'visa' }, password: '***' });
  });

  it('can be switched off for the default names', () => {
    const out = memoryOutput();
    createLogger({ outputs: [out], redactSecrets: false }).info('debugging', { token: 'visible' });
    expect(out.lines()[0]?.token).toBe('visible');
  });
});

describe('trace correlation', () => {
  beforeAll(() => {
    context.setGlobalContextManager(new TestContextManager());
  });
  afterAll(() => {
    context.disable();
  });

  it('puts trace_id and span_id of the active span on each line, and nothing outside a span', () => {
    const out = memoryOutput();
    const log = createLogger({ outputs: [out] }).with({ component: 'db' });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const spanId = '00f067aa0ba902b7';
    const span = trace.wrapSpanContext({ traceId, spanId, traceFlags: TraceFlags.SAMPLED });
    log.info('before', { a: 1 });
    context.with(trace.setSpan(ROOT_CONTEXT, span), () => log.info('inside'));
    log.info('outside');
    const [before, inside, outside] = out.lines();
    expect(before?.trace_id).toBeUndefined();
    expect(outside?.a).toBeUndefined();
    expect(inside).toMatchObject({ trace_id: traceId, span_id: spanId, trace_flags: '01', component: 'db' });
    expect(outside?.trace_id).toBeUndefined();
  });
});

describe('outputs', () => {
  it('appends to a file, creating its directory, and flushes on close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'micro-log-'));
    try {
      const path = join(dir, 'nested', 'app.log');
      const log = createLogger({ outputs: [fileOutput({ path })] });
      for (let i = 0; i < 100; i++) log.info('line', { i });
      await log.close();
      await log.close();
      const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
      expect(lines).toHaveLength(100);
      expect(JSON.parse(lines[99] ?? '{}')).toMatchObject({ msg: 'line', i: 99 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('prints readable lines through pino-pretty', async () => {
    const sink = new PassThrough();
    let text = '';
    sink.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    const log = createLogger({ outputs: [prettyOutput({ destination: sink, colorize: false })] });
    log.warn('disk almost full', { percent: 93 });
    await expect.poll(() => text).toContain('disk almost full');
    expect(text).toContain('WARN');
    expect(text).toContain('percent: 93');
  });

  it('publishes lines to a broker topic for a collector to subscribe to', async () => {
    const broker = memoryBroker();
    const topic = `logs.${randomUUID().slice(0, 8)}`;
    const received: Record<string, unknown>[] = [];
    const sub = await broker.subscribe(topic, (message) => {
      expect(message.contentType).toBe('application/json');
      received.push(JSON.parse(new TextDecoder().decode(message.body)) as Record<string, unknown>);
    });
    const log = createLogger({ service: 'billing', outputs: [brokerOutput({ broker, topic })] });
    log.info('invoice sent', { invoice: 12, token: 'x' });
    await log.flush();
    await expect.poll(() => received.length).toBe(1);
    expect(received[0]).toMatchObject({
      msg: 'invoice sent',
      invoice: 12,
      service: 'billing',
      token: '[REDACTED]',
    });
    await sub.unsubscribe();
  });

  it('sends each output only the lines at or above its own level', () => {
    const all = memoryOutput();
    const errors = memoryOutput({ level: 'error' });
    const log = createLogger({ level: 'debug', outputs: [all, errors] });
    log.debug('d');
    log.info('i');
    log.error('e');
    expect(all.lines().map((l) => l.msg)).toEqual(['d', 'i', 'e']);
    expect(errors.lines().map((l) => l.msg)).toEqual(['e']);
  });

  it('reports a failing broker publish to onError instead of throwing', async () => {
    const failures: unknown[] = [];
    const broken = memoryBroker({ maxMessageSize: 10 });
    const log = createLogger({
      outputs: [brokerOutput({ broker: broken, topic: 'logs', onError: (e) => failures.push(e) })],
    });
    log.info('a line far longer than ten bytes');
    await log.flush();
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ code: 'resource_exhausted' });
  });
});
