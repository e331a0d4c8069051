import { describe, expect, it } from 'vitest'
import { runExample as runChildExample } from '../support/child.js'
import { standaloneUrl } from '../support/redis.js'

// The README's examples of the queue, scheduler, channel/counter, inventory, leaderboard and rate
// limit scenarios, each run as a user runs it (tsx, against a Redis given by REDIS_URL), each
// exiting by itself.
const runExample = (file: string) => runChildExample(file, { REDIS_URL: standaloneUrl() }, 30_000)
const lines = (text: string, pattern: RegExp) => text.split('\n').filter((line) => pattern.test(line))

// Each example has its own key prefix (its pid), so they run side by side.
describe.concurrent('scenario examples', () => {
  it('orders-queue charges every order once despite a dying worker and retries, and dead-letters the bad one', async () => {
    const { code, stdout, stderr } = await runExample('orders-queue.ts')
    expect(code, stderr).toBe(0)
    expect(stdout).toMatch(/and dies/)
    expect(stdout).toMatch(/"completed":20,"dead":1/)
    expect(stdout).toMatch(/dead letter order:A-bad: invalid amount -1 after 1 attempt\(s\)/)
    expect(stdout).toMatch(/orders charged: 20 \(each once\)/)
  })

  it('delayed-tasks sends a delayed email once, skips the cancelled one, and runs a repeating task once per due time', async () => {
    const { code, stdout, stderr } = await runExample('delayed-tasks.ts')
    expect(code, stderr).toBe(0)
    expect(stdout).toMatch(/cancel welcome:bob: true/)
    expect(lines(stdout, /sends the email welcome:ann/)).toHaveLength(1)
    expect(lines(stdout, /welcome:bob to/)).toHaveLength(0)
    const runs = lines(stdout, /runs cleanup@(\d+)/).map((line) => /cleanup@(\d+)/.exec(line)?.[1])
    expect(runs.length).toBeGreaterThanOrEqual(2)
    expect(new Set(runs).size).toBe(runs.length)
  })

  it('chat-and-page-views delivers chat messages, survives a bad one, and counts every page view once', async () => {
    const { code, stdout, stderr } = await runExample('chat-and-page-views.ts')
    expect(code, stderr).toBe(0)
    expect(stdout).toMatch(/bob sees {2}alice: hello!/)
    expect(stdout).toMatch(/ignored a bad message: E_DECODE/)
    expect(stdout).toMatch(/page views: 1000 \(1000 events, 3 consumers, each applied once\)/)
  })

  it('inventory-reservations never oversells; cancelled and lapsed reservations give their units back', async () => {
    const { code, stdout, stderr } = await runExample('inventory-reservations.ts')
    expect(code, stderr).toBe(0)
    expect(lines(stdout, /reserved a ticket until/)).toHaveLength(3)
    expect(lines(stdout, /: sold out$/)).toHaveLength(2)
    expect(stdout).toMatch(/reserved: 3, available: 0/)
    expect(stdout).toMatch(/cancels: true; available: 1/)
    expect(stdout).toMatch(/reservation lapsed; available: 2/)
    expect(stdout).toMatch(/confirms too late: false/)
    expect(stdout).toMatch(/done: sold 1, available 2, never oversold/)
  })

  it('leaderboard-and-rate-limit ranks ties by arrival and denies the sixth call of the window', async () => {
    const { code, stdout, stderr } = await runExample('leaderboard-and-rate-limit.ts')
    expect(code, stderr).toBe(0)
    expect(stdout).toMatch(/dana scores 60 more: 80 points, rank 2/)
    expect(stdout).toMatch(/top 3: 1\. eve 90, 2\. dana 80, 3\. bob 70/)
    expect(stdout).toMatch(/around cy: 3\. bob, 4\. cy, 5\. ann/)
    expect(stdout).toMatch(
      /greedy-client: ok \(4 left\), ok \(3 left\), ok \(2 left\), ok \(1 left\), ok \(0 left\), denied, retry in \d+ s, denied/,
    )
    expect(stdout).toMatch(/polite-client: ok/)
  })
})
