--[[ Deletes finished jobs (completed or dead) that finished before a cutoff: retention.
  KEYS[1] finished: finished zset (completed or dead; score finish time)
  KEYS[2] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1] cutoff: jobs finished at or before this time (ms) are deleted
  ARGV[2] at most this many jobs per call
  Reply: number of jobs deleted (call again while it equals the limit)
]]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #ids == 0 then return 0 end
local keys = {}
for i, id in ipairs(ids) do keys[i] = KEYS[2] .. id end
redis.call('DEL', unpack(keys))
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, #ids - 1)
return #ids
