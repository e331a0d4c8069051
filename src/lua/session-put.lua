--[[
  Stores a session written by a framework's store interface (express-session, @fastify/session):
  its data and owner, with a TTL, in one step so a session never lives without one.
  KEYS[1] session (hash, see session-create.lua)
  ARGV[1] encoded data
  ARGV[2] user id ('' for none)
  ARGV[3] ttl in ms
  Reply: the previous user id ('' when none or new), so a changed owner's index can be fixed
]]
local previous = redis.call('HGET', KEYS[1], 'u') or ''
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSETNX', KEYS[1], 'c', now)
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'u', ARGV[2], 'a', now)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return previous
