import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscription } from './broker.js';
import { invalidArgument, MicroError } from './errors.js';
import { decodeFrame, encodeFrame } from './frame.js';
import type { Metadata } from './metadata.js';
import { checkQueue, checkTopic } from './names.js';
import { asBuffer, checkSize } from './size.js';
import { defaultMaxMessageSize } from './transport.js';

export interface RedisBrokerOptions {
  /** An ioredis client to publish and claim with; the broker leaves it open on close and subscribes on a duplicate of it. One of `client` or `url`. */
  client?: Redis | undefined;
  /** A Redis URL to connect to on first use; the broker owns those connections. @default 'redis://127.0.0.1:6379' */
  url?: string | undefined;
  /** Largest message body, in bytes. @default 4 MiB */
  maxMessageSize?: number | undefined;
  /** Prefix of every channel (`<prefix>topic:<topic>`) and key (claims, group members) the broker uses. @default 'micro:' */
  prefix?: string | undefined;
  /** How long a queue group's claim on a message is kept, in ms: longer than any delivery skew between members. @default 60000 */
  claimTtl?: number | undefined;
  /**
   * How long publish and subscribe wait for a connection that is still being made, and (on connections the
   * broker opens) for any command's reply, in ms. @default 5000
   */
  connectTimeout?: number | undefined;
  /**
   * Called with errors thrown by handlers, messages that cannot be decoded or claimed, and connection failures
   * (once per outage). @default console.error
   */
  onError?: ((error: unknown, message: BrokerMessage | undefined) => void) | undefined;
}

interface Header {
  ct?: unknown;
  md?: unknown;
  id?: unknown;
  n?: unknown;
}

/** This process's members of one queue group on one topic. */
interface Group {
  members: BrokerHandler[];
  next: number;
  /** The sorted set of the group's members across processes, refreshed by every member's heartbeat. */
  key: string;
  /** Settles once this broker is listed in the group. */
  joined: Promise<void>;
}

/**
 * Joins a queue group, or renews the membership: scores are expiry times on the Redis clock, so members on
 * machines whose clocks disagree still agree on who is alive.
 */
const joinScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1`;

/**
 * Claims a message for this member of a queue group. Among the live members (sorted by id) the message's
 * number picks one; only that member may claim, so the group shares the load evenly. A member that is not
 * (yet, or any more) listed claims on a first-come basis. The SET NX makes the claim exactly-once either way.
 */
const claimScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local members = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
local count = #members
if count > 0 then
  local listed = false
  for i = 1, count do
    if members[i] == ARGV[1] then listed = true break end
  end
  if listed then
    table.sort(members)
    if members[(tonumber(ARGV[2]) % count) + 1] ~= ARGV[1] then return 0 end
  end
end
if redis.call('SET', KEYS[2], '1', 'PX', ARGV[3], 'NX') then return 1 end
return 0`;

const sha1 = (text: string): string => createHash('sha1').update(text).digest('hex');
const joinSha = sha1(joinScript);
const claimSha = sha1(claimScript);

/** How long a member stays listed without a heartbeat, and how often members renew, in ms. */
const memberTtl = 3000;
const heartbeatInterval = 1000;

/** What this broker has on one channel: plain handlers and queue groups, and the SUBSCRIBE that backs them. */
interface Channel {
  topic: string;
  plain: Set<BrokerHandler>;
  groups: Map<string, Group>;
  subscribed: Promise<void>;
}

/**
 * Publish/subscribe on Redis pub/sub, at most once. Plain subscribers get every message.
 *
 * Redis has no queue groups. Each process with members of a group lists itself in a sorted set
 * (`<prefix>members:{<topic>}:<queue>`, renewed every second, expiring after 3 s), and every message carries a
 * unique id and a number. Each such process receives the broadcast and runs one script that picks, from the
 * live members, the one whose turn the number names; only that one may `SET <prefix>claim:{<topic>}:<queue>:<id>
 * NX PX <claimTtl>`, and it hands the message to one of its local members (round robin). So each message
 * reaches exactly one member of the group, and the members share the load evenly. A process whose listing is
 * missing (just joined, or Redis restarted empty) claims first-come, which keeps exactly-once; a member that
 * dies without leaving loses its share of messages until its listing expires (at most 3 s). The keys of one
 * topic share a hash tag, so the scripts also run on Redis Cluster.
 *
 * Subscriptions ride on a dedicated connection that ioredis resubscribes after a reconnect (never by hand,
 * which would double deliveries). Publishing while Redis is down fails with `unavailable` instead of waiting in
 * ioredis's offline queue.
 */
