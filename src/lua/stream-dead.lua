--[[
  Moves a stream entry that failed every attempt to the dead letters and acknowledges it, in one step.
  KEYS[1] event stream
  KEYS[2] dead-letter stream
  ARGV[1] group
  ARGV[2] stream id of the event
  ARGV[3] largest number of dead letters kept
  ARGV[4..n] field/value pairs describing the failure
  Reply: 1 when acknowledged, 0 when it was no longer pending for the group
]]
local fields = {}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(fields))
return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
