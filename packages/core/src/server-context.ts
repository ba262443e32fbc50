import type { CallContext } from './context.js';
import { MicroError } from './errors.js';
import type { Metadata } from './metadata.js';
import { atDeadline } from './timer-wheel.js';
import type { CallSignal, TransportRequest } from './transport.js';

/**
 * The CallContext a server gives its handlers. The signal is made on first use only: most handlers never
 * look at it, and linking signals costs more than the rest of an in-process call.
 */
export class ServerContext implements CallContext {
  readonly service: string;
  readonly endpoint: string;
  readonly contentType: string;
  readonly metadata: Metadata;
  readonly deadline: number | undefined;
  readonly responseMetadata: Metadata = {};
  readonly #call: CallSignal;
  readonly #killSignal: AbortSignal;
  #controller: AbortController | undefined;
  #cleanup: (() => void) | undefined;

  constructor(
    service: string,
    request: TransportRequest,
    contentType: string,
    call: CallSignal,
    killSignal: AbortSignal,
  ) {
    this.service = service;
    this.endpoint = request.endpoint;
    this.contentType = contentType;
    this.metadata = request.metadata;
    this.deadline = request.timeout === undefined ? undefined : Date.now() + request.timeout;
    this.#call = call;
    this.#killSignal = killSignal;
  }

  get signal(): AbortSignal {
    const existing = this.#controller;
    if (existing !== undefined) return existing.signal;
    const controller = new AbortController();
    this.#controller = controller;
    const abort = (reason: unknown): void => {
      if (!controller.signal.aborted) controller.abort(reason);
    };
    const transportSignal = this.#call.signal;
    for (const parent of [transportSignal, this.#killSignal]) {
      if (parent.aborted) abort(parent.reason);
    }
    if (controller.signal.aborted) return controller.signal;
    const onTransport = (): void => abort(transportSignal.reason);
    const onKill = (): void => abort(this.#killSignal.reason);
    transportSignal.addEventListener('abort', onTransport, { once: true });
    this.#killSignal.addEventListener('abort', onKill, { once: true });
    const cancelDeadline =
      this.deadline === undefined
        ? undefined
        : atDeadline(this.deadline, () =>
            abort(new MicroError('deadline_exceeded', `deadline of ${this.service}.${this.endpoint} passed`)),
          );
    this.#cleanup = () => {
      transportSignal.removeEventListener('abort', onTransport);
      this.#killSignal.removeEventListener('abort', onKill);
      cancelDeadline?.();
    };
    return controller.signal;
  }

  /** Aborts the handler's signal, if it asked for one (the server is stopping). */
  abort(reason: unknown): void {
    this.#controller?.abort(reason);
  }

  /** Drops the links to the parent signals once the call is answered. */
  release(): void {
    this.#cleanup?.();
    this.#cleanup = undefined;
  }
}
