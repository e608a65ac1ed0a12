/**
 * The Redis store's Lua scripts. Each runs atomically on the server, so a write lands whole or
 * not at all: every check comes before the first change (a script that fails half-way would not
 * roll back). `ARGV[1]` is always the key prefix (see keys.ts for the layout); the writes take the
 * lease token of the process that holds the store in `ARGV[2]` and refuse to run without it.
 */

/** Shared by the scripts: the layout, and taking a task out of its indexes. */
const COMMON = `
local P = ARGV[1]
local TERMINAL = { completed = true, failed = true, cancelled = true }
local function tkey(id) return P .. ':t:' .. id end

-- Removes a stored task, its index entries and its idempotency key; false if it is not stored.
local function unindex(id)
  local f = redis.call('HMGET', tkey(id), 's', 'l', 'w', 'm', 'k')
  local s, l, w, m, k = f[1], f[2], f[3], f[4], f[5]
  if not s then return false end
  redis.call('ZREM', P .. ':all', l)
  redis.call('ZREM', P .. ':l:' .. s, l)
  redis.call('ZREM', P .. ':w:' .. s, w)
  redis.call('ZREM', P .. ':wm:' .. s .. ':' .. m, w)
  redis.call('ZREM', P .. ':done', id)
  if k and redis.call('HGET', P .. ':keys', k) == id then redis.call('HDEL', P .. ':keys', k) end
  redis.call('DEL', tkey(id))
  return true
end

-- The lease check of every write: the caller's token must be the one the store holds.
local function holdsLease()
  return redis.call('GET', P .. ':owner') == ARGV[2]
end
`;

/**
 * One `commit`: ARGV[3] = the write's id, ARGV[4..7] = how many inserts, updates, removes and
 * ledger entries; then the records (11 fields each, `recordArgs`), the removed ids, the ledger
 * entries' JSON. Replies `{'ok', removed}` or the first conflict: `{'dupid', id}`,
 * `{'dupkey', id, key, holder}`, `{'notfound', id}`, `{'lost'}` (the lease is another process's).
 *
 * A write whose id was applied in the last ten minutes is not applied again: ioredis sends a
 * command again when the connection dropped before its reply came, and the first one may have
 * run (appending the ledger twice would count a charge twice).
 */
export const COMMIT_SCRIPT = `${COMMON}
if not holdsLease() then return {'lost'} end
local applied = P .. ':applied:' .. ARGV[3]
local before = redis.call('GET', applied)
if before then return {'ok', tonumber(before)} end
local ni, nu, nr, nl = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local F = 11
local first = 8

-- What the write has done so far, over what is stored: id -> stored?, id -> key, key -> holder.
local exists, keyOf, holder = {}, {}, {}
local function stored(id)
  if exists[id] ~= nil then return exists[id] end
  return redis.call('EXISTS', tkey(id)) == 1
end
local function currentKey(id)
  if keyOf[id] ~= nil then return keyOf[id] end
  return redis.call('HGET', tkey(id), 'k')
end
local function holderOf(key)
  if holder[key] ~= nil then return holder[key] end
  return redis.call('HGET', P .. ':keys', key)
end

-- Checks, in the order the write applies: inserts, updates, removes.
for i = 0, ni - 1 do
  local o = first + i * F
  local id, hasKey, key = ARGV[o], ARGV[o + 6] == '1', ARGV[o + 7]
  if stored(id) then return {'dupid', id} end
  if hasKey then
    local h = holderOf(key)
    if h then return {'dupkey', id, key, h} end
    holder[key] = id
  end
  exists[id] = true
  keyOf[id] = hasKey and key or false
end
for i = ni, ni + nu - 1 do
  local o = first + i * F
  local id, hasKey, key = ARGV[o], ARGV[o + 6] == '1', ARGV[o + 7]
  if not stored(id) then return {'notfound', id} end
  local old = currentKey(id)
  local new = hasKey and key or false
  if new ~= old then
    if new then
      local h = holderOf(new)
      if h and h ~= id then return {'dupkey', id, new, h} end
    end
    if old then holder[old] = false end
    if new then holder[new] = id end
    keyOf[id] = new
  end
end
local removeAt = first + (ni + nu) * F
for i = 0, nr - 1 do
  local id = ARGV[removeAt + i]
  if stored(id) then
    local k = currentKey(id)
    if k then holder[k] = false end
    exists[id] = false
    keyOf[id] = false
  end
end

-- Writes.
local function index(o)
  local id, body, s, l, w, m = ARGV[o], ARGV[o + 1], ARGV[o + 2], ARGV[o + 3], ARGV[o + 4], ARGV[o + 5]
  local hasKey, k, c, y, r = ARGV[o + 6] == '1', ARGV[o + 7], ARGV[o + 8], ARGV[o + 9], ARGV[o + 10]
  local fields = {'b', body, 's', s, 'l', l, 'w', w, 'm', m, 'y', y, 'r', r}
  if hasKey then
    fields[#fields + 1] = 'k'
    fields[#fields + 1] = k
    redis.call('HSET', P .. ':keys', k, id)
  end
  if c ~= '' then
    fields[#fields + 1] = 'c'
    fields[#fields + 1] = c
    if TERMINAL[s] then redis.call('ZADD', P .. ':done', c, id) end
  end
  redis.call('HSET', tkey(id), unpack(fields))
  redis.call('ZADD', P .. ':all', 0, l)
  redis.call('ZADD', P .. ':l:' .. s, 0, l)
  redis.call('ZADD', P .. ':w:' .. s, 0, w)
  redis.call('ZADD', P .. ':wm:' .. s .. ':' .. m, 0, w)
end
for i = 0, ni - 1 do index(first + i * F) end
for i = ni, ni + nu - 1 do
  local o = first + i * F
  unindex(ARGV[o])
  index(o)
end
local removed = 0
for i = 0, nr - 1 do
  if unindex(ARGV[removeAt + i]) then removed = removed + 1 end
end
local ledgerAt = removeAt + nr
for i = 0, nl - 1 do
  local seq = redis.call('INCR', P .. ':lseq')
  redis.call('ZADD', P .. ':ledger', seq, seq .. ':' .. ARGV[ledgerAt + i])
end
redis.call('SET', applied, removed, 'PX', 600000)
return {'ok', removed}
`;

