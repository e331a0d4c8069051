-- Publishes a wake-up, ignoring a refusal (an ACL without the channel permission): the waiters
-- poll, so a lost wake-up only delays them, and the writes of the script that sent it must stand
-- (a release that failed here after handing the lock over would tell its caller it did not release).
local function lock_publish(command, channel, message)
  redis.pcall(command, channel, message)
end
