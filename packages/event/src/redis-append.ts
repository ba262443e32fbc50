import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { errorMessage } from './events.js';

// KEYS: the stream, then one dedupe key per record. ARGV: dedupe window ms, maxlen ('0' = none), then the type
// and the record JSON of each record. Per record: SET NX its dedupe key and XADD it only if the key was new; a
// failed XADD drops the key again, so a retry stores it. Answers per record 1 (stored), 0 (duplicate) or the
// XADD error.
const script = `
local out = {}
for i = 2, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'PX', ARGV[1]) then
    local added
    if ARGV[2] == '0' then
      added = redis.pcall('XADD', KEYS[1], '*', 't', ARGV[2 * i - 1], 'r', ARGV[2 * i])
    else
      added = redis.pcall('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 't', ARGV[2 * i - 1], 'r', ARGV[2 * i])
    end
    if type(added) == 'table' and added.err then
      redis.call('DEL', KEYS[i])
      out[i - 1] = added.err
    else
      out[i - 1] = 1
    end
  else
    out[i - 1] = 0
  end
end
return out
`;

const sha = createHash('sha1').update(script).digest('hex');

/**
 * A script call carries at most this many records, or about this many bytes of them. Small enough that several
 * calls are in flight at once: Redis runs one while this process answers the last and builds the next (one call
 * for all 64 publishes in flight left each side idle half the time: 36k/s; in calls of 16, 55-73k/s here).
 */
const maxBatch = 16;
const maxBatchBytes = 1024 * 1024;

interface Waiting {
  resolve: (duplicate: boolean) => void;
  reject: (err: unknown) => void;
}

/** Stores a record unless its dedupe key exists; resolves `true` for a duplicate. */
export type Append = (dedupeKey: string, type: string, body: string) => Promise<boolean>;

/**
 * Dedupe-and-append for Redis Streams: the records published in one tick go to the server in one `EVALSHA`
 * (each record atomic on its own: its dedupe key is set if and only if it was appended), so 64 publishes in
 * flight cost a few pipelined script calls instead of 64 commands. A publish made while none is in flight goes at once.
 */
export function redisAppend(options: {
  redis: () => Redis;
  streamKey: string;
  dedupeWindow: number;
  maxLength: number;
}): Append {
  const head = [String(Math.ceil(options.dedupeWindow)), String(options.maxLength)];
  let keys: string[] = [options.streamKey];
  let argv: string[] = [...head];
  let waiting: Waiting[] = [];
  let bytes = 0;
  let scheduled = false;
  /** Script calls sent and not yet answered. */
  let inFlight = 0;

  const settle = (batch: Waiting[], answers: unknown): void => {
    const list = Array.isArray(answers) ? answers : [];
    batch.forEach((w, i) => {
      const answer: unknown = list[i];
      if (answer === 1) w.resolve(false);
      else if (answer === 0) w.resolve(true);
      else w.reject(new Error(typeof answer === 'string' ? answer : 'no answer from the publish script'));
    });
  };

  const flush = (): void => {
    scheduled = false;
    if (waiting.length === 0) return;
    const batch = waiting;
    const args = keys.concat(argv);
    keys = [options.streamKey];
    argv = [...head];
    waiting = [];
    bytes = 0;
    let r: Redis;
    try {
      r = options.redis();
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    // EVALSHA, loading the script on the first NOSCRIPT (after a restart or on a new server).
    inFlight++;
    r.evalsha(sha, batch.length + 1, ...args)
      .catch((err: unknown) => {
        if (!errorMessage(err).includes('NOSCRIPT')) throw err;
        return r.eval(script, batch.length + 1, ...args);
      })
      .then(
        (answers) => {
          inFlight--;
          settle(batch, answers);
        },
        (err: unknown) => {
          inFlight--;
          for (const w of batch) w.reject(err);
        },
      );
  };

  return (dedupeKey, type, body) =>
    new Promise<boolean>((resolve, reject) => {
      keys.push(dedupeKey);
      argv.push(type, body);
      waiting.push({ resolve, reject });
      bytes += body.length;
      // Alone (nothing in flight, nothing queued): sent at once, so a publisher awaiting each publish waits no tick.
      if ((inFlight === 0 && !scheduled) || waiting.length >= maxBatch || bytes >= maxBatchBytes) flush();
      else if (!scheduled) {
        scheduled = true;
        process.nextTick(flush);
      }
    });
}
