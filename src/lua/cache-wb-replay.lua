--[[
  Write-behind: queues dead letters again (oldest first) and removes them from the dead letters.
  Only a key's newest dead write is queued again, and only if the key was not written since (a
  write queued, or applied and gone from the queue, is newer): the others are dropped, so a replay
  never puts an older value over a newer one. Dead letters from before KEYS[4] existed (an older
  redkit) are queued unless a write of their key is queued.
  KEYS[1] write-behind stream
  KEYS[2] newest stream id per key (hash)
  KEYS[3] dead letters stream
  KEYS[4] each key's replayable dead write (hash: key -> stream id it had in the queue)
  KEYS[5] number of each key's writes in the stream (hash)
  ARGV[1] most dead letters to take
  Reply: {requeued, dropped}
]]
local letters = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', ARGV[1])
local legacy = redis.call('EXISTS', KEYS[4]) == 0
local requeued, dropped = 0, 0
for _, letter in ipairs(letters) do
  local fields = {}
  local list = letter[2]
  for i = 1, #list, 2 do
    fields[list[i]] = list[i + 1]
  end
  local key = fields['k']
  -- The key's newest id stays while older writes of it are in the stream: still this dead one's.
  local newest = key and redis.call('HGET', KEYS[2], key)
  local replayable = key and (not newest or newest == fields['id'])
    and (legacy or redis.call('HGET', KEYS[4], key) == fields['id'])
  if replayable then
    local id = redis.call('XADD', KEYS[1], '*', 'k', key, 'o', fields['o'] or 'set', 'v', fields['v'] or '')
    redis.call('HSET', KEYS[2], key, id)
    redis.call('HSET', KEYS[5], key, (tonumber(redis.call('HGET', KEYS[5], key)) or 0) + 1)
    redis.call('HDEL', KEYS[4], key)
    requeued = requeued + 1
  else
    dropped = dropped + 1
  end
  redis.call('XDEL', KEYS[3], letter[1])
end
return {requeued, dropped}
