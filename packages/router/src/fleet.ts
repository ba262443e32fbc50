import { type Broker, checkTopic, invalidArgument, jsonCodec, type Subscription } from '@micro-os/core';
import type { RemoteView } from './node-state.js';

export interface FleetOptions {
  broker: Broker;
  /** Topic every router of the fleet publishes its stats on. @default 'micro.router.stats' */
  topic?: string;
  /** Milliseconds between publications; reports older than three intervals are dropped. @default 5000 */
  interval?: number;
}

/** One router's report on the nodes it calls: what crosses the broker. */
export interface FleetReport {
  source: string;
  nodes: {
    service: string;
    id: string;
    latency: number;
    outstanding: number;
    calls: number;
    failures: number;
  }[];
}

interface Received {
  at: number;
  report: FleetReport;
}

const isReport = (value: unknown): value is FleetReport =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as FleetReport).source === 'string' &&
  Array.isArray((value as FleetReport).nodes);

/** Publishes this router's report on a topic and merges the reports of every other router. */
export class Fleet {
  readonly #broker: Broker;
  readonly #topic: string;
  readonly #interval: number;
  readonly #source: string;
  readonly #received = new Map<string, Received>();
  readonly #timer: NodeJS.Timeout;
  readonly #subscription: Promise<Subscription | undefined>;
  #view = new Map<string, RemoteView>();

  constructor(
    options: FleetOptions,
    source: string,
    report: () => FleetReport,
    onView: (view: ReadonlyMap<string, RemoteView>) => void,
    onError: (error: unknown) => void,
  ) {
    this.#broker = options.broker;
    this.#topic = checkTopic(options.topic ?? 'micro.router.stats');
    this.#interval = options.interval ?? 5000;
    this.#source = source;
    if (!(this.#interval > 0 && Number.isFinite(this.#interval)))
      throw invalidArgument(`fleet.interval must be > 0 ms, got ${this.#interval}`, {
        interval: this.#interval,
      });
    this.#subscription = this.#broker
      .subscribe(this.#topic, (message) => {
        const body = jsonCodec.decode(message.body);
        if (!isReport(body) || body.source === this.#source) return;
        this.#received.set(body.source, { at: Date.now(), report: body });
        onView(this.#merge());
      })
      .catch((error: unknown) => {
        onError(error);
        return undefined;
      });
    this.#timer = setInterval(() => {
      this.#broker
        .publish(this.#topic, {
          contentType: jsonCodec.contentType,
          metadata: {},
          body: jsonCodec.encode(report()),
        })
        .catch(onError);
      if (this.#expire()) onView(this.#merge());
    }, this.#interval);
    this.#timer.unref();
  }

  get view(): ReadonlyMap<string, RemoteView> {
    return this.#view;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await (await this.#subscription)?.unsubscribe();
  }

  #expire(): boolean {
    const oldest = Date.now() - 3 * this.#interval;
    let dropped = false;
    for (const [source, r] of this.#received) {
      if (r.at < oldest) {
        this.#received.delete(source);
        dropped = true;
      }
    }
    return dropped;
  }

  #merge(): Map<string, RemoteView> {
    const view = new Map<string, RemoteView>();
    for (const { report } of this.#received.values()) {
      for (const n of report.nodes) {
        let v = view.get(n.id);
        if (v === undefined) {
          v = { latency: 0, samples: 0, outstanding: 0, sources: 0 };
          view.set(n.id, v);
        }
        v.sources++;
        if (Number.isFinite(n.outstanding) && n.outstanding > 0) v.outstanding += n.outstanding;
        if (Number.isFinite(n.latency) && n.latency > 0) {
          v.latency = (v.latency * v.samples + n.latency) / (v.samples + 1);
          v.samples++;
        }
      }
    }
    this.#view = view;
    return view;
  }
}
