--[[
  A heartbeat: renews the member's heartbeat key and its expiry deadline (the entry the reliable
  expiry sweepers watch, in the key's own slot), and decides atomically whether the member came
  online. A member whose deadline passed without its offline being recorded yet (the sweepers had
  not got to it) is recorded offline first, so every lapse gets exactly one offline transition.
  The member is online while its deadline (KEYS[5]) is in the future.
  KEYS[1] the member's heartbeat key (string, expires at the deadline)
  KEYS[2] reliable expiry deadline index of the heartbeat key's slot (zset: key -> deadline)
  KEYS[3] members (hash: id -> '<since>,<lastBeat>,' .. ('' | 'm' .. encoded meta))
  KEYS[4] member deadlines (zset: id -> deadline)
  KEYS[5] transitions stream (fields: t = online|offline, id, at, s = since, lb = last beat, m = meta)
  KEYS[6] original deadlines of claimed expiry entries of the heartbeat key's slot (Cluster): the new
          deadline must not inherit a claim a sweeper left behind when it died
  ARGV[1] member id
  ARGV[2] ttl in ms
  ARGV[3] '' to keep the stored meta, or 'm' .. encoded meta
  ARGV[4] wake channel of the sweepers ('' on Cluster, where the slot directory wakes them)
  ARGV[5] retention of the transitions stream in ms ('0' keeps everything)
  Each beat also records offline up to BEAT_REAP members lapsed more than a second ago, so members
  and deadlines stay bounded even when no process watches (nobody runs the reaper then).
  Reply: { 1 when this beat brought the member online else 0, deadline, 1 when the index entry is new else 0 }
]]
--- @include "server-time"
--- @include "retention-trim"
--- @include "presence-offline"
--- @include "check-types"
-- A key of another type met halfway would leave the beat half written (the heartbeat key renewed,
-- the member not): refused before the first write.
local refused = check_types({ KEYS[2], 'zset', KEYS[3], 'hash', KEYS[4], 'zset', KEYS[5], 'stream', KEYS[6], 'hash' })
if refused then return refused end
local now = server_time_ms()
local id = ARGV[1]
local deadline = now + tonumber(ARGV[2])
local dl = string.format('%d', deadline)
local retention = tonumber(ARGV[5])

local function append(fields)
  append_retained(KEYS[5], now, retention, fields)
end

local meta = ARGV[3]
local since = string.format('%d', now)
local cameOnline = 1
local rec = redis.call('HGET', KEYS[3], id)
if rec then
  local s, lb, m = string.match(rec, '^(%d+),(%d+),(.*)$')
  local previous = tonumber(redis.call('ZSCORE', KEYS[4], id) or '0')
  if previous > now then
    -- A renewal: no transition.
    cameOnline = 0
    since = s
    if meta == '' then meta = m end
  else
    -- It lapsed at `previous` and nobody recorded it yet: its one offline, then this online.
    append(offline_fields(id, string.format('%d', previous), rec))
  end
end

redis.call('SET', KEYS[1], since, 'PXAT', dl)
local added = redis.call('ZADD', KEYS[2], dl, KEYS[1])
redis.call('HDEL', KEYS[6], KEYS[1])
redis.call('HSET', KEYS[3], id, since .. ',' .. string.format('%d', now) .. ',' .. meta)
redis.call('ZADD', KEYS[4], dl, id)
if cameOnline == 1 then
  local fields = { 't', 'online', 'id', id, 'at', since, 's', since, 'lb', since }
  if meta ~= '' then
    fields[#fields + 1] = 'm'
    fields[#fields + 1] = string.sub(meta, 2)
  end
  append(fields)
end
if added == 1 and ARGV[4] ~= '' then
  local head = redis.call('ZRANGE', KEYS[2], 0, 0)
  if head[1] == KEYS[1] then redis.call('PUBLISH', ARGV[4], dl) end
end
-- Two per beat: every member that lapses beat at least once, so lapses never outrun the reaping.
local BEAT_REAP = 2
local lapsed = redis.call('ZRANGE', KEYS[4], '-inf', string.format('%d', now - 1000), 'BYSCORE', 'LIMIT', 0, BEAT_REAP)
record_offline(KEYS[3], KEYS[4], now, lapsed, append)
return { cameOnline, deadline, added }