/**
 * One page read at once: ARGV[2] = the index, ARGV[3] = where to start (`-` or `(<member>`),
 * ARGV[4] = how many to return, ARGV[5] = where the id starts in a member, ARGV[6..7] = a task
 * type to keep (`'1'`, type) or none (`'0'`), ARGV[8] = a rank to keep, or `''`. Replies
 * `[member, body, member, body, …]`, in index order.
 */
export const PAGE_SCRIPT = `${COMMON}
local idx, start, want, off = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local ty = nil
if ARGV[6] == '1' then ty = ARGV[7] end
local rk = nil
if ARGV[8] ~= '' then rk = ARGV[8] end
local chunk = want
if ty or rk then chunk = math.max(want, 200) end
local out, n = {}, 0
while true do
  local ms = redis.call('ZRANGEBYLEX', idx, start, '+', 'LIMIT', 0, chunk)
  for _, mem in ipairs(ms) do
    local f = redis.call('HMGET', tkey(string.sub(mem, off + 1)), 'b', 'y', 'r')
    if f[1] and (not ty or f[2] == ty) and (not rk or f[3] == rk) then
      out[#out + 1] = mem
      out[#out + 1] = f[1]
      n = n + 1
      if n >= want then return out end
    end
  end
  if #ms < chunk then return out end
  start = '(' .. ms[#ms]
end
`;

/** `removeFinishedBefore`: ARGV[3] = the bound (exclusive, a Redis score). Replies the count, or -1 without the lease. */
export const REMOVE_FINISHED_SCRIPT = `${COMMON}
if not holdsLease() then return -1 end
local removed = 0
for _, id in ipairs(redis.call('ZRANGEBYSCORE', P .. ':done', '-inf', '(' .. ARGV[3])) do
  if unindex(id) then removed = removed + 1 end
end
return removed
`;

/**
 * `compactLedger`: ARGV[3] = `throughSeq`, ARGV[4] = the checkpoint's JSON. Replies 1, 0 when the
 * ledger holds no entry `throughSeq`, or -1 without the lease.
 */
export const COMPACT_SCRIPT = `${COMMON}
if not holdsLease() then return -1 end
local key, seq = P .. ':ledger', ARGV[3]
if #redis.call('ZRANGEBYSCORE', key, seq, seq) == 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', key, '-inf', seq)
redis.call('ZADD', key, seq, seq .. ':' .. ARGV[4])
return 1
`;

/** Renews the lease (ARGV[3] = its length, ms) if the caller still holds it: 1, else 0. */
export const RENEW_SCRIPT = `${COMMON}
if not holdsLease() then return 0 end
redis.call('PEXPIRE', P .. ':owner', ARGV[3])
return 1
`;

/** Gives the lease up if the caller holds it. */
export const RELEASE_SCRIPT = `${COMMON}
if holdsLease() then redis.call('DEL', P .. ':owner') end
return 1
`;
