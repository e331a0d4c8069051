import { randomBytes } from 'node:crypto'

// A random per-process prefix plus a counter: unique without a round trip (no INCR per job) and
// cheap to generate. 72 random bits make a collision between processes negligible.
const PROCESS_PREFIX = randomBytes(9).toString('base64url')
let counter = 0

/** A new job id, unique across processes: `<12 random chars>.<base36 counter>`. */
export function newJobId(): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER
  return `${PROCESS_PREFIX}.${counter.toString(36)}`
}

/** A short random id for a worker or a consumer (base64url, no ':' so it can start a lease token). */
export function newWorkerId(): string {
  return randomBytes(6).toString('base64url')
}
