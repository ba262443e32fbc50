/** Server time in epoch ms, as an integer string (Lua would print large numbers in %.14g). */
const now = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
`;
const fields = "redis.call('HMGET', KEYS[1], 'metadata', 'data', 'created', 'updated', 'version')";

/** KEYS: record, created, updated, ids, index sets... ARGV: id, metadata, data, index list. nil if taken. */
export const createScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
${now}
local at = string.format('%.0f', now)
redis.call('HSET', KEYS[1], 'metadata', ARGV[2], 'data', ARGV[3], 'created', at, 'updated', at, 'version', 1, 'idx', ARGV[4])
redis.call('ZADD', KEYS[2], at, ARGV[1])
redis.call('ZADD', KEYS[3], at, ARGV[1])
redis.call('ZADD', KEYS[4], 0, ARGV[1])
for i = 5, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
return ${fields}
`;

/**
 * KEYS: record, updated, old index sets..., new index sets... ARGV: id, expected version, old index count,
 * metadata or "", data or "", new index list, old index list as read. -1 missing, -2 version, -3 raced.
 */
export const updateScript = `
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return -1 end
if version ~= ARGV[2] then return -2 end
if redis.call('HGET', KEYS[1], 'idx') ~= ARGV[7] then return -3 end
${now}
local previous = tonumber(redis.call('HGET', KEYS[1], 'updated'))
if now < previous then now = previous end
local at = string.format('%.0f', now)
local old = tonumber(ARGV[3])
if ARGV[4] ~= '' then
  for i = 3, 2 + old do redis.call('SREM', KEYS[i], ARGV[1]) end
  for i = 3 + old, #KEYS do redis.call('SADD', KEYS[i], ARGV[1]) end
  redis.call('HSET', KEYS[1], 'metadata', ARGV[4], 'idx', ARGV[6])
end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'data', ARGV[5]) end
redis.call('HSET', KEYS[1], 'version', tonumber(version) + 1, 'updated', at)
redis.call('ZADD', KEYS[2], at, ARGV[1])
return ${fields}
`;

/** KEYS: record, created, updated, ids, index sets... ARGV: id, index list as read. -1 missing, -3 raced. */
export const deleteScript = `
local idx = redis.call('HGET', KEYS[1], 'idx')
if not idx then return -1 end
if idx ~= ARGV[2] then return -3 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
for i = 5, #KEYS do redis.call('SREM', KEYS[i], ARGV[1]) end
return 1
`;
