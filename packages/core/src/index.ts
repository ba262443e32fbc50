export { abortError, deadlineSignal, raceSignal, sleep } from './abort.js';
export type { Backoff, ExponentialBackoffOptions } from './backoff.js';
export { exponentialBackoff } from './backoff.js';
export type { Broker, BrokerHandler, BrokerMessage, SubscribeOptions, Subscription } from './broker.js';
export { Channel } from './channel.js';
export type {
  Call,
  CallOptions,
  CallRequest,
  CallResponse,
  Client,
  ClientOptions,
  ClientWrapper,
  Publish,
  PublishMessage,
  PublishOptions,
  PublishWrapper,
} from './client.js';
export { createClient } from './client.js';
export type { Codec } from './codec.js';
export { Codecs, jsonCodec } from './codec.js';
export type { CallContext } from './context.js';
export { currentContext, remaining, runWithContext } from './context.js';
export type { ErrorCode, ErrorDetails, MicroErrorOptions, WireError } from './errors.js';
export {
  errorCodes,
  fromWireError,
  invalidArgument,
  isErrorCode,
  isMicroError,
  isRetryable,
  MicroError,
  toMicroError,
} from './errors.js';
export type { MemoryBrokerOptions } from './memory-broker.js';
export { memoryBroker } from './memory-broker.js';
export { memoryRegistry, validate as validateService } from './memory-registry.js';
export type { MemoryTransportOptions } from './memory-transport.js';
export { memoryTransport } from './memory-transport.js';
export type { Metadata } from './metadata.js';
export { mergeMetadata } from './metadata.js';
export { checkEndpointName, checkQueue, checkServiceName, checkTopic } from './names.js';
export type {
  Endpoint,
  Node,
  RegisterOptions,
  Registry,
  RegistryEvent,
  RegistryEventType,
  Service,
  WatchOptions,
} from './registry.js';
export type { CachedSelectorOptions, Filter, Next, SelectOptions, Selector, Strategy } from './selector.js';
export { cachedSelector, filterMetadata, filterVersion, random, roundRobin } from './selector.js';
export type {
  HandleOptions,
  Handler,
  HandlerWrapper,
  Message,
  Server,
  ServerOptions,
  SubscriberHandler,
  SubscriberWrapper,
} from './server.js';
export { createServer } from './server.js';
export type { MicroService, ServiceOptions } from './service.js';
export { createService, defaultRegistry } from './service.js';
export { whenSettled } from './settled.js';
export type {
  CallSignal,
  Listener,
  ListenOptions,
  RequestOptions,
  Transport,
  TransportHandler,
  TransportRequest,
  TransportResponse,
} from './transport.js';
export { defaultMaxMessageSize } from './transport.js';
