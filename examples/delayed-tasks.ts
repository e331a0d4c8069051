/**
 * Delayed and repeating tasks: a welcome email sent later (and one cancelled), and a cleanup that
 * repeats, each run once per due time although three processes schedule and serve them.
 *
 * The naive version keeps a setTimeout in memory (lost on restart, run by every instance) or polls
 * a sorted set in a loop. Here a delayed task is a job due at a time (idempotent by id, cancellable
 * until it starts); a repeating task's occurrences are jobs whose ids carry their due time, so
 * every process may register the schedule at boot and each due time still runs once.
 *
 *   npx tsx examples/delayed-tasks.ts       # REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { createRedkit } from '../src/index.js' // in an application: from 'redkit'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `example-tasks-${process.pid}`
const started = Date.now()
const log = (text: string) => console.log(`[+${((Date.now() - started) / 1000).toFixed(2)}s] ${text}`)

// Three application processes, each with a worker for both queues.
const apps = await Promise.all([1, 2, 3].map(() => createRedkit({ url, prefix })))
for (const [n, rk] of apps.entries()) {
  rk.worker<{ to: string }>('emails', (job) => log(`app ${n + 1} sends the email ${job.id} to ${job.data.to}`))
  rk.worker<{ olderThanDays: number }>('maintenance', (job) =>
    log(`app ${n + 1} runs ${job.id} (cleanup > ${job.data.olderThanDays} days)`),
  )
}

// "Send the welcome email 5 minutes after sign-up" — 1.5 s here, to keep the demo short.
const [first] = apps
if (!first) throw new Error('no app')
await first.scheduler.schedule({ queue: 'emails', id: 'welcome:ann', data: { to: 'ann@example.com' }, delayMs: 1500 })
await first.scheduler.schedule({ queue: 'emails', id: 'welcome:bob', data: { to: 'bob@example.com' }, delayMs: 1500 })
// Bob deletes his account before it goes out.
log(`cancel welcome:bob: ${await first.scheduler.cancel('emails', 'welcome:bob')}`)

// "Clean up every 24 hours" — every second here. Every process registers it at boot: one schedule.
for (const rk of apps) {
  const { changed, nextRunAt } = await rk.scheduler.repeat({
    queue: 'maintenance',
    id: 'cleanup',
    data: { olderThanDays: 30 },
    everyMs: 1000,
  })
  log(`register cleanup: ${changed ? 'created' : 'already there'}, next run at +${(((nextRunAt ?? 0) - started) / 1000).toFixed(2)}s`)
}
// A cron schedule, in a time zone: 09:00 on weekdays in Paris.
await first.scheduler.repeat({
  queue: 'maintenance',
  id: 'weekday-report',
  data: { olderThanDays: 1 },
  cron: '0 9 * * MON-FRI',
  timeZone: 'Europe/Paris',
})
for (const s of await first.scheduler.list('maintenance')) log(`schedule ${s.id}: next at ${new Date(s.nextRunAt ?? 0).toISOString()}`)

await new Promise((resolve) => setTimeout(resolve, 3500))
await first.scheduler.cancel('maintenance', 'cleanup')
await first.scheduler.cancel('maintenance', 'weekday-report')
await Promise.all(['emails', 'maintenance'].map((q) => first.queue(q).destroy()))
await Promise.all(apps.map((rk) => rk.close()))
