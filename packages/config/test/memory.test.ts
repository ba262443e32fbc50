import { memorySource } from '@micro-os/config';
import { configSourceSuite } from '@micro-os/config/testing';

configSourceSuite('memory', {
  create: () => memorySource(),
  set: (source, doc) => source.set('', doc),
});
