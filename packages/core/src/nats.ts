export type { NatsBrokerOptions } from './nats-broker.js';
export { natsBroker } from './nats-broker.js';
export type { NatsTransportOptions } from './nats-transport.js';
export { natsTransport } from './nats-transport.js';
