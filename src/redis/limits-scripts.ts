/**
 * The Lua scripts of the shared limits: rate windows and budgets that every process of a queue
 * counts against, each check-and-take one atomic script on Redis's own clock (`TIME`), so hosts
 * whose clocks disagree still agree on the windows. `ARGV[1]` is the key prefix, `ARGV[2]` the
 * process's id, `ARGV[3]` how long a process counts as alive after its last word (ms).
 *
 * Layout under the prefix:
 * - `win:<scope>:<kind>:<windowMs>`: a window's entries (a sorted set: member `<taskId>#<n>`,
 *   scored by when it counts from), with `…:w` (member → amount) and `…:n` (the amounts' sum);
 *   `scope` is `*` for the queue's windows or a model's name, `kind` `r` (requests) or `t`
 *   (tokens);
 * - `procs`: live processes, scored by when they stop counting as alive; `holds:<proc>`: each
 *   process's budget holds (take → micro-dollars); `held`: their sum;
 * - `spent`, `spent:d:<day end>`, `spent:h:<hour end>`: money spent, in total and per calendar
 *   day and hour (the caller names the periods: its calendar and time zone);
 * - `takes`: the counter that numbers takes.
 */

/** Shared by the scripts: the clock, the process's liveness, and the dead processes' holds. */
const COMMON = `
local P, proc, lease = ARGV[1], ARGV[2], tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Money spent now: to the total and to the caller's current day and hour (their keys and how long
-- they last are ARGV[4..7]).
local dayKey, dayTtl, hourKey, hourTtl = ARGV[4], tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local function charge(micros)
  if micros <= 0 then return end
  redis.call('INCRBY', P .. ':spent', micros)
  redis.call('INCRBY', P .. ':spent:d:' .. dayKey, micros)
  redis.call('PEXPIRE', P .. ':spent:d:' .. dayKey, dayTtl)
  redis.call('INCRBY', P .. ':spent:h:' .. hourKey, micros)
  redis.call('PEXPIRE', P .. ':spent:h:' .. hourKey, hourTtl)
end

-- A process leaves (or is found dead): what it holds is charged at its worst case (its calls
-- may have been made and billed), and it stops counting as alive.
local function chargeHoldsOf(gone)
  local holds = redis.call('HGETALL', P .. ':holds:' .. gone)
  local sum = 0
  for i = 2, #holds, 2 do sum = sum + tonumber(holds[i]) end
  charge(sum)
  if sum > 0 then redis.call('DECRBY', P .. ':held', sum) end
  redis.call('DEL', P .. ':holds:' .. gone)
  redis.call('ZREM', P .. ':procs', gone)
end

-- This process is alive; a process silent for longer than its lease is dead.
redis.call('ZADD', P .. ':procs', now + lease, proc)
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', P .. ':procs', '-inf', '(' .. now)) do
  chargeHoldsOf(dead)
end
`;

/**
 * The keys of a take's windows: `nw` named by ARGV from `o` on (3 fields each: scope, kind,
 * windowMs), then the windows learned for the model from its provider's headers.
 */
const WINDOW_KEYS = `
local function windowKeys(P, model, nw, o)
  local keys = {}
  for i = 0, nw - 1 do
    local f = o + i * 3
    keys[#keys + 1] = P .. ':win:' .. ARGV[f] .. ':' .. ARGV[f + 1] .. ':' .. ARGV[f + 2]
  end
  local learned = redis.call('HGETALL', P .. ':learned:' .. model)
  for i = 1, #learned, 2 do
    local span = string.match(learned[i + 1], ':(%d+)$')
    keys[#keys + 1] = P .. ':win:learned:' .. model .. ':' .. learned[i] .. ':' .. span
  end
  return keys
end
`;

