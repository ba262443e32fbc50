import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  checkServiceName,
  invalidArgument,
  isMicroError,
  MicroError,
  type Next,
  type Node,
  type SelectOptions,
  type Service,
} from '@micro-os/core';
import { AttemptNode } from './attempt.js';
import { breakerSettings } from './breaker.js';
import { ejectionSettings } from './ejection.js';
import { Fleet, type FleetReport } from './fleet.js';
import { labelFilter } from './labels.js';
import { NodeState, type RemoteView } from './node-state.js';
import { isNodeFailure, type NodeStats, type Router, type RouterOptions } from './router-types.js';
import { ServiceCache } from './service-cache.js';
import { checkSplit, SplitChooser, splitValue } from './split.js';
import { type Pick, picks, strategyNames } from './strategies.js';

interface Route {
  /** The registry answer the states were built from. */
  services: Service[];
  states: NodeState[];
  /** Calls so far, for round-robin. */
  turn: number;
  usedAt: number;
}

const now = (): number => performance.now();

/**
 * The router selector. Latency is measured without a wrapper: every node `Next` hands out is a fresh copy,
 * and core's client passes that same object back to `mark()` after the attempt, so `mark()` knows when the
 * attempt started. Outcomes of calls made another way are reported with `record()`.
 */
export function routerSelector(options: RouterOptions): Router {
  const { registry } = options;
  if (registry === undefined || typeof registry.getService !== 'function')
    throw invalidArgument('registry is required');
  const strategy = options.strategy ?? 'p2c-ewma';
  if (!strategyNames.includes(strategy))
    throw invalidArgument(`strategy must be one of ${strategyNames.join(', ')}, got ${String(strategy)}`, {
      strategy,
    });
  const pick: Pick = picks[strategy];
  const breaker = options.breaker === false ? undefined : breakerSettings(options.breaker);
  const ejection = ejectionSettings(options.ejection);
  const alpha = options.ewmaAlpha ?? 0.3;
  if (!(alpha > 0 && alpha <= 1)) throw invalidArgument(`ewmaAlpha must be > 0 and <= 1, got ${alpha}`);
  const decay = options.latencyDecay ?? 10_000;
  if (!(decay > 0)) throw invalidArgument(`latencyDecay must be > 0 ms, got ${decay}`);
  const cacheTtl = options.cacheTtl ?? 60_000;
  if (!(cacheTtl > 0)) throw invalidArgument(`cacheTtl must be > 0 ms, got ${cacheTtl}`);
  const isFailure = options.isFailure ?? isNodeFailure;
  const onError = options.onError ?? ((error: unknown) => console.error('micro-os router:', error));
  const splits = new Map<string, SplitChooser>();
  for (const [service, split] of Object.entries(options.splits ?? {}))
    splits.set(checkServiceName(service), new SplitChooser(checkSplit(service, split)));
  const staticLabels = options.labels ?? {};
  for (const [key, value] of Object.entries(staticLabels))
    if (typeof value !== 'string') throw invalidArgument(`labels.${key} must be a string, got ${value}`);
  const staticFilter = Object.keys(staticLabels).length > 0 ? labelFilter(staticLabels) : undefined;

  const id = randomUUID();
  const cache = new ServiceCache(registry, cacheTtl);
  const states = new Map<string, NodeState>();
  const routes = new Map<string, Route>();
  let closed = false;

  const stateOf = (service: string, node: Node, at: number): NodeState => {
    let state = states.get(node.id);
    if (state === undefined) {
      state = new NodeState(service, node, at, breaker, ejection);
      state.remote = fleet?.view.get(node.id);
      states.set(node.id, state);
    } else {
      state.node = node;
      state.lastSeen = at;
    }
    return state;
  };

  const outcome = (state: NodeState, duration: number | undefined, error: unknown, at: number): void => {
    state.calls++;
    const aborted = isMicroError(error, 'aborted');
    const failure = !aborted && isFailure(error);
    if (failure) state.failures++;
    if (duration !== undefined && !aborted && duration >= 0) state.sample(duration, alpha, at);
    if (aborted) return;
    state.breaker?.record(at, failure);
    if (state.ejection?.record(failure) && ejection !== undefined) {
      let total = 0;
      let out = 0;
      for (const s of states.values()) {
        if (s.service !== state.service) continue;
        total++;
        if (s.ejection?.ejected(at)) out++;
      }
      if (out === 0 || ((out + 1) / total) * 100 <= ejection.maxPercent) state.ejection.eject(at);
    }
  };

  const unavailable = (service: string, all: number, reason: string): MicroError =>
    new MicroError('unavailable', `no available node of ${service}: ${reason}`, {
      details: { service, nodes: all },
    });

  /** Sorts the nodes into candidates; throws unavailable when every node is open or ejected. */
  const candidatesOf = (service: string, services: readonly Service[], at: number): NodeState[] => {
    const chooser = splits.get(service);
    const all: NodeState[] = [];
    const groups = chooser === undefined ? undefined : new Map<string, NodeState[]>();
    for (const s of services) {
      for (const node of s.nodes) {
        const state = stateOf(service, node, at);
        if (!state.available(at)) continue;
        if (groups === undefined) {
          all.push(state);
          continue;
        }
        const value = splitValue((chooser as SplitChooser).split.by, s, node);
        const group = groups.get(value);
        if (group === undefined) groups.set(value, [state]);
        else group.push(state);
      }
    }
    if (groups !== undefined && groups.size > 0)
      return groups.get((chooser as SplitChooser).choose([...groups.keys()])) as NodeState[];
    if (all.length > 0) return all;
    throw noCandidate(service, services, at);
  };

  const noCandidate = (service: string, services: readonly Service[], at: number): MicroError => {
    let total = 0;
    let ejected = 0;
    for (const s of services)
      for (const node of s.nodes) {
        total++;
        if (states.get(node.id)?.ejection?.ejected(at)) ejected++;
      }
    return unavailable(
      service,
      total,
      total === 0
        ? 'no node matches the filters and labels'
        : `${total - ejected} of ${total} behind an open circuit breaker, ${ejected} ejected`,
    );
  };

  /** The fast path: no filters, labels or split; the node states are kept per registry answer. */
  const routeOf = (service: string, services: Service[], at: number): Route => {
    let route = routes.get(service);
    if (route === undefined || route.services !== services) {
      const nodeStates: NodeState[] = [];
      for (const s of services) for (const node of s.nodes) nodeStates.push(stateOf(service, node, at));
      route = { services, states: nodeStates, turn: route?.turn ?? 0, usedAt: at };
      routes.set(service, route);
    }
    route.usedAt = at;
    return route;
  };

  const begin = (state: NodeState, at: number): Node => {
    state.outstanding++;
    return new AttemptNode(state, at);
  };

  const nextOf = (service: string, candidates: readonly NodeState[], turn: number): Next => {
    let tried: NodeState[] | undefined;
    return () => {
      const at = now();
      let left = candidates as NodeState[];
      let copied = false;
      if (tried !== undefined) {
        const done = tried;
        left = candidates.filter((c) => !done.includes(c) && c.available(at));
        if (left.length === 0) left = candidates.filter((c) => c.available(at));
        copied = true;
      }
      while (left.length > 0) {
        const i = pick(left, turn + (tried?.length ?? 0), at, decay);
        const state = left[i] as NodeState;
        if (state.acquire(at)) {
          tried ??= [];
          tried.push(state);
          return begin(state, at);
        }
        if (!copied) {
          left = [...left];
          copied = true;
        }
        left.splice(i, 1);
      }
      throw unavailable(service, candidates.length, 'every candidate became unavailable during the call');
    };
  };

  /** Picks the candidates of one call from the registry's answer and hands out its `Next`. */
  const choose = (service: string, registered: Service[], selectOptions: SelectOptions, at: number): Next => {
    let services = registered;
    const filters = selectOptions.filters;
    let candidates: NodeState[];
    let turn: number;
    if (
      staticFilter === undefined &&
      (filters === undefined || filters.length === 0) &&
      !splits.has(service)
    ) {
      const route = routeOf(service, services, at);
      turn = route.turn++;
      candidates = route.states;
      for (let i = 0; i < candidates.length; i++) {
        if ((candidates[i] as NodeState).available(at)) continue;
        candidates = candidates.filter((c) => c.available(at));
        if (candidates.length === 0) throw noCandidate(service, services, at);
        break;
      }
    } else {
      if (staticFilter !== undefined) services = staticFilter(services);
      if (filters !== undefined) for (const f of filters) services = f(services);
      candidates = candidatesOf(service, services, at);
      turn = routeOf(service, services, at).turn++;
    }
    if (selectOptions.strategy !== undefined) {
      const ordered = selectOptions.strategy(candidates.map((c) => c.node));
      const byId = new Map(candidates.map((c) => [c.node.id, c]));
      return () => {
        const at = now();
        // The caller's strategy orders the nodes; half-open breakers still admit one probe each.
        for (let i = 0; i < candidates.length; i++) {
          const node = ordered();
          const state = byId.get(node.id);
          if (state === undefined) return node;
          if (state.acquire(at)) return begin(state, at);
        }
        throw unavailable(service, candidates.length, 'every candidate became unavailable during the call');
      };
    }
    return nextOf(service, candidates, turn);
  };

  const router: Router = {
    name: 'router',
    id,
    select(service: string, selectOptions: SelectOptions = {}): Next | Promise<Next> {
      if (closed) throw new MicroError('failed_precondition', 'the router is closed');
      const at = now();
      const cached = cache.peek(service, at);
      if (cached !== undefined) return choose(service, cached, selectOptions, at);
      checkServiceName(service);
      return cache
        .lookup(service, selectOptions.signal)
        .then((services) => choose(service, services, selectOptions, now()));
    },
    mark(service, node, error) {
      const attempt = AttemptNode.finish(node);
      const at = now();
      if (attempt !== undefined) {
        attempt.state.outstanding--;
        outcome(attempt.state, at - attempt.start, error, at);
        return;
      }
      outcome(stateOf(service, node, at), undefined, error, at);
    },
    record(request, node, duration, error) {
      checkServiceName(request.service);
      if (duration !== undefined && !(duration >= 0))
        throw invalidArgument(`duration must be >= 0 ms, got ${duration}`, { duration });
      const at = now();
      outcome(stateOf(request.service, node, at), duration, error, at);
    },
    stats() {
      const at = now();
      const nodes: NodeStats[] = [];
      for (const s of states.values()) {
        const entry: NodeStats = {
          service: s.service,
          node: s.node.id,
          address: s.node.address,
          calls: s.calls,
          failures: s.failures,
          outstanding: s.outstanding,
          latency: s.latency,
          breaker: s.breaker?.state(at) ?? 'disabled',
          fleet: {
            latency: s.fleetLatency(at, decay),
            outstanding: s.fleetOutstanding(),
            sources: s.remote?.sources ?? 0,
          },
        };
        if (s.ejection?.ejected(at)) entry.ejectedFor = s.ejection.until - at;
        nodes.push(entry);
      }
      return { source: id, nodes };
    },
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweeper);
      cache.close();
      await fleet?.close();
    },
    async [Symbol.asyncDispose]() {
      await router.close();
    },
  };

  const report = (): FleetReport => ({
    source: id,
    nodes: [...states.values()].map((s) => ({
      service: s.service,
      id: s.node.id,
      latency: s.latency,
      outstanding: s.outstanding,
      calls: s.calls,
      failures: s.failures,
    })),
  });
  const applyView = (view: ReadonlyMap<string, RemoteView>): void => {
    for (const s of states.values()) s.remote = view.get(s.node.id);
  };
  const fleet =
    options.fleet === undefined ? undefined : new Fleet(options.fleet, id, report, applyView, onError);

  // Services not called and nodes not seen for ten minutes (with nothing in flight) are forgotten.
  const sweeper = setInterval(() => {
    const at = now();
    const oldest = at - 600_000;
    for (const [service, route] of routes) {
      if (route.usedAt < oldest) routes.delete(service);
      else for (const s of route.states) s.lastSeen = at;
    }
    for (const [key, s] of states) if (s.lastSeen < oldest && s.outstanding === 0) states.delete(key);
  }, 60_000);
  sweeper.unref();

  return router;
}
