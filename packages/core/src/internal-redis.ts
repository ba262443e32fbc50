/** Redis helpers shared by the micro-os packages (needs ioredis); not meant for applications. */
export { ownedRedisConnection } from './redis-connection.js';