export function redisBroker(options: RedisBrokerOptions = {}): Broker {
  const maxSize = options.maxMessageSize ?? defaultMaxMessageSize;
  const prefix = options.prefix ?? 'micro:';
  const claimTtl = options.claimTtl ?? 60_000;
  const connectTimeout = options.connectTimeout ?? 5000;
  if (!Number.isInteger(maxSize) || maxSize <= 0)
    throw invalidArgument(`maxMessageSize must be a positive integer, got ${maxSize}`);
  if (typeof prefix !== 'string')
    throw invalidArgument(`prefix must be a string, got ${JSON.stringify(prefix)}`);
  if (!Number.isInteger(claimTtl) || claimTtl <= 0)
    throw invalidArgument(`claimTtl must be a positive integer of ms, got ${claimTtl}`);
  if (!(connectTimeout > 0)) throw invalidArgument(`connectTimeout must be > 0 ms, got ${connectTimeout}`);
  if (options.client !== undefined && options.url !== undefined)
    throw invalidArgument('give redisBroker either a client or a url, not both');
  const onError = options.onError ?? ((error: unknown) => console.error('micro-os redis broker:', error));
  const ownPublisher = options.client === undefined;
  const publisher =
    options.client ??
    watch(
      new Redis(options.url ?? 'redis://127.0.0.1:6379', {
        lazyConnect: true,
        // Commands caught by a dropped connection fail after one reconnect attempt instead of twenty, and a
        // connection that stopped answering (no reset, no close) fails them after the timeout.
        maxRetriesPerRequest: 1,
        commandTimeout: connectTimeout,
      }),
      'publisher',
    );
  let subscriber: Redis | undefined;
  const channels = new Map<string, Channel>();
  /** This broker's id: the prefix of its message ids and its name in queue groups. */
  const source = randomBytes(8).toString('hex');
  let sequence = randomBytes(4).readUInt32BE(0);
  let heartbeat: NodeJS.Timeout | undefined;
  let closed = false;

  /** Reports a connection's failure once per outage; without a listener ioredis would crash the process. */
  function watch(connection: Redis, role: string): Redis {
    let reported = false;
    connection.on('error', (error: Error) => {
      if (reported || closed) return;
      reported = true;
      onError(
        new MicroError('unavailable', `redis broker ${role} connection failed: ${error.message}`, {
          cause: error,
        }),
        undefined,
      );
    });
    connection.on('ready', () => {
      reported = false;
    });
    return connection;
  }

  const subscriberConnection = (): Redis => {
    if (subscriber === undefined) {
      subscriber = watch(
        // No ready check: its INFO fails on a connection that has a SUBSCRIBE out.
        publisher.duplicate({
          lazyConnect: true,
          maxRetriesPerRequest: 1,
          commandTimeout: connectTimeout,
          enableReadyCheck: false,
        }),
        'subscriber',
      );
      subscriber.on('messageBuffer', onMessage);
    }
    return subscriber;
  };

  const call = (handler: BrokerHandler, message: BrokerMessage): void => {
    try {
      const result = handler(message);
      if (result !== undefined) result.catch((error: unknown) => onError(error, message));
    } catch (error) {
      onError(error, message);
    }
  };

  /** Runs a script by its digest, loading it on the first NOSCRIPT. */
  const script = async (
    text: string,
    sha: string,
    keys: string[],
    args: (string | number)[],
  ): Promise<unknown> => {
    try {
      return await publisher.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return await publisher.eval(text, keys.length, ...keys, ...args);
    }
  };

  const claim = async (
    topic: string,
    queue: string,
    group: Group,
    id: string,
    turn: number,
  ): Promise<boolean> => {
    const key = `${prefix}claim:{${topic}}:${queue}:${id}`;
    return (await script(claimScript, claimSha, [group.key, key], [source, turn, claimTtl])) === 1;
  };

  const join = (group: Group): Promise<unknown> =>
    script(joinScript, joinSha, [group.key], [source, memberTtl]);

  /** Renews this broker's listing in every group it has members in, while it can receive their messages. */
  const renew = (): void => {
    if (subscriber?.status !== 'ready' || publisher.status !== 'ready') return;
    for (const channel of channels.values()) {
      for (const [queue, group] of channel.groups) {
        join(group).catch((cause: unknown) =>
          onError(
            unavailable(cause, `renewing membership of queue group ${queue} on ${channel.topic}`),
            undefined,
          ),
        );
      }
    }
  };

  function onMessage(rawChannel: Buffer, raw: Buffer): void {
    const channel = channels.get(rawChannel.toString());
    if (channel === undefined || closed) return;
    let message: BrokerMessage;
    let id: string | undefined;
    let turn = 0;
    try {
      if (raw.byteLength > maxSize + 64 * 1024) {
        throw new MicroError('resource_exhausted', `message of ${raw.byteLength} bytes is over the limit`);
      }
      const { header, body } = decodeFrame(raw);
      const h = (typeof header === 'object' && header !== null ? header : {}) as Header;
      if (typeof h.ct !== 'string') throw invalidArgument('message frame has no content type');
      id = typeof h.id === 'string' ? h.id : undefined;
      turn = typeof h.n === 'number' && Number.isSafeInteger(h.n) ? h.n : 0;
      message = { topic: channel.topic, contentType: h.ct, metadata: toMetadata(h.md), body };
    } catch (cause) {
      onError(
        new MicroError('invalid_argument', `undecodable message on ${channel.topic}`, { cause }),
        undefined,
      );
      return;
    }
    for (const handler of channel.plain) call(handler, message);
    if (channel.groups.size === 0) return;
    if (id === undefined) {
      onError(
        invalidArgument(`message on ${channel.topic} has no id, so no queue group can claim it`),
        message,
      );
      return;
    }
    for (const [queue, group] of channel.groups) {
      claim(channel.topic, queue, group, id, turn).then(
        (won) => {
          if (!won || group.members.length === 0) return;
          const member = group.members[group.next++ % group.members.length] as BrokerHandler;
          call(member, message);
        },
        (cause: unknown) =>
          onError(
            new MicroError(
              'unavailable',
              `queue group ${queue} could not claim a message on ${channel.topic}`,
              {
                cause,
              },
            ),
            message,
          ),
      );
    }
  }

  const send = (topic: string, message: Omit<BrokerMessage, 'topic'>): Promise<void> => {
    sequence = (sequence + 1) % Number.MAX_SAFE_INTEGER;
    const frame = encodeFrame(
      {
        ct: message.contentType,
        md: message.metadata,
        id: `${source}.${sequence.toString(36)}`,
        n: sequence,
      },
      message.body,
    );
    return publisher.publish(`${prefix}topic:${topic}`, asBuffer(frame)).then(
      () => undefined,
      (cause: unknown) => {
        throw unavailable(cause, `publish to ${topic}`);
      },
    );
  };

  /** Connections being waited for, so that concurrent callers share one wait. */
  const connecting = new Map<Redis, Promise<void>>();

  /** Resolves once `connection` is ready; fails fast with `unavailable` while it is known to be down. */
  const ready = async (connection: Redis, what: string): Promise<void> => {
    if (closed) throw new MicroError('unavailable', 'redis broker is closed');
    const status = connection.status;
    if (status === 'ready') return;
    if (status === 'reconnecting' || status === 'close' || status === 'end') {
      throw new MicroError('unavailable', `redis is not connected (${status}); ${what} failed`);
    }
    let pending = connecting.get(connection);
    if (pending === undefined) {
      pending = untilReady(connection, connectTimeout).finally(() => connecting.delete(connection));
      connecting.set(connection, pending);
    }
    try {
      await pending;
    } catch (cause) {
      throw unavailable(cause, what);
    }
  };

  const unavailable = (cause: unknown, what: string): MicroError =>
    new MicroError(
      'unavailable',
      `${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
      },
    );

  const leave = (group: Group, queue: string): void => {
    publisher
      .zrem(group.key, source)
      .catch((cause: unknown) => onError(unavailable(cause, `leaving queue group ${queue}`), undefined));
  };

  const release = (name: string, channel: Channel): void => {
    if (channel.plain.size > 0 || channel.groups.size > 0 || channels.get(name) !== channel) return;
    channels.delete(name);
    subscriber
      ?.unsubscribe(name)
      .catch((cause: unknown) => onError(unavailable(cause, `unsubscribe from ${name}`), undefined));
  };

  return {
    name: 'redis',

    publish(topic, message) {
      try {
        checkTopic(topic);
        checkSize(message.body, maxSize, 'message');
      } catch (error) {
        return Promise.reject(error);
      }
      // The common case, connected, goes straight to the socket without waiting a turn.
      if (publisher.status === 'ready' && !closed) return send(topic, message);
      return ready(publisher, `publish to ${topic}`).then(() => send(topic, message));
    },

    async subscribe(topic, handler, subscribeOptions: SubscribeOptions = {}): Promise<Subscription> {
      checkTopic(topic);
      const queue = subscribeOptions.queue === undefined ? undefined : checkQueue(subscribeOptions.queue);
      if (typeof handler !== 'function') throw invalidArgument(`handler for ${topic} must be a function`);
      if (closed) throw new MicroError('unavailable', 'redis broker is closed');
      const connection = subscriberConnection();
      const what = `subscribe to ${topic}`;
      await ready(connection, what);
      const name = `${prefix}topic:${topic}`;
      let channel = channels.get(name);
      if (channel === undefined) {
        const created: Channel = {
          topic,
          plain: new Set(),
          groups: new Map(),
          subscribed: connection.subscribe(name).then(
            () => undefined,
            (cause: unknown) => {
              if (channels.get(name) === created) channels.delete(name);
              throw unavailable(cause, what);
            },
          ),
        };
        created.subscribed.catch(() => undefined);
        channel = created;
        channels.set(name, channel);
      }
      const member = channel;
      // Each subscription gets its own function so that the same handler can be subscribed twice.
      const entry: BrokerHandler = (message) => handler(message);
      let group: Group | undefined;
      if (queue === undefined) member.plain.add(entry);
      else {
        group = member.groups.get(queue);
        if (group === undefined) {
          const created: Group = {
            members: [],
            next: 0,
            key: `${prefix}members:{${topic}}:${queue}`,
            joined: Promise.resolve(),
          };
          created.joined = join(created).then(
            () => undefined,
            (cause: unknown) => {
              throw unavailable(cause, `${what} in queue group ${queue}`);
            },
          );
          // Every subscribe awaits this, but one that failed earlier (on SUBSCRIBE) returns before it does.
          created.joined.catch(() => undefined);
          member.groups.set(queue, created);
          group = created;
          heartbeat ??= setInterval(renew, heartbeatInterval).unref();
        }
        group.members.push(entry);
      }
      let active = true;
      const remove = (): void => {
        if (!active) return;
        active = false;
        if (queue === undefined) member.plain.delete(entry);
        else if (group !== undefined) {
          group.members = group.members.filter((m) => m !== entry);
          if (group.members.length === 0 && member.groups.get(queue) === group) {
            member.groups.delete(queue);
            leave(group, queue);
          }
        }
        release(name, member);
      };
      try {
        await member.subscribed;
        await group?.joined;
      } catch (error) {
        remove();
        throw error;
      }
      return {
        topic,
        queue,
        async unsubscribe() {
          remove();
        },
      };
    },

    async close() {
      if (closed) return;
      closed = true;
      if (heartbeat !== undefined) clearInterval(heartbeat);
      // Leave every queue group at once, so that the other members take over our share now, not in 3 s.
      if (publisher.status === 'ready') {
        for (const channel of channels.values()) {
          for (const [queue, group] of channel.groups) leave(group, queue);
        }
      }
      channels.clear();
      const connections = [subscriber, ownPublisher ? publisher : undefined].filter((c) => c !== undefined);
      await Promise.all(connections.map(shutdown));
    },

    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}

/** Waits for a connection that is being made: its `ready`, or its first error, end or the timeout. */
function untilReady(connection: Redis, timeout: number): Promise<void> {
  // A failed connect() also reaches the 'error' listeners, which report it; this promise need not.
  if (connection.status === 'wait') connection.connect().catch(() => undefined);
  return new Promise<void>((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      connection.off('ready', onReady);
      connection.off('error', done);
      connection.off('end', onEnd);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onReady = (): void => done();
    const onEnd = (): void => done(new MicroError('unavailable', 'redis connection ended'));
    const timer = setTimeout(
      () => done(new MicroError('unavailable', `redis did not connect within ${timeout} ms`)),
      timeout,
    );
    timer.unref();
    connection.on('ready', onReady);
    connection.on('error', done);
    connection.on('end', onEnd);
  });
}

/** Closes a connection politely when it is up, at once when it is not (QUIT would wait for a reconnect). */
async function shutdown(connection: Redis): Promise<void> {
  if (connection.status !== 'ready') {
    connection.disconnect();
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    connection.quit().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, 1000);
    }),
  ]);
  clearTimeout(timer);
  // QUIT may have timed out: its status changed under the await, which TypeScript cannot see.
  if ((connection.status as string) !== 'end') connection.disconnect();
}

function toMetadata(value: unknown): Metadata {
  if (typeof value !== 'object' || value === null) return {};
  const out: Metadata = {};
  for (const [key, v] of Object.entries(value)) if (typeof v === 'string') out[key] = v;
  return out;
}
