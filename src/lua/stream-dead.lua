--[[
  Copies an item that failed every attempt to the dead letters. An entry of one item is
  acknowledged in the same step; an item of a several-item entry is marked dead instead, and its
  entry acknowledged once its other items are settled (a consumer that takes the entry over skips it).
  KEYS[1] event stream
  KEYS[2] dead-letter stream
  KEYS[3] failed handler calls (hash: item field -> count, or 'dead')
  ARGV[1] group
  ARGV[2] stream id of the entry
  ARGV[3] largest number of dead letters kept
  ARGV[4] the item's field in KEYS[3]
  ARGV[5] '1' to acknowledge the entry now (its only item), '0' to mark the item dead
  ARGV[6..n] field/value pairs describing the failure
  Reply: 1 when acknowledged or marked, 0 when the entry was no longer pending for the group
]]
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
if ARGV[5] == '1' then
  redis.call('HDEL', KEYS[3], ARGV[4])
  return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
end
redis.call('HSET', KEYS[3], ARGV[4], 'dead')
return 1
