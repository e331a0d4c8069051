--[[
  Unique counts: merges some buckets' HyperLogLogs into a temporary one (a step of a count over
  many buckets, so that no single call holds the server for long), which expires on its own if
  the counting process dies before it deletes it.
  KEYS[1] merged: the temporary HyperLogLog (created on the first step)
  KEYS[2...] buckets: the buckets merged in this step
  ARGV[1] ms the temporary key lives
  Reply: 1
]]
redis.call('PFMERGE', KEYS[1], unpack(KEYS, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
