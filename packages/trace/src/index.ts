export {
  ATTR_ERROR_TYPE,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_RPC_METHOD,
  ATTR_RPC_SERVICE,
  ATTR_RPC_SYSTEM,
  microOsSystem,
} from './attributes.js';
export { metadataGetter, metadataSetter } from './carrier.js';
export { traceClient, tracePublish } from './client.js';
export { traceHandler, traceSubscriber } from './server.js';
export type { TraceOptions } from './tracer.js';
export type { TraceWrappers } from './wrappers.js';
export { traceWrappers } from './wrappers.js';
