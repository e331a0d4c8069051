-- An expiry event with a kept value: the event entry says a value is kept (v = ''), the value goes
-- to a stream of its own under the same id, so it can be dropped as soon as every group has
-- acknowledged the event while the small event entry stays for the replay window. Self-contained include.
local function keep_event_value(stream, values, key, deadline, value)
  local id = redis.call('XADD', stream, '*', 'k', key, 'd', deadline, 'v', '')
  -- Fails only when the values stream outlived its event stream (the stream alone was deleted or
  -- evicted) and holds a later id: the event is still delivered, without its value.
  redis.pcall('XADD', values, id, 'v', value)
  return id
end
