--[[
  Single server: moves due deadlines to the event stream atomically (claim, confirm, append, remove
  in one step), so an expiry is delivered exactly once into the stream.
  KEYS[1] deadline index (zset: member = key, or key \0 deadline for an expiry kept aside; score = deadline)
  KEYS[2] kept values (hash)
  KEYS[3] event stream (entries of up to ARGV[3] events each, see the event-value include)
  KEYS[4] kept values of events in the stream (a stream with the entry's id: position = kept value),
          trimmed once every group acknowledged the entry (events-trim.lua)
  KEYS[5] keys adopted by track, re-read for TTL changes made outside redkit (expiry-track include)
  ARGV[1] most entries to move in this call (at most 2000: they travel through unpack)
  ARGV[2] oldest stream id to retain (MINID), or '0' to keep everything
  ARGV[3] most events per stream entry
  Reply: { entries examined, events appended, next deadline (or tracked re-read) or -1, server time in ms }
]]
--- @include "server-time"
--- @include "retention-trim"
--- @include "expiry-lapsed"
--- @include "event-value"
--- @include "expiry-track"
local now = server_time_ms()
check_tracked(KEYS[1], KEYS[2], KEYS[5], nil, now)
local due = redis.call('ZRANGE', KEYS[1], '-inf', now, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[1]), 'WITHSCORES')
if #due == 0 then return { 0, 0, next_due(KEYS[1], KEYS[5]), now } end
-- Checked once per call: most sweeps keep no values and track no keys.
local has_values = redis.call('EXISTS', KEYS[2]) == 1
local tracking = redis.call('EXISTS', KEYS[5]) == 1
local batch = new_event_batch(KEYS[3], KEYS[4], tonumber(ARGV[3]))
local gone = {}
for i = 1, #due, 2 do
  local member = due[i]
  local key, kept_deadline = member_key(member)
  local deadline = kept_deadline or due[i + 1]
  -- An expiry kept aside already happened; a key's own entry is due once the key is gone.
  local ttl = kept_deadline and -2 or redis.call('PTTL', key)
  if ttl == -2 then
    event_batch_add(batch, key, deadline, has_values and redis.call('HGET', KEYS[2], member))
    gone[#gone + 1] = member
  elseif ttl >= 0 then
    -- Still there. Either its TTL was moved outside redkit (follow it to the new time), or it expires
    -- at this very deadline and the script's clock, frozen at its start, is a hair behind TIME:
    -- keep the deadline, the next sweep sees it gone.
    local at = redis.call('PEXPIRETIME', key)
    if at > tonumber(deadline) then redis.call('ZADD', KEYS[1], at, key) end
  else
    -- It was re-set without a TTL: it will not expire, so there is no event.
    redis.call('ZREM', KEYS[1], key)
    redis.call('HDEL', KEYS[2], key)
    redis.call('ZREM', KEYS[5], key)
  end
end
event_batch_flush(batch)
if #gone > 0 then
  redis.call('ZREM', KEYS[1], unpack(gone))
  if has_values then redis.call('HDEL', KEYS[2], unpack(gone)) end
  if tracking then redis.call('ZREM', KEYS[5], unpack(gone)) end
  trim_before(KEYS[3], ARGV[2])
end
return { #due / 2, #gone, next_due(KEYS[1], KEYS[5]), now }
