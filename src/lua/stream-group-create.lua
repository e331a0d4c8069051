--[[
  Creates a consumer group and records it in the stream's group registry. After Redis lost its data
  (restart without persistence, FLUSHDB, eviction), a group that existed before looks exactly like a
  new one, so while the stream's state is young (the registry was started less than ARGV[4] ms ago)
  every group seen for the first time starts at the beginning of the stream and misses none of the
  events appended since the loss; only a group created on a state older than that starts at the end
  ('new'). A group found gone by its own reader (ARGV[3] = '1') always starts at the beginning.
  KEYS[1] stream
  KEYS[2] group registry (hash: group -> '1', or 't' for a temporary group; '~epoch' -> when this state of the stream began, ms)
  ARGV[1] group
  ARGV[2] 'new' or 'retained'
  ARGV[3] '1' when a reader found its group gone (NOGROUP), else '0'
  ARGV[4] how long a new state counts as young, in ms
  ARGV[5] '1' for a temporary group (removed once no consumer of it reads: events-trim.lua), else '0'
  Reply: 1 when the group was created, 0 when it existed
]]
--- @include "server-time"
--- @include "check-types"
-- A stream of another type would fail XGROUP after the registry was written.
local refused = check_types({ KEYS[1], 'stream', KEYS[2], 'hash' })
if refused then return refused end
local now = server_time_ms()
redis.call('HSETNX', KEYS[2], '~epoch', string.format('%d', now))
local epoch = tonumber(redis.call('HGET', KEYS[2], '~epoch')) or now
local start = '0'
if ARGV[2] == 'new' and ARGV[3] == '0' and now - epoch >= tonumber(ARGV[4]) then start = '$' end
local created = 1
local reply = redis.pcall('XGROUP', 'CREATE', KEYS[1], ARGV[1], start, 'MKSTREAM')
if type(reply) == 'table' and reply.err then
  if not string.find(reply.err, 'BUSYGROUP', 1, true) then return redis.error_reply(reply.err) end
  created = 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[5] == '1' and 't' or '1')
return created
