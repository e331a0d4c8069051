--[[
  Releases the lock if the caller still holds it, and wakes the waiters.
  KEYS[1] owner
  KEYS[2] release channel (in the lock's slot, so it can be a shard channel on Cluster)
  ARGV[1] the caller's owner token
  ARGV[2] 'sharded' to SPUBLISH, else PUBLISH
  Reply: 1 when released, 0 when the caller no longer held it
]]
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] == 'sharded' then
  redis.call('SPUBLISH', KEYS[2], 'released')
else
  redis.call('PUBLISH', KEYS[2], 'released')
end
return 1
