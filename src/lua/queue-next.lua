--[[ A worker's one round trip: settles the jobs it finished, promotes due delayed jobs, recovers
  jobs whose lease expired (their worker died or stalled), and leases up to N new jobs.
  KEYS[1] ready: ready list
  KEYS[2] prioritized: prioritized zset
  KEYS[3] delayed: delayed zset
  KEYS[4] active: active zset (member '<token>:<job id>', score lease deadline in ms, server clock)
  KEYS[5] completed: completed zset (score finish time)
  KEYS[6] dead: dead zset (score finish time)
  KEYS[7] wake: wake list
  KEYS[8] meta: meta hash (field 'paused')
  KEYS[9] limiter: rate limiter counter
  KEYS[10] prioritySequence: priority sequence counter
  KEYS[11] delayedPriorities: priorities of delayed jobs hash
  KEYS[12] jobPrefix: job key prefix: a job's hash is this prefix followed by its id (same hash tag, same slot)
  ARGV[1] lease length, ms
  ARGV[2] jobs wanted N (0 = settle only)
  ARGV[3] token prefix: the i-th leased job gets token '<prefix><i>' (no ':')
  ARGV[4] 1 = promote due delayed jobs now
  ARGV[5] 1 = recover expired leases now
  ARGV[6] 1 = this call follows a wake marker (pass the wake-up on while jobs remain)
  ARGV[7] rate limit: max jobs per window (0 = none)
  ARGV[8] rate limit window, ms
  ARGV[9] completed jobs kept: -1 all, 0 none (delete on completion), else the newest K
  ARGV[10] 1 = trim the completed set to K now
  ARGV[11] default attempts (for jobs recovered from an expired lease)
  ARGV[12] number of outcomes M; then 7 values per outcome:
  ARGV[13] active member ('<token>:<job id>')
  ARGV[14] kind: 'c' completed, 'r' retry, 'd' dead letter
  ARGV[15] result (c) or error message (r, d)
  ARGV[16] error details JSON (r, d) or ''
  ARGV[17] processing start, ms (server clock, from the fetch reply)
  ARGV[18] attempts made, including this one (r, d)
  ARGV[19] retry delay ms (r), and the job's priority after a colon: '<delay>:<priority>'
  Reply: { server now ms, next delayed due ms (-1 none, -2 not checked), idle wake-up ms (-1 none, -2 not idle),
    leased jobs flat { member, id, data, options|false, attempts made|false, created|false, progress|false, priority|false } * k,
    outcome statuses { 1 settled, 0 lease lost, 2 already settled by this token }, recovered count, dead-lettered ids of recovered jobs }
]]
--- @include "server-time"
--- @include "priority-score"
local ready, prio, delayed, active, completed, dead, wake, meta, limiter, pseq, dprio, jobPrefix =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], KEYS[12]
local leaseMs = tonumber(ARGV[1])
local wanted = tonumber(ARGV[2])
local tokenPrefix = ARGV[3]
local keep = tonumber(ARGV[9])
local now = server_time_ms()

local function pushReady(ids, front)
  if #ids > 0 then redis.call(front and 'LPUSH' or 'RPUSH', ready, unpack(ids)) end
end

local function prioritize(id, priority)
  add_prioritized(prio, pseq, id, priority)
end

