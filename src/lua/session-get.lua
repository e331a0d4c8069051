--[[
  Reads a session, checks its fingerprint, and (when asked) records the access and slides its idle
  timeout, never past its absolute deadline. The access is written at most once per ARGV[3] ms, so a
  burst of requests on one session costs one write, not one each.
  KEYS[1] session (hash, see session-create.lua)
  ARGV[1] fingerprint of the caller, or '*' to skip the check
  ARGV[2] '1' to touch (record the access, slide the idle timeout), '0' to only read
  ARGV[3] least time between two recorded accesses, in ms
  Reply: false when absent; 'mismatch' when the fingerprint differs (nothing changed);
         otherwise { u, d, c, a, i, x, k, ip, ua }. The key expires at min(a + i, x) (i, x: 0 = none),
         as every write sets it so.
]]
local s = redis.call('HMGET', KEYS[1], 'u', 'd', 'c', 'a', 'i', 'x', 'f', 'k', 'ip', 'ua')
if not s[2] then return false end
if ARGV[1] ~= '*' and s[7] and s[7] ~= '' and s[7] ~= ARGV[1] then return 'mismatch' end
if ARGV[2] == '1' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now - (tonumber(s[4]) or 0) >= tonumber(ARGV[3]) then
    local idle = tonumber(s[5]) or 0
    if idle > 0 then
      local expires = now + idle
      local absolute = tonumber(s[6]) or 0
      if absolute > 0 and absolute < expires then expires = absolute end
      redis.call('PEXPIREAT', KEYS[1], expires)
    end
    redis.call('HSET', KEYS[1], 'a', now)
    s[4] = now
  end
end
return { s[1], s[2], s[3], s[4], s[5], s[6], s[8], s[9], s[10] }
