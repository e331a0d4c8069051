--[[ Reads a job's log lines, oldest kept first.
  KEYS[1] jobKey: job hash
  ARGV[1] lines kept (the cap queue-log applies)
  ARGV[2] offset from the oldest kept line
  ARGV[3] limit
  Reply: { lines logged so far, the lines... }
]]
if redis.call('TYPE', KEYS[1]).ok ~= 'hash' then return { 0 } end
local stored = redis.call('HGET', KEYS[1], '#') or '0'
-- tonumber alone takes 'nan' and 'inf' (a nan count made HMGET run with no fields).
local count = (#stored <= 15 and string.match(stored, '^%d+$')) and tonumber(stored) or 0
local first = math.max(1, count - tonumber(ARGV[1]) + 1) + tonumber(ARGV[2])
local last = math.min(count, first + tonumber(ARGV[3]) - 1)
local reply = { count }
if last < first then return reply end
local fields = {}
for i = first, last do fields[#fields + 1] = 'L' .. i end
for _, line in ipairs(redis.call('HMGET', KEYS[1], unpack(fields))) do
  if line then reply[#reply + 1] = line end
end
return reply
