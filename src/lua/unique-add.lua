--[[
  Unique counts: adds members to one bucket's HyperLogLog and sets the bucket to expire
  `retention` after it ends.
  KEYS[1] hll: the bucket's HyperLogLog
  ARGV[1] expire at, epoch ms
  ARGV[2] first member; more follow
  Reply: 1 when the estimate changed, else 0
]]
local changed = redis.call('PFADD', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return changed
