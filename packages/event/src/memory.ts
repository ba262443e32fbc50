import { randomUUID } from 'node:crypto';
import { MicroError } from '@micro-os/core';
import {
  type CommonEventsOptions,
  type DeadLetter,
  type EventHandler,
  type EventSubscribeOptions,
  type EventSubscription,
  type Events,
  errorMessage,
  type ResolvedSubscribe,
  resolveCommon,
  resolveSubscribe,
  runHandler,
} from './events.js';
import { checkTypes, type EventRecord, type NewEvent, normalize } from './record.js';

interface Stored {
  seq: number;
  stored: number;
  record: EventRecord;
}

interface Member {
  handler: EventHandler<unknown>;
  options: ResolvedSubscribe;
  inFlight: number;
  closed: boolean;
}

interface Group {
  name: string;
  types: Set<string>;
  members: Member[];
  next: number;
  ready: Stored[];
  attempts: Map<number, number>;
  private: boolean;
}

/** Events in one process: the log, groups and dead letters live in memory. For tests and single-process apps. */
export function memoryEvents(options: CommonEventsOptions = {}): Events {
  const common = resolveCommon(options);
  const log: Stored[] = [];
  const seen = new Map<string, number>();
  const groups = new Map<string, Group>();
  const dead: DeadLetter[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;
  let closed = false;

  const checkOpen = (): void => {
    if (closed) throw new MicroError('failed_precondition', 'memory events is closed');
  };

  const pump = (group: Group): void => {
    while (group.ready.length > 0) {
      const live = group.members.filter((m) => !m.closed && m.inFlight < m.options.concurrency);
      if (live.length === 0) return;
      const member = live[group.next++ % live.length] as Member;
      deliver(group, member, group.ready.shift() as Stored);
    }
  };

  const deliver = (group: Group, member: Member, stored: Stored): void => {
    const attempt = (group.attempts.get(stored.seq) ?? 0) + 1;
    group.attempts.set(stored.seq, attempt);
    member.inFlight += 1;
    const { options: o } = member;
    runHandler(
      member.handler,
      structuredClone(stored.record),
      { attempt, group: group.name },
      o.ackWait,
    ).then(
      () => {
        group.attempts.delete(stored.seq);
        member.inFlight -= 1;
        pump(group);
      },
      (err: unknown) => {
        member.inFlight -= 1;
        if (o.delivery === 'at-most-once') group.attempts.delete(stored.seq);
        else if (attempt >= o.maxAttempts) {
          group.attempts.delete(stored.seq);
          dead.push({
            record: stored.record,
            group: group.name,
            attempts: attempt,
            error: errorMessage(err),
            time: new Date().toISOString(),
          });
        } else {
          const timer = setTimeout(() => {
            timers.delete(timer);
            group.ready.push(stored);
            pump(group);
          }, o.backoff(attempt));
          timer.unref();
          timers.add(timer);
        }
        pump(group);
      },
    );
  };

  return {
    name: 'memory',
    async publish<T>(event: NewEvent<T>) {
      checkOpen();
      const { record } = normalize(event, common);
      const now = Date.now();
      for (const [id, expires] of seen) {
        if (expires > now) break;
        seen.delete(id);
      }
      if ((seen.get(record.id) ?? 0) > now) return { id: record.id, duplicate: true };
      seen.delete(record.id);
      seen.set(record.id, now + common.dedupeWindow);
      const stored: Stored = { seq: ++seq, stored: now, record };
      log.push(stored);
      for (const group of groups.values()) {
        if (group.types.has(record.type)) {
          group.ready.push(stored);
          pump(group);
        }
      }
      return { id: record.id, duplicate: false };
    },
    async subscribe<T>(
      types: string | readonly string[],
      handler: EventHandler<T>,
      options: EventSubscribeOptions = {},
    ): Promise<EventSubscription> {
      checkOpen();
      const resolved = resolveSubscribe(types, options);
      const name = resolved.group ?? `private-${randomUUID()}`;
      let group = groups.get(name);
      if (group === undefined) {
        const from = resolved.from;
        const start = from === 'new' ? Number.POSITIVE_INFINITY : from === 'start' ? 0 : from.getTime();
        group = {
          name,
          types: new Set(resolved.types),
          members: [],
          next: 0,
          ready: log.filter((s) => s.stored >= start && resolved.types.includes(s.record.type)),
          attempts: new Map(),
          private: resolved.group === undefined,
        };
        groups.set(name, group);
      }
      const member: Member = {
        handler: handler as EventHandler<unknown>,
        options: resolved,
        inFlight: 0,
        closed: false,
      };
      group.members.push(member);
      const owner = group;
      pump(owner);
      const subscription: EventSubscription = {
        group: name,
        async close() {
          member.closed = true;
          owner.members = owner.members.filter((m) => m !== member);
          if (owner.private) groups.delete(owner.name);
        },
        async [Symbol.asyncDispose]() {
          await this.close();
        },
      };
      return subscription;
    },
    async *replay(types: string | readonly string[], opts = {}) {
      const list = new Set(checkTypes(types));
      const from = opts.from?.getTime() ?? 0;
      const to = opts.to?.getTime() ?? Number.POSITIVE_INFINITY;
      const snapshot = log.slice();
      for (const s of snapshot) {
        if (opts.signal?.aborted) return;
        if (s.stored >= from && s.stored < to && list.has(s.record.type)) yield structuredClone(s.record);
      }
    },
    async *deadLetters(opts = {}) {
      for (const letter of dead.slice()) {
        if (opts.signal?.aborted) return;
        if (opts.group === undefined || opts.group === letter.group) yield structuredClone(letter);
      }
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      for (const group of groups.values()) for (const m of group.members) m.closed = true;
    },
    async [Symbol.asyncDispose]() {
      await this.close();
    },
  };
}
