--[[ Gives leased jobs back without counting an attempt (a worker closing before its handlers finished).
  KEYS[1] active zset
  KEYS[2] ready list
  KEYS[3] prioritized zset
  KEYS[4] priority sequence counter
  KEYS[5] wake list
  KEYS[6] job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1..] active members ('<token>:<job id>') to release
  Reply: number of jobs released (a lease already gone is skipped)
]]
local front = {}
local released = 0
for i = #ARGV, 1, -1 do
  local member = ARGV[i]
  if redis.call('ZREM', KEYS[1], member) == 1 then
    released = released + 1
    local id = string.sub(member, string.find(member, ':', 1, true) + 1)
    local priority = tonumber(redis.call('HGET', KEYS[6] .. id, 'p') or '0')
    if priority > 0 then
      local seq = redis.call('INCR', KEYS[4])
      redis.call('ZADD', KEYS[3], priority * 4294967296 + seq, id)
    else
      front[#front + 1] = id
    end
  end
end
if #front > 0 then redis.call('LPUSH', KEYS[2], unpack(front)) end
if released > 0 then redis.call('RPUSH', KEYS[5], '1') end
return released
