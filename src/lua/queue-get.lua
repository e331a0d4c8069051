--[[ Reads one job and works out its state.
  KEYS[1] jobKey: job hash
  KEYS[2] ready: ready list
  KEYS[3] prioritized: prioritized zset
  KEYS[4] delayed: delayed zset
  KEYS[5] completed: completed zset
  KEYS[6] dead: dead zset
  ARGV[1] job id
  Reply: false when there is no such job, else { state, flat HGETALL fields }; state is one of
    'waiting', 'delayed', 'active', 'completed', 'dead'
]]
local fields = redis.call('HGETALL', KEYS[1])
if #fields == 0 then return false end
local id = ARGV[1]
local state
if redis.call('ZSCORE', KEYS[5], id) then
  state = 'completed'
elseif redis.call('ZSCORE', KEYS[6], id) then
  state = 'dead'
elseif redis.call('ZSCORE', KEYS[4], id) then
  state = 'delayed'
elseif redis.call('ZSCORE', KEYS[3], id) or redis.call('LPOS', KEYS[2], id) then
  state = 'waiting'
else
  state = 'active'
end
return { state, fields }
