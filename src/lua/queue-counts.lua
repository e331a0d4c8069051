--[[ Counts the jobs of a queue in each state, as one consistent snapshot.
  KEYS[1] ready: ready list
  KEYS[2] prioritized: prioritized zset
  KEYS[3] delayed: delayed zset
  KEYS[4] active: active zset
  KEYS[5] completed: completed zset
  KEYS[6] dead: dead zset
  KEYS[7] meta: meta hash
  Reply: { waiting (ready + prioritized), delayed, active, completed, dead, paused (1/0), prioritized }
]]
local prioritized = redis.call('ZCARD', KEYS[2])
return {
  redis.call('LLEN', KEYS[1]) + prioritized,
  redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[4]),
  redis.call('ZCARD', KEYS[5]),
  redis.call('ZCARD', KEYS[6]),
  redis.call('HGET', KEYS[7], 'paused') == '1' and 1 or 0,
  prioritized,
}
