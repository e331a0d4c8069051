--[[
  Takes a session out of Redis to give it a new id (rotation): reads and deletes it in one step, so
  of two rotations at once only one gets it, and only for the client it is bound to.
  KEYS[1] session: hash, see session-create.lua
  ARGV[1] fingerprint of the caller, or '*' to skip the check
  Reply: false when absent; 'mismatch' when the fingerprint differs (nothing changed);
         otherwise { u, d, c, a, i, x, f, k, ip, ua, e } (the session is deleted)
]]
local s = redis.call('HMGET', KEYS[1], 'u', 'd', 'c', 'a', 'i', 'x', 'f', 'k', 'ip', 'ua', 'e')
if not s[2] then return false end
if ARGV[1] ~= '*' and s[7] and s[7] ~= '' and s[7] ~= ARGV[1] then return 'mismatch' end
redis.call('DEL', KEYS[1])
return s
