--[[ Applies an event counter's pending events in stream order, each exactly once: the new value, the
  cursor (last applied event id) and the trim of applied events commit together, so any number of
  consumers may call it concurrently.
  KEYS[1] events stream (fields: o = 'i' incr | 'd' decr | 'r' reset, n = integer)
  KEYS[2] applied value
  KEYS[3] cursor: id of the last applied event
  ARGV[1] at most this many events per call
  Reply: { events applied, value after them (string), cursor ('' if none yet), events still pending, malformed events skipped }
]]
local cursor = redis.call('GET', KEYS[3])
local events = redis.call('XRANGE', KEYS[1], cursor and ('(' .. cursor) or '-', '+', 'COUNT', tonumber(ARGV[1]))
if #events == 0 then
  return { 0, redis.call('GET', KEYS[2]) or '0', cursor or '', redis.call('XLEN', KEYS[1]), 0 }
end
local delta, base, skipped = 0, nil, 0
for _, event in ipairs(events) do
  local f = event[2]
  local op, n = nil, nil
  for i = 1, #f, 2 do
    if f[i] == 'o' then op = f[i + 1] elseif f[i] == 'n' then n = tonumber(f[i + 1]) end
  end
  if n == nil or n ~= math.floor(n) then
    skipped = skipped + 1
  elseif op == 'i' then
    delta = delta + n
  elseif op == 'd' then
    delta = delta - n
  elseif op == 'r' then
    base, delta = n, 0
  else
    skipped = skipped + 1
  end
end
local value
if base ~= nil then
  value = string.format('%d', base + delta)
  redis.call('SET', KEYS[2], value)
elseif delta ~= 0 then
  value = tostring(redis.call('INCRBY', KEYS[2], string.format('%d', delta)))
else
  value = redis.call('GET', KEYS[2]) or '0'
end
local last = events[#events][1]
redis.call('SET', KEYS[3], last)
-- Applied events are not needed any more: trim up to and including the cursor.
local dash = string.find(last, '-', 1, true)
redis.call('XTRIM', KEYS[1], 'MINID', string.sub(last, 1, dash) .. (tonumber(string.sub(last, dash + 1)) + 1))
return { #events, value, last, redis.call('XLEN', KEYS[1]), skipped }
