import { memoryLocks } from '@micro-os/sync';
import { electionSuite, locksSuite } from '@micro-os/sync/testing';

// Every create() of a suite returns the same instance: separate clients of one in-process lock table.
const forLocks = memoryLocks();
const forElection = memoryLocks();
locksSuite('memory', { create: () => forLocks });
electionSuite('memory', { create: () => forElection });
