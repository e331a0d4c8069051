import { api, button, byId, el, relative } from '../dom.js'
import { notify } from '../notify.js'
import type { JobInfo, Snapshot } from '../types.js'

const STATES = ['waiting', 'delayed', 'active', 'completed', 'dead'] as const
let state: (typeof STATES)[number] = 'waiting'
let selected: string | undefined
let paused = false
let refreshing: Promise<void> | undefined
let again = false

export function setupQueue(): void {
  const enqueue = (body: Record<string, unknown>) => api('POST', '/api/jobs', body).catch(notify)
  byId('enqueue-ok').addEventListener('click', () => enqueue({ kind: 'ok', ms: 200 }))
  byId('enqueue-slow').addEventListener('click', () => enqueue({ kind: 'slow', ms: 5000 }))
  byId('enqueue-delayed').addEventListener('click', () => enqueue({ kind: 'ok', delayMs: 10_000 }))
  byId('enqueue-fail').addEventListener('click', () =>
    enqueue({ kind: 'fail', ms: 50, attempts: 2, backoffMs: 300, message: 'failed on purpose (dashboard)' }),
  )
  byId('queue-pause').addEventListener('click', () => api('POST', `/api/queues/jobs/${paused ? 'resume' : 'pause'}`).catch(notify))
  byId('retry-all').addEventListener('click', () => api('POST', '/api/queues/jobs/retry-dead').catch(notify))
  byId('schedule-add').addEventListener('click', () =>
    api('POST', '/api/schedules', { id: 'every-10s', kind: 'ok', everyMs: 10_000 })
      .then(refreshSchedules)
      .catch(notify),
  )
  byId('job-tabs').replaceChildren(
    ...STATES.map((name) =>
      button(
        name,
        () => {
          state = name
          refreshJobs()
        },
        { 'data-testid': `jobs-${name}`, 'data-state': name },
      ),
    ),
  )
  refreshJobs()
  refreshSchedules()
  setInterval(refreshSchedules, 5000)
}

export function renderQueue(snapshot: Snapshot): void {
  const { counts, dead, workers } = snapshot.queues
  paused = snapshot.queues.paused
  byId('queue-paused').hidden = !paused
  byId('queue-pause').textContent = paused ? 'Resume' : 'Pause'
  byId('queue-counts').replaceChildren(
    ...Object.entries(counts)
      .filter((entry): entry is [string, number] => typeof entry[1] === 'number')
      .map(([name, count]) =>
      el('span', { class: `badge${name === 'dead' && count > 0 ? ' dead' : ''}`, 'data-testid': `count-${name}` }, `${name} ${count}`),
    ),
  )
  byId('dead-list').replaceChildren(
    ...(dead.length === 0
      ? [el('li', { class: 'muted' }, 'none')]
      : dead.map((job) =>
          el(
            'li',
            { 'data-testid': `dead-${job.id}` },
            el('span', { class: 'grow' }, `${job.id}: ${job.error ?? ''} (${job.attemptsMade} attempts)`),
            button('Retry', () => retry(job.id), { 'data-testid': `retry-${job.id}` }),
          ),
        )),
  )
  byId('workers').textContent =
    workers.length === 0
      ? 'no worker connected'
      : `${workers.length} worker${workers.length === 1 ? '' : 's'}: ` +
        workers
          .map((w) => `${w.host}:${w.pid}${w.here ? ' (this service)' : ''} × ${w.concurrency}, seen ${secondsAgo(w.lastSeenAt)}`)
          .join(' · ')
}

/** Reloads the job list of the selected state (coalesced) and the selected job's detail. */
export function refreshJobs(): void {
  if (refreshing) {
    again = true
    return
  }
  refreshing = (async () => {
    for (const tab of byId('job-tabs').querySelectorAll('button')) tab.classList.toggle('active', tab.dataset.state === state)
    const { jobs } = await api<{ jobs: JobInfo[] }>('GET', `/api/jobs?state=${state}&limit=50`)
    byId('job-list').replaceChildren(
      ...(jobs.length === 0
        ? [el('li', { class: 'muted' }, `no ${state} jobs`)]
        : jobs.map((job) => {
            const item = el(
              'li',
              { class: `clickable${job.id === selected ? ' selected' : ''}`, 'data-testid': `job-${job.id}` },
              el('span', { class: 'grow' }, job.id),
              el('small', {}, `${(job.data as { kind?: string })?.kind ?? ''} · ${relative(job.finishedAt ?? job.startedAt ?? job.createdAt)}`),
            )
            item.addEventListener('click', () => {
              selected = job.id
              refreshJobs()
            })
            return item
          })),
    )
    if (selected) await showJob(selected)
  })()
    .catch(notify)
    .finally(() => {
      refreshing = undefined
      if (again) {
        again = false
        refreshJobs()
      }
    })
}

async function showJob(id: string): Promise<void> {
  const response = await fetch(`/api/jobs/${encodeURIComponent(id)}`)
  const actions = byId('job-actions')
  if (response.status !== 200) {
    byId('job-detail').textContent = `job ${id} is gone (removed, or completed and cleaned)`
    actions.replaceChildren()
    return
  }
  const job = (await response.json()) as JobInfo
  const logs = await api<{ count: number; logs: string[] }>('GET', `/api/jobs/${encodeURIComponent(id)}/logs?limit=50`).catch(() => undefined)
  byId('job-detail').textContent =
    JSON.stringify(job, null, 2) + (logs ? `\n\nlogs (${logs.count}):\n${logs.logs.join('\n') || '(none)'}` : '')
  const path = `/api/jobs/${encodeURIComponent(job.id)}`
  actions.replaceChildren(
    ...(job.state === 'dead' ? [button('Retry', () => retry(job.id))] : []),
    ...(job.state === 'delayed'
      ? [button('Promote', () => api('POST', `${path}/promote`).then(refreshJobs).catch(notify), { 'data-testid': `promote-${job.id}` })]
      : []),
    ...(job.state === 'waiting' || job.state === 'delayed'
      ? [button('Remove', () => api('DELETE', `/api/jobs/${encodeURIComponent(job.id)}`).then(refreshJobs).catch(notify))]
      : []),
  )
}

function retry(id: string): void {
  api('POST', `/api/jobs/${encodeURIComponent(id)}/retry`).then(refreshJobs).catch(notify)
}

async function refreshSchedules(): Promise<void> {
  try {
    const { schedules } = await api<{ schedules: Array<{ id: string; everyMs?: number; cron?: string; nextRunAt?: number }> }>(
      'GET',
      '/api/schedules',
    )
    byId('schedule-list').replaceChildren(
      ...(schedules.length === 0
        ? [el('li', { class: 'muted' }, 'none')]
        : schedules.map((s) =>
            el(
              'li',
              {},
              el('span', { class: 'grow' }, `${s.id}: ${s.cron ?? `every ${(s.everyMs ?? 0) / 1000} s`}`),
              el('small', {}, s.nextRunAt ? `next ${relative(s.nextRunAt)}` : ''),
              button('Cancel', () => api('DELETE', `/api/schedules/${encodeURIComponent(s.id)}`).then(refreshSchedules).catch(notify)),
            ),
          )),
    )
  } catch (error) {
    notify(error)
  }
}

function secondsAgo(at: number): string {
  const s = Math.max(0, Math.round((Date.now() - at) / 1000))
  return s === 0 ? 'now' : `${s} s ago`
}
