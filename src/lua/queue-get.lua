--[[ Reads one job and works out its state: from the finished and delayed zsets (ZSCORE), and, for a
  job in none of them, from its hash (field 'w' is 1 while it is leased), never by scanning the ready list.
  KEYS[1] jobKey: job hash
  KEYS[2] delayed: delayed zset
  KEYS[3] completed: completed zset
  KEYS[4] dead: dead zset
  ARGV[1] job id
  Reply: false when there is no such job, else { state, flat HGETALL fields without the log lines
    (fields 'L<n>', see queue-log) }; state is one of 'waiting', 'delayed', 'active', 'completed', 'dead'
]]
local all = redis.call('HGETALL', KEYS[1])
if #all == 0 then return false end
local fields = {}
for i = 1, #all, 2 do
  if not string.find(all[i], '^L%d') then
    fields[#fields + 1] = all[i]
    fields[#fields + 1] = all[i + 1]
  end
end
local id = ARGV[1]
local state
if redis.call('ZSCORE', KEYS[3], id) then
  state = 'completed'
elseif redis.call('ZSCORE', KEYS[4], id) then
  state = 'dead'
elseif redis.call('ZSCORE', KEYS[2], id) then
  state = 'delayed'
else
  state = 'waiting'
  for i = 1, #fields, 2 do
    if fields[i] == 'w' then
      if fields[i + 1] == '1' then state = 'active' end
      break
    end
  end
end
return { state, fields }
