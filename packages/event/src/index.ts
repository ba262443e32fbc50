export { brokerEvents } from './broker-events.js';
export type {
  CommonEventsOptions,
  DeadLetter,
  Delivery,
  EventHandler,
  EventSubscribeOptions,
  EventSubscription,
  Events,
  PublishAck,
  ReplayOptions,
} from './events.js';
export { memoryEvents } from './memory.js';
export type { CloudEvent, EventRecord, NewEvent } from './record.js';
export { toCloudEvent } from './record.js';
