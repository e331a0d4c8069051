--[[ Replaces a job's data (any state; a running delivery keeps the data it started with).
  KEYS[1] jobKey: job hash
  ARGV[1] encoded data
  Reply: 1 updated, 0 no such job
]]
--- @include "check-types"
local refused = check_types({ KEYS[1], 'hash' })
if refused then return refused end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'd', ARGV[1])
return 1
