import { memoryBroker, memoryRegistry, memoryTransport } from '@micro-os/core';
import { brokerSuite, registrySuite, transportSuite } from '@micro-os/core/testing';

transportSuite('memory', { create: () => memoryTransport() });
brokerSuite('memory', { create: () => memoryBroker({ onError: () => undefined }) });
registrySuite('memory', { create: () => memoryRegistry(), ttlSlack: 300 });
