--[[
  Cluster: records that slots have deadlines, after their entries were written. The version bump
  tells a sweeper settling the same slot concurrently that it must not drop the slot.
  KEYS[1] slot directory (zset: member = slot number, score = earliest deadline)
  KEYS[2] slot versions (hash: slot -> counter)
  ARGV[1] wake channel (in the directory's slot), published to that shard only (SPUBLISH) when the
          earliest deadline of all slots moves earlier
  ARGV[2..n] pairs: slot, deadline
  Reply: 1 when the directory head moved earlier, else 0
]]
local before = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
  redis.call('ZADD', KEYS[1], 'LT', ARGV[i + 1], ARGV[i])
end
local after = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if after[2] and (not before[2] or tonumber(after[2]) < tonumber(before[2])) then
  redis.call('SPUBLISH', ARGV[1], after[2])
  return 1
end
return 0