/**
 * Checks takes against every window and budget, in order, and takes each that has room; the
 * first without room ends the script (the takes after it are not asked, so none overtakes it).
 * ARGV[8] = margin (ms: entries count from now + margin, for the time between the take and the
 * call reaching the server), ARGV[9] = total budget (`''`: none), ARGV[10] = daily, ARGV[11] =
 * hourly, ARGV[12] = how many takes; then per take: task id, tokens, micro-dollars to hold, the
 * model, how many windows, and 4 fields per window: scope, kind (`r`/`t`), limit, windowMs. The
 * windows the provider's headers stated for the model (see `HINT_SCRIPT`) count too, with a
 * request above a learned token limit counted as that limit.
 *
 * Replies `{now, verdict…}`, three fields per take asked: `'ok', member, ''`; `'rate', retryAt,
 * ''` (the first window without room, and when it has); `'server', retryAt, ''` (a wait the
 * provider asked for, or a learned window without room); `'budget', period, held` (`period`:
 * `total`, `daily` or `hourly`; `held`: what all processes hold, which comes back as their calls
 * end). Only the last verdict can be a refusal.
 */
export const TAKE_SCRIPT = `${COMMON}
local margin = tonumber(ARGV[8])
local total, daily, hourly = ARGV[9], ARGV[10], ARGV[11]
local held = tonumber(redis.call('GET', P .. ':held') or '0')
local function over(limit, key, micros)
  if limit == '' then return false end
  local spent = tonumber(redis.call('GET', key) or '0')
  return spent + held + micros > tonumber(limit)
end

-- The windows the provider's headers stated for a model (read once per model).
local learnedOf = {}
local function learnedSpecs(model)
  local specs = learnedOf[model]
  if specs then return specs end
  specs = {}
  local learned = redis.call('HGETALL', P .. ':learned:' .. model)
  for i = 1, #learned, 2 do
    local limit, span = string.match(learned[i + 1], '^(%d+):(%d+)$')
    specs[#specs + 1] = {'learned:' .. model, learned[i], tonumber(limit), tonumber(span), 'server'}
  end
  learnedOf[model] = specs
  return specs
end

-- Drops what has left a window (entries count from their score for span ms), once per script.
local swept = {}
local function sweep(key, span)
  if swept[key] then return end
  swept[key] = true
  while true do
    local gone = redis.call('ZRANGEBYSCORE', key, '-inf', now - span, 'LIMIT', 0, 500)
    if #gone == 0 then break end
    local weights = redis.call('HMGET', key .. ':w', unpack(gone))
    local freed = 0
    for _, w in ipairs(weights) do freed = freed + (tonumber(w) or 0) end
    redis.call('ZREM', key, unpack(gone))
    redis.call('HDEL', key .. ':w', unpack(gone))
    redis.call('DECRBY', key .. ':n', freed)
  end
end

-- When a window without room has room for amount again: the oldest entries leave first.
local function roomAt(key, span, need)
  local start = 0
  while true do
    local batch = redis.call('ZRANGE', key, start, start + 199, 'WITHSCORES')
    if #batch == 0 then return -1 end
    local members = {}
    for j = 1, #batch, 2 do members[#members + 1] = batch[j] end
    local ws = redis.call('HMGET', key .. ':w', unpack(members))
    for j = 1, #ws do
      need = need - (tonumber(ws[j]) or 0)
      if need <= 0 then return tonumber(batch[j * 2]) + span end
    end
    start = start + 200
  end
end

-- One take: {'ok', member} when everything has room (taken), or the refusal.
local function takeOne(taskId, tokens, micros, model, o, nw)
  -- A wait the provider asked for (any process heard it) holds every take of the model.
  local waitUntil = tonumber(redis.call('GET', P .. ':wait:' .. model) or '0')
  if waitUntil > now then return {'server', waitUntil, ''} end
  -- Budgets: what is spent in the period, what every process holds, and this hold must fit.
  if micros > 0 then
    if over(total, P .. ':spent', micros) then return {'budget', 'total', held} end
    if over(daily, P .. ':spent:d:' .. dayKey, micros) then return {'budget', 'daily', held} end
    if over(hourly, P .. ':spent:h:' .. hourKey, micros) then return {'budget', 'hourly', held} end
  end
  -- The windows: those configured, then those the provider's headers stated for the model.
  local specs = {}
  for i = 0, nw - 1 do
    local f = o + i * 4
    specs[#specs + 1] = {ARGV[f], ARGV[f + 1], tonumber(ARGV[f + 2]), tonumber(ARGV[f + 3]), 'rate'}
  end
  for _, spec in ipairs(learnedSpecs(model)) do specs[#specs + 1] = spec end
  local windows = {}
  for _, spec in ipairs(specs) do
    local scope, kind, limit, span, reason = spec[1], spec[2], spec[3], spec[4], spec[5]
    local key = P .. ':win:' .. scope .. ':' .. kind .. ':' .. span
    local amount = 1
    if kind == 't' then amount = tokens end
    -- A learned limit is a guess: a request above it is counted as the limit.
    if reason == 'server' and amount > limit then amount = limit end
    sweep(key, span)
    local used = tonumber(redis.call('GET', key .. ':n') or '0')
    if used + amount > limit then return {reason, roomAt(key, span, used + amount - limit), ''} end
    windows[#windows + 1] = {key, amount, span}
  end
  -- Everything has room: take it.
  local member = taskId .. '#' .. redis.call('INCR', P .. ':takes')
  local at = now + margin
  for _, w in ipairs(windows) do
    redis.call('ZADD', w[1], at, member)
    redis.call('HSET', w[1] .. ':w', member, w[2])
    redis.call('INCRBY', w[1] .. ':n', w[2])
    for _, k in ipairs({w[1], w[1] .. ':w', w[1] .. ':n'}) do
      redis.call('PEXPIRE', k, w[3] + margin + 60000)
    end
  end
  redis.call('HSET', P .. ':holds:' .. proc, member, micros)
  redis.call('INCRBY', P .. ':held', micros)
  held = held + micros
  return {'ok', member, ''}
end

local reply = {now}
local o = 13
for _ = 1, tonumber(ARGV[12]) do
  local nw = tonumber(ARGV[o + 4])
  local verdict = takeOne(ARGV[o], tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2]), ARGV[o + 3], o + 5, nw)
  for _, field in ipairs(verdict) do reply[#reply + 1] = field end
  if verdict[1] ~= 'ok' then break end
  o = o + 5 + nw * 4
end
return reply
`;

