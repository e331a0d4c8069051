--- @include "server-time"
-- The server time, in ms and in µs, for the lock scripts.
local function lock_clock()
  return server_time_ms_us()
end
