--[[
  Bloom filter: records its size on first use; later users adopt the recorded size, so every
  process computes the same positions even when their options differ.
  KEYS[1] parameters (hash: bits, hashes)
  ARGV[1] bits wanted
  ARGV[2] hashes wanted
  Reply: {bits, hashes} in force
]]
redis.call('HSETNX', KEYS[1], 'bits', ARGV[1])
redis.call('HSETNX', KEYS[1], 'hashes', ARGV[2])
local stored = redis.call('HMGET', KEYS[1], 'bits', 'hashes')
return {tonumber(stored[1]), tonumber(stored[2])}
