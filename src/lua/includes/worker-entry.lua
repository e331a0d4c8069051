-- A worker-registry entry ('<last seen ms> <started ms> <beat ms> <info JSON>') is stale when it is
-- unreadable, names a beat interval no worker can have, or its last beat is more than 3 intervals
-- from `now` (in the past: the worker stopped beating; in the future: no worker of this server
-- wrote it). Self-contained include.
local function worker_entry_stale(entry, now)
  local seen, beat = string.match(entry, '^(%d+) %d+ (%d+) ')
  seen, beat = tonumber(seen), tonumber(beat)
  return not seen or not beat or beat > 2147483647 or math.abs(now - seen) > 3 * beat
end
