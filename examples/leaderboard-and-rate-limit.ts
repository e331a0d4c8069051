/**
 * A game's leaderboard and its API's rate limit: scores from many players (ties ranked by who got
 * there first), the top three, one player's rank and neighbours; and a client that calls too
 * often, allowed its limit and then denied with the time to wait, while another client is not
 * affected.
 *
 *   npx tsx examples/leaderboard-and-rate-limit.ts  # REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { createRedkit } from '../src/index.js' // in an application: from 'redkit'
import { removeRunKeys } from './cleanup.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `example-board-${process.pid}`
const rk = await createRedkit({ url, prefix })

const board = rk.leaderboard('game')
for (const [player, points] of [
  ['ann', 50],
  ['bob', 70],
  ['cy', 70],
  ['dana', 20],
  ['eve', 90],
] as const) {
  await board.incr(player, points)
}
const { score, rank } = await board.incr('dana', 60)
console.log(`dana scores 60 more: ${score} points, rank ${rank}`)
console.log(`top 3: ${(await board.top(3)).map((e) => `${e.rank}. ${e.member} ${e.score}`).join(', ')}`)
console.log(`around cy: ${(await board.around('cy', 1)).map((e) => `${e.rank}. ${e.member}`).join(', ')}`)

const api = rk.rateLimiter('api', { limit: 5, windowMs: 10_000 })
const answers: string[] = []
for (let i = 0; i < 7; i++) {
  const decision = await api.consume('greedy-client')
  answers.push(decision.allowed ? `ok (${decision.remaining} left)` : `denied, retry in ${Math.ceil(decision.retryAfterMs / 1000)} s`)
}
console.log(`greedy-client: ${answers.join(', ')}`)
console.log(`polite-client: ${(await api.consume('polite-client')).allowed ? 'ok' : 'denied'}`)

await rk.close()
await removeRunKeys(url, prefix)
