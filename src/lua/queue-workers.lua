--[[ The live workers of a queue (they beat within 3 of their beat intervals); stale and unreadable entries are removed.
  KEYS[1] workers: hash worker id -> '<last seen ms> <started ms> <beat ms> <info JSON>' (server clock)
  ARGV[1] most entries to read (a registry larger than this is read in part)
  Reply: { id, entry, id, entry, ... } of the live workers, or an E_DECODE error when the registry is not a hash
]]
--- @include "server-time"
--- @include "check-types"
--- @include "worker-entry"
local refused = check_types({ KEYS[1], 'hash' })
if refused then return refused end
local now = server_time_ms()
local limit = tonumber(ARGV[1])
local live = {}
local cursor = '0'
local read = 0
repeat
  local reply = redis.call('HSCAN', KEYS[1], cursor, 'COUNT', 100)
  cursor = reply[1]
  local page = reply[2]
  for i = 1, #page, 2 do
    read = read + 1
    if worker_entry_stale(page[i + 1], now) then
      redis.call('HDEL', KEYS[1], page[i])
    else
      live[#live + 1] = page[i]
      live[#live + 1] = page[i + 1]
    end
  end
until cursor == '0' or read >= limit
return live