/**
 * Takes' calls ended: each hold ends and what the call really cost is charged, once. ARGV[8] =
 * how many, then per take: its member, the micro-dollars. A hold already charged at its worst
 * case (this process was taken for dead) is not charged again. Replies how many holds were there.
 */
export const SETTLE_SCRIPT = `${COMMON}
local found = 0
for i = 0, tonumber(ARGV[8]) - 1 do
  local member, actual = ARGV[9 + i * 2], tonumber(ARGV[10 + i * 2])
  local heldFor = redis.call('HGET', P .. ':holds:' .. proc, member)
  if heldFor then
    found = found + 1
    redis.call('HDEL', P .. ':holds:' .. proc, member)
    redis.call('DECRBY', P .. ':held', tonumber(heldFor))
    charge(actual)
  end
end
return found
`;

/**
 * A take whose task did not start (it was cancelled or paused while the take was on its way):
 * its hold ends without a charge and its window entries are removed. ARGV[8] = the member,
 * ARGV[9] = the model, ARGV[10] = how many windows, then 3 fields each: scope, kind, windowMs
 * (the model's learned windows are found here).
 */
export const RELEASE_SCRIPT = `${COMMON}${WINDOW_KEYS}
local member, model, nw = ARGV[8], ARGV[9], tonumber(ARGV[10])
local heldFor = redis.call('HGET', P .. ':holds:' .. proc, member)
if heldFor then
  redis.call('HDEL', P .. ':holds:' .. proc, member)
  redis.call('DECRBY', P .. ':held', tonumber(heldFor))
end
for _, key in ipairs(windowKeys(P, model, nw, 11)) do
  local w = redis.call('HGET', key .. ':w', member)
  if w then
    redis.call('ZREM', key, member)
    redis.call('HDEL', key .. ':w', member)
    redis.call('DECRBY', key .. ':n', tonumber(w))
  end
end
return 1
`;

