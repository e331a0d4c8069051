--[[
  Write-behind: queues dead letters again (oldest first) and removes them from the dead letters.
  A dead write of a key that has a newer write queued is dropped instead: the newer one wins.
  KEYS[1] write-behind stream
  KEYS[2] newest stream id per key (hash)
  KEYS[3] dead letters stream
  ARGV[1] most dead letters to take
  Reply: {requeued, dropped}
]]
local letters = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', ARGV[1])
local requeued, dropped = 0, 0
for _, letter in ipairs(letters) do
  local fields = {}
  local list = letter[2]
  for i = 1, #list, 2 do
    fields[list[i]] = list[i + 1]
  end
  local key = fields['k']
  if key and not redis.call('HGET', KEYS[2], key) then
    local id = redis.call('XADD', KEYS[1], '*', 'k', key, 'o', fields['o'] or 'set', 'v', fields['v'] or '')
    redis.call('HSET', KEYS[2], key, id)
    requeued = requeued + 1
  else
    dropped = dropped + 1
  end
  redis.call('XDEL', KEYS[3], letter[1])
end
return {requeued, dropped}
