--[[ Pauses or resumes a queue. Paused: workers lease nothing (jobs in flight finish); adds still work.
  KEYS[1] meta: meta hash
  KEYS[2] ready: ready list
  KEYS[3] prioritized: prioritized zset
  KEYS[4] delayed: delayed zset
  KEYS[5] wake: wake list
  ARGV[1] 1 pause, 0 resume
  Reply: 1 when the state changed, 0 when it already was so
]]
--- @include "check-types"
local refused = check_types({ KEYS[1], 'hash', KEYS[2], 'list', KEYS[3], 'zset', KEYS[4], 'zset', KEYS[5], 'list' })
if refused then return refused end
if ARGV[1] == '1' then
  return redis.call('HSET', KEYS[1], 'paused', '1') == 1 and 1 or 0
end
local changed = redis.call('HDEL', KEYS[1], 'paused')
-- Idle workers were told "paused, nothing due": wake them for ready jobs and for delayed ones
-- (which may have fallen due during the pause, or need a timer armed).
if changed == 1 and (redis.call('LLEN', KEYS[2]) > 0 or redis.call('ZCARD', KEYS[3]) > 0 or redis.call('ZCARD', KEYS[4]) > 0) then
  redis.call('RPUSH', KEYS[5], '1')
end
return changed
