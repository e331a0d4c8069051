--[[ Appends a line to a job's log, kept in the job's hash (fields 'L<n>', count in '#'), so it is
  deleted with the job. Only the newest ARGV[2] lines are kept.
  KEYS[1] jobKey: job hash
  ARGV[1] the line
  ARGV[2] lines kept
  Reply: lines logged so far (the older ones past the cap are gone), 0 when there is no such job
]]
--- @include "check-types"
local refused = check_types({ KEYS[1], 'hash' })
if refused then return refused end
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local stored = redis.call('HGET', KEYS[1], '#') or '0'
-- tonumber alone takes 'nan' and 'inf': the count would be written back as garbage.
local count = (#stored <= 15 and string.match(stored, '^%d+$')) and tonumber(stored)
if not count then return redis.error_reply('E_DECODE ' .. KEYS[1] .. ': its log count is not a number: refused, nothing was written') end
count = count + 1
redis.call('HSET', KEYS[1], '#', count, 'L' .. count, ARGV[1])
local drop = count - tonumber(ARGV[2])
if drop > 0 then redis.call('HDEL', KEYS[1], 'L' .. drop) end
return count