-- 1. Outcomes of finished jobs. A lease that is gone (expired and recovered, or released) means
-- another delivery owns the job now: this late result is rejected and nothing is written.
local m = tonumber(ARGV[12])
local statuses = {}
local removed = {}
local doneIds, doneArgs, deadArgs, retryLater = {}, {}, {}, {}
for i = 0, m - 1 do
  local b = 13 + i * 7
  local member, kind = ARGV[b], ARGV[b + 1]
  local sep = string.find(member, ':', 1, true)
  local token, id = string.sub(member, 1, sep - 1), string.sub(member, sep + 1)
  local key = jobPrefix .. id
  if redis.call('ZREM', active, member) == 0 then
    statuses[#statuses + 1] = (redis.call('HGET', key, 'k') == token) and 2 or 0
  else
    statuses[#statuses + 1] = 1
    if kind == 'c' then
      if keep == 0 then
        doneIds[#doneIds + 1] = key
      else
        redis.call('HSET', key, 'r', ARGV[b + 2], 's', ARGV[b + 4], 'f', now, 'k', token)
        doneArgs[#doneArgs + 1] = now
        doneArgs[#doneArgs + 1] = id
      end
    elseif kind == 'r' then
      redis.call('HSET', key, 'a', ARGV[b + 5], 'e', ARGV[b + 2], 'x', ARGV[b + 3], 's', ARGV[b + 4], 'k', token)
      local spec = ARGV[b + 6]
      local c = string.find(spec, ':', 1, true)
      local delay, priority = tonumber(string.sub(spec, 1, c - 1)), tonumber(string.sub(spec, c + 1))
      if delay > 0 then
        redis.call('ZADD', delayed, now + delay, id)
        if priority > 0 then redis.call('HSET', dprio, id, priority) end
      elseif priority > 0 then
        prioritize(id, priority)
      else
        retryLater[#retryLater + 1] = id
      end
    else
      redis.call('HSET', key, 'a', ARGV[b + 5], 'e', ARGV[b + 2], 'x', ARGV[b + 3], 's', ARGV[b + 4], 'f', now, 'k', token)
      deadArgs[#deadArgs + 1] = now
      deadArgs[#deadArgs + 1] = id
    end
  end
end
if #doneIds > 0 then redis.call('DEL', unpack(doneIds)) end
if #doneArgs > 0 then redis.call('ZADD', completed, unpack(doneArgs)) end
if #deadArgs > 0 then redis.call('ZADD', dead, unpack(deadArgs)) end
pushReady(retryLater, false)

-- 2. Due delayed jobs become ready (in due order).
local nextDelayed = -2
local promoted = 0
if ARGV[4] == '1' then
  local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, 1000)
  promoted = #due
  if promoted > 0 then
    redis.call('ZREMRANGEBYRANK', delayed, 0, promoted - 1)
    local priorities = redis.call('HMGET', dprio, unpack(due))
    local plain, withPriority = {}, {}
    for i, id in ipairs(due) do
      if priorities[i] then
        withPriority[#withPriority + 1] = id
        prioritize(id, tonumber(priorities[i]))
      else
        plain[#plain + 1] = id
      end
    end
    if #withPriority > 0 then redis.call('HDEL', dprio, unpack(withPriority)) end
    pushReady(plain, false)
  end
  local head = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  nextDelayed = head[2] and tonumber(head[2]) or -1
end

-- 3. Jobs whose lease expired: back to the front of the queue, or to the dead letters once their
-- attempts are used up (a job that kills its worker every time must not cycle forever).
local recovered = 0
local recoveredDead = {}
if ARGV[5] == '1' then
  local expired = redis.call('ZRANGEBYSCORE', active, '-inf', now, 'LIMIT', 0, 1000)
  if #expired > 0 then
    redis.call('ZREMRANGEBYRANK', active, 0, #expired - 1)
    local front = {}
    for _, member in ipairs(expired) do
      local id = string.sub(member, string.find(member, ':', 1, true) + 1)
      local key = jobPrefix .. id
      local fields = redis.call('HMGET', key, 'o', 'a', 'p')
      if fields[1] then
        recovered = recovered + 1
        local made = (tonumber(fields[2]) or 0) + 1
        local ok, opts = pcall(cjson.decode, fields[1])
        local attempts = (ok and type(opts) == 'table' and tonumber(opts.at)) or tonumber(ARGV[11])
        if made >= attempts then
          redis.call('HSET', key, 'a', made, 'f', now, 'e', 'E_JOB_LOST the lease expired on the last attempt (the worker died, stalled or lost its connection)', 'x', '{"code":"E_JOB_LOST"}')
          redis.call('ZADD', dead, now, id)
          recoveredDead[#recoveredDead + 1] = id
        else
          redis.call('HSET', key, 'a', made, 'e', 'E_JOB_LOST the lease expired (the worker died, stalled or lost its connection)', 'x', '{"code":"E_JOB_LOST"}')
          local priority = tonumber(fields[3]) or 0
          if priority > 0 then prioritize(id, priority) else front[#front + 1] = id end
        end
      end
    end
    pushReady(front, true)
  end
end

-- 4. Lease up to N jobs: plain jobs first (FIFO), then prioritized ones (lowest score first).
local leased = {}
local idle = -2
local limited = false
if wanted > 0 then
  if redis.call('HGET', meta, 'paused') == '1' then
    wanted = 0
    idle = -1
  end
  local limitMax = tonumber(ARGV[7])
  local used = 0
  if wanted > 0 and limitMax > 0 then
    used = tonumber(redis.call('GET', limiter) or '0')
    if used >= limitMax then
      local ttl = redis.call('PTTL', limiter)
      if ttl < 0 then
        redis.call('DEL', limiter)
        used = 0
      else
        wanted = 0
        limited = true
        idle = now + ttl
      end
    end
    if wanted > limitMax - used then wanted = limitMax - used end
  end
  local ids = {}
  if wanted > 0 then
    local popped = redis.call('LPOP', ready, wanted)
    if popped then ids = popped end
    if #ids < wanted then
      local more = redis.call('ZPOPMIN', prio, wanted - #ids)
      for i = 1, #more, 2 do ids[#ids + 1] = more[i] end
    end
  end
  if #ids > 0 then
    if limitMax > 0 then
      if redis.call('INCRBY', limiter, #ids) == #ids then redis.call('PEXPIRE', limiter, tonumber(ARGV[8])) end
    end
    local deadline = now + leaseMs
    local zargs = {}
    for i, id in ipairs(ids) do
      local member = tokenPrefix .. i .. ':' .. id
      local f = redis.call('HMGET', jobPrefix .. id, 'd', 'o', 'a', 't', 'g', 'p')
      -- An id whose record was deleted behind redkit's back has nothing left to run: it is dropped.
      if f[1] then
        zargs[#zargs + 1] = deadline
        zargs[#zargs + 1] = member
        leased[#leased + 1] = member
        leased[#leased + 1] = id
        for j = 1, 6 do leased[#leased + 1] = f[j] end
      end
    end
    if #zargs > 0 then redis.call('ZADD', active, unpack(zargs)) end
  end
  if #ids < wanted or (idle == -1 and not limited) then
    -- Nothing more is ready: markers are stale. Tell the worker when to look again.
    redis.call('DEL', wake)
    local soonest = -1
    if nextDelayed == -2 then
      local head = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
      nextDelayed = head[2] and tonumber(head[2]) or -1
    end
    if nextDelayed >= 0 then soonest = nextDelayed end
    local lease = redis.call('ZRANGE', active, 0, 0, 'WITHSCORES')
    if lease[2] and (soonest < 0 or tonumber(lease[2]) < soonest) then soonest = tonumber(lease[2]) end
    if idle == -1 then soonest = -1 end
    idle = soonest
  elseif (ARGV[6] == '1' or promoted > 0 or recovered > 0) and not limited then
    -- Jobs remain and other workers may be idle: pass the wake-up on.
    if redis.call('LLEN', ready) > 0 or redis.call('ZCARD', prio) > 0 then redis.call('RPUSH', wake, '1') end
  end
end

-- 5. Retention of completed jobs, amortised: the worker asks for it now and then.
if keep > 0 and ARGV[10] == '1' then
  local excess = redis.call('ZCARD', completed) - keep
  if excess > 0 then
    if excess > 1000 then excess = 1000 end
    local old = redis.call('ZRANGE', completed, 0, excess - 1)
    local keys = {}
    for i, id in ipairs(old) do keys[i] = jobPrefix .. id end
    redis.call('DEL', unpack(keys))
    redis.call('ZREMRANGEBYRANK', completed, 0, excess - 1)
  end
end

return { now, nextDelayed, idle, leased, statuses, recovered, recoveredDead }
