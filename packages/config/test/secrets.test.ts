import { inspect } from 'node:util';
import { createConfig, memorySource, secret } from '@micro-os/config';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';

function thrown(run: () => unknown): Error & { details?: unknown } {
  try {
    run();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a throw');
}

describe('secrets', () => {
  it('a secret() value reads normally but is redacted in toString, toJSON and inspect', async () => {
    const config = createConfig({
      sources: [memorySource({ db: { user: 'app', password: secret('hunter2') } })],
    });
    await config.load();
    expect(config.get('db.password').string()).toBe('hunter2');
    expect(config.toJSON()).toEqual({ db: { user: 'app', password: '[redacted]' } });
    expect(config.toString()).not.toContain('hunter2');
    expect(JSON.stringify(config)).not.toContain('hunter2');
    expect(inspect(config)).not.toContain('hunter2');
    expect(String(config.get('db'))).not.toContain('hunter2');
    expect(JSON.stringify(config.get('db.password'))).toBe('"[redacted]"');
    expect(inspect(config.get('db'))).not.toContain('hunter2');
  });

  it('the secrets option marks paths and everything below them', async () => {
    const config = createConfig({
      sources: [memorySource({ db: { password: 'pw-1' }, tokens: { a: 'tok-a', b: ['tok-b'] }, plain: 1 })],
      secrets: ['db.password', 'tokens'],
    });
    await config.load();
    expect(config.toJSON()).toEqual({ db: { password: '[redacted]' }, tokens: '[redacted]', plain: 1 });
    expect(config.get('tokens.a').string()).toBe('tok-a');
    expect(config.get('tokens').toJSON()).toBe('[redacted]');
  });

  it('a conversion error on a secret path does not print the value', async () => {
    const config = createConfig({ sources: [memorySource({ db: { port: secret('s3cr3t-port') } })] });
    await config.load();
    const err = thrown(() => config.get('db.port').number());
    expect(err.message).toContain('"db.port"');
    expect(err.message).not.toContain('s3cr3t-port');
    expect(JSON.stringify(err.details)).not.toContain('s3cr3t-port');
  });

  it('a validation error on a secret path names the path and the reason but not the value', async () => {
    const config = createConfig({
      sources: [memorySource({ db: { password: 'short-secret-value', user: 'app' } })],
      secrets: ['db.password'],
    });
    await config.load();
    const echoing = z.object({
      password: z
        .string()
        .refine((v) => v.length > 40, { error: (issue) => `too short: ${String(issue.input)}` }),
    });
    const err = thrown(() => config.get('db').scan(echoing));
    expect(err.message).toContain('db.password');
    expect(err.message).toContain('too short');
    expect(err.message).not.toContain('short-secret-value');
    expect(JSON.stringify(err.details)).not.toContain('short-secret-value');
    const whole = thrown(() => config.scan(z.object({ db: z.object({ password: z.number() }) })));
    expect(whole.message).toContain('db.password');
    expect(whole.message).not.toContain('short-secret-value');
  });
});
