--[[ Renews the leases a worker holds, so jobs that run longer than the visibility timeout are not redelivered.
  KEYS[1] active: active zset (member '<token>:<job id>', score lease deadline)
  ARGV[1] lease length, ms (the new deadline is server time + this)
  ARGV[2..] active members to renew
  Reply: array with, per member, 1 renewed or 0 the lease is gone (expired and recovered, or released)
]]
--- @include "server-time"
local deadline = server_time_ms() + tonumber(ARGV[1])
local members = {}
for i = 2, #ARGV do members[#members + 1] = ARGV[i] end
local scores = redis.call('ZMSCORE', KEYS[1], unpack(members))
local renew = {}
local replies = {}
for i, member in ipairs(members) do
  if scores[i] then
    renew[#renew + 1] = deadline
    renew[#renew + 1] = member
    replies[i] = 1
  else
    replies[i] = 0
  end
end
if #renew > 0 then redis.call('ZADD', KEYS[1], 'XX', unpack(renew)) end
return replies
