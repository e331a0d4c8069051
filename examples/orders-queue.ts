/**
 * Orders processed by a pool of workers, with retries, dead letters and a worker that dies.
 *
 * The naive version (LPUSH + BRPOP) loses the order a worker was holding when it dies, retries
 * nothing, and has nowhere to put an order that always fails. Here each delivery holds a lease:
 * when a worker stops renewing it, another worker takes the order back; failures retry with
 * backoff; the last failure goes to the dead letters with its error, ready for `retryDead`.
 *
 *   npx tsx examples/orders-queue.ts        # REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { createRedkit } from '../src/index.js' // in an application: from 'redkit'
import { UnrecoverableError } from '../src/messaging/index.js' // 'redkit/messaging'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `example-orders-${process.pid}` // one per run keeps runs apart
const started = Date.now()
const log = (text: string) => console.log(`[+${((Date.now() - started) / 1000).toFixed(2)}s] ${text}`)

interface Order {
  id: string
  amount: number
}

const shop = await createRedkit({ url, prefix })
const orders = shop.queue<Order>('orders')

// Idempotent add: the order id is the job id, so a producer retrying after a timeout adds nothing twice.
for (let i = 1; i <= 20; i++) await orders.add({ id: `A-${i}`, amount: i * 10 }, { jobId: `order:A-${i}` })
await orders.add({ id: 'A-20', amount: 200 }, { jobId: 'order:A-20' }) // a duplicate: not added
await orders.add({ id: 'A-bad', amount: -1 }, { jobId: 'order:A-bad' })

// The payment service is flaky: the first call for every third order times out, and the first two
// for every seventh. (Fixed, not random, so that every run ends the same way: four attempts always
// suffice.) The handler uses the job id as its idempotency key, so a redelivered order is never
// charged twice.
const charged = new Set<string>()
const calls = new Map<string, number>()
async function charge(order: Order, idempotencyKey: string): Promise<string> {
  if (order.amount < 0) throw new UnrecoverableError(`invalid amount ${order.amount}`)
  await new Promise((resolve) => setTimeout(resolve, 20))
  const call = (calls.get(order.id) ?? 0) + 1
  calls.set(order.id, call)
  const n = Number(order.id.slice(2))
  if ((n % 3 === 0 && call === 1) || (n % 7 === 0 && call <= 2)) throw new Error('payment gateway timeout')
  charged.add(idempotencyKey)
  return `receipt-${order.id}`
}

// Three workers, as three processes would be. Worker 3 "dies" after its first job: it closes
// without finishing (a crash stops renewing leases the same way), and its order is taken back.
const pool = await Promise.all([1, 2, 3].map(() => createRedkit({ url, prefix })))
const workers = pool.map((rk, n) =>
  rk.worker<Order, string>(
    'orders',
    async (job) => {
      if (n === 2 && job.attemptsMade === 0 && !charged.has('crashed')) {
        charged.add('crashed')
        log(`worker 3 took ${job.id} and dies`)
        void rk.close()
        return new Promise<string>(() => {}) // never finishes
      }
      return charge(job.data, job.id)
    },
    { concurrency: 2, attempts: 4, backoff: { type: 'exponential', delayMs: 50 }, visibilityTimeoutMs: 1000, closeTimeoutMs: 0 },
  ),
)
for (const [n, worker] of workers.entries()) {
  worker.on('failed', (job, error, retryInMs) => log(`worker ${n + 1}: ${job.id} failed (${error.message}), retry in ${retryInMs} ms`))
  worker.on('dead', (id, error) => log(`worker ${n + 1}: ${id} dead-lettered: ${error.message}`))
}

const monitor = setInterval(async () => {
  const counts = await orders.counts()
  if (counts.completed + counts.dead < 21) return
  clearInterval(monitor)
  log(`done: ${JSON.stringify(counts)}`)
  const [dead] = await orders.jobs('dead')
  log(`dead letter ${dead?.id}: ${dead?.error?.message} after ${dead?.attemptsMade} attempt(s)`)
  log(`orders charged: ${charged.size - 1} (each once)`)
  await Promise.all(pool.map((rk) => rk.close()))
  await orders.destroy()
  await shop.close()
}, 100)
