--[[ A worker's heartbeat in the queue's worker registry, and the pruning of workers that stopped beating.
  KEYS[1] workers: hash worker id -> '<last seen ms> <started ms> <beat ms> <info JSON>' (server clock)
  ARGV[1] worker id
  ARGV[2] beat interval, ms (the entry is stale after 3 of them)
  ARGV[3] info JSON (host, pid, concurrency, names)
  Reply: 1, or an E_DECODE error when the registry is not a hash (nothing written)
]]
--- @include "server-time"
--- @include "check-types"
--- @include "worker-entry"
local refused = check_types({ KEYS[1], 'hash' })
if refused then return refused end
local now = server_time_ms()
-- A worker keeps the start time of its first beat; a registry entry that is not ours starts anew.
local started = now
local previous = redis.call('HGET', KEYS[1], ARGV[1])
if previous then
  local s = tonumber(string.match(previous, '^%d+ (%d+) '))
  if s and s <= now then started = s end
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d %d %d %s', now, started, tonumber(ARGV[2]), ARGV[3]))
-- Bounded clean-up: one page of the registry per beat, so a killed worker's entry goes away even
-- when nobody lists the workers (and a planted hash of a million fields costs one page per beat).
local page = redis.call('HSCAN', KEYS[1], '0', 'COUNT', 50)[2]
for i = 1, #page, 2 do
  if worker_entry_stale(page[i + 1], now) then redis.call('HDEL', KEYS[1], page[i]) end
end
return 1
