import type { Attributes } from '@opentelemetry/api';

/**
 * Attribute names from OpenTelemetry's RPC and messaging semantic conventions, spelled out here so the
 * wrappers depend on @opentelemetry/api alone (the semconv package advises copying incubating names).
 */
export const ATTR_RPC_SYSTEM = 'rpc.system';
export const ATTR_RPC_SERVICE = 'rpc.service';
export const ATTR_RPC_METHOD = 'rpc.method';
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
/** The MicroError code of a failed call or message (`not_found`, `unavailable`...). */
export const ATTR_ERROR_TYPE = 'error.type';

/** The value of `rpc.system` and `messaging.system` on every span micro-os starts. */
export const microOsSystem = 'micro-os';

/** A span's name and attributes for one call target, made once: the SDK copies attributes, never changes them. */
export interface RpcNaming {
  readonly name: string;
  readonly attributes: Attributes;
}

const rpcNamings = new Map<string, Map<string, RpcNaming>>();
let rpcNamingCount = 0;
/** Past this many targets (endpoint names taken from user input?), namings are made per call, not kept. */
const maxRpcNamings = 10_000;

/** `service/endpoint` and the RPC attributes of a call to it, cached by service and endpoint. */
export function rpcNaming(service: string, endpoint: string): RpcNaming {
  let byEndpoint = rpcNamings.get(service);
  const cached = byEndpoint?.get(endpoint);
  if (cached !== undefined) return cached;
  const naming: RpcNaming = {
    name: `${service}/${endpoint}`,
    attributes: Object.freeze({
      [ATTR_RPC_SYSTEM]: microOsSystem,
      [ATTR_RPC_SERVICE]: service,
      [ATTR_RPC_METHOD]: endpoint,
    }),
  };
  if (rpcNamingCount < maxRpcNamings) {
    if (byEndpoint === undefined) {
      byEndpoint = new Map();
      rpcNamings.set(service, byEndpoint);
    }
    byEndpoint.set(endpoint, naming);
    rpcNamingCount++;
  }
  return naming;
}

export function messagingAttributes(topic: string, operation: 'publish' | 'process'): Attributes {
  return {
    [ATTR_MESSAGING_SYSTEM]: microOsSystem,
    [ATTR_MESSAGING_DESTINATION_NAME]: topic,
    [ATTR_MESSAGING_OPERATION_NAME]: operation,
    [ATTR_MESSAGING_OPERATION_TYPE]: operation === 'publish' ? 'send' : 'process',
  };
}