/**
 * Takes whose calls are being sent now: their window entries count from now plus the margin
 * (`ZADD … XX GT`: never earlier than they did, and an entry already gone stays gone), as a
 * process's own windows count a request from its send. ARGV[1] = the prefix, ARGV[2] = the
 * margin (ms), ARGV[3] = the model, ARGV[4] = how many windows, then 3 fields each: scope, kind,
 * windowMs (the model's learned windows are found here); then the takes' members.
 */
export const SENT_SCRIPT = `${WINDOW_KEYS}
local P, margin, model, nw = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local t = redis.call('TIME')
local at = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + margin
local keys = windowKeys(P, model, nw, 5)
for m = 5 + nw * 3, #ARGV do
  for _, key in ipairs(keys) do redis.call('ZADD', key, 'XX', 'GT', at, ARGV[m]) end
end
return 1
`;

/** This process is alive (its lease renewed), and the dead ones' holds are charged. */
export const HEARTBEAT_SCRIPT = `${COMMON}
return now
`;

/**
 * This process leaves: what it still holds (a call it never settled) is charged at its worst
 * case, as a dead process's would be, and it stops counting as alive.
 */
export const LEAVE_SCRIPT = `${COMMON}
chargeHoldsOf(proc)
return 1
`;

/** What the budgets have spent: ARGV[4..7] name the day and hour. Replies {total, day, hour, held}. */
export const SPENT_SCRIPT = `${COMMON}
return {
  tonumber(redis.call('GET', P .. ':spent') or '0'),
  tonumber(redis.call('GET', P .. ':spent:d:' .. dayKey) or '0'),
  tonumber(redis.call('GET', P .. ':spent:h:' .. hourKey) or '0'),
  tonumber(redis.call('GET', P .. ':held') or '0'),
}
`;

/**
 * A provider's rate-limit headers for a model (ARGV[8]), seen by one process, for all of them:
 * ARGV[9] = `retry-after` (ms, or `''`); ARGV[10..12] = remaining requests, their reset (ms) and
 * their limit; ARGV[13..15] = the same for tokens; ARGV[16], ARGV[17] = the window lengths the
 * request and token limits are learned with (ms, or `''`). A `retry-after`, or nothing remaining
 * until a reset, holds the model's takes until then (the latest of such waits). A stated limit
 * becomes a window of the model (forgotten after ten of its lengths without a header); a window
 * learned for the first time starts with what the server said it had counted already.
 */
export const HINT_SCRIPT = `${COMMON}
local model = ARGV[8]
local function waitUntil(t)
  local key = P .. ':wait:' .. model
  local current = tonumber(redis.call('GET', key) or '0')
  if t > current then redis.call('SET', key, t, 'PX', math.max(1, t - now) + 1000) end
end
if ARGV[9] ~= '' then waitUntil(now + tonumber(ARGV[9])) end
if ARGV[10] == '0' and ARGV[11] ~= '' then waitUntil(now + tonumber(ARGV[11])) end
if ARGV[13] == '0' and ARGV[14] ~= '' then waitUntil(now + tonumber(ARGV[14])) end

local function learn(kind, limit, remaining, span)
  if limit == '' or span == '' then return end
  local key = P .. ':learned:' .. model
  local before = redis.call('HGET', key, kind)
  redis.call('HSET', key, kind, limit .. ':' .. span)
  redis.call('PEXPIRE', key, tonumber(span) * 10)
  if before or remaining == '' then return end
  -- What the server has counted of the window already (other processes' calls, and calls sent
  -- before any header) counts from now: later than it did at the server, so never too little.
  local used = tonumber(limit) - tonumber(remaining)
  if used <= 0 then return end
  local wkey = P .. ':win:learned:' .. model .. ':' .. kind .. ':' .. span
  local member = 'seen#' .. redis.call('INCR', P .. ':takes')
  redis.call('ZADD', wkey, now, member)
  redis.call('HSET', wkey .. ':w', member, used)
  redis.call('INCRBY', wkey .. ':n', used)
  for _, k in ipairs({wkey, wkey .. ':w', wkey .. ':n'}) do
    redis.call('PEXPIRE', k, tonumber(span) + 60000)
  end
end
learn('r', ARGV[12], ARGV[10], ARGV[16])
learn('t', ARGV[15], ARGV[13], ARGV[17])
return 1
`;
