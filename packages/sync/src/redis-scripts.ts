/**
 * The Lua scripts behind the Redis backend. KEYS[1] is the lease (a hash: v = holder value, t = token,
 * m = metadata), KEYS[2] the name's token counter; both share the `{name}` hash tag, so they live on one Cluster
 * slot. Every script answers a positive number for success, 0 when the lease is gone, -1 when another holder
 * has it.
 */

/**
 * Takes a free lease and hands out the next token. The counter counts up from the server's clock in microseconds:
 * when it is missing (a new name, or a Redis that restarted without persistence) it starts over from the clock,
 * which is past every token handed out before (a name cannot be taken more than once a microsecond).
 */
export const acquireScript = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local token = redis.call('INCR', KEYS[2])
local text
if token == 1 then
  local now = redis.call('TIME')
  text = now[1] .. string.format('%06d', tonumber(now[2]))
  redis.call('SET', KEYS[2], text)
  token = tonumber(text)
else
  text = string.format('%.0f', token)
end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 't', text)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return token
`;

export const extendScript = `
local holder = redis.call('HGET', KEYS[1], 'v')
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then return -1 end
return 0
`;

export const releaseScript = `
local holder = redis.call('HGET', KEYS[1], 'v')
if holder == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
if holder then return -1 end
return 0
`;

/**
 * After a quorum acquisition: raises the counter to at least the token handed out (ARGV[2]), so that every
 * node knows it, and records token and metadata (ARGV[3]) on the lease if it is still this holder's (ARGV[1]).
 * Marks the lease settled (s = 1): its t is then the holder's token. KEYS as for acquire.
 */
export const settleScript = `
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if last < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  redis.call('HSET', KEYS[1], 't', ARGV[2], 'm', ARGV[3], 's', '1')
end
return 1
`;
