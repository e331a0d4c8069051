import './style.css'
import { LiveChart } from './chart.js'
import { byId } from './dom.js'
import { renderDevices, setupDevices } from './panels/devices.js'
import { renderInventory } from './panels/inventory.js'
import { renderLocks, setupLocks } from './panels/locks.js'
import { refreshJobs, renderQueue, setupQueue } from './panels/queue.js'
import { renderStats, setupChat, setupStats } from './panels/stats.js'
import type { Snapshot } from './types.js'

// The dashboard: one EventSource on /api/events. Every `snapshot` redraws the panels; job events
// also refresh the job list. Everything shown comes from the service; nothing is simulated here.

const status = byId('status')
const latenessChart = new LiveChart(byId('lateness-chart'), [
  { label: 'p50 ms', stroke: '#1e88e5' },
  { label: 'p99 ms', stroke: '#c62828' },
])
const cacheChart = new LiveChart(byId('cache-chart'), [{ label: 'hit ratio %', stroke: '#2e7d32' }])
const throughputChart = new LiveChart(byId('throughput-chart'), [
  { label: 'completed/s', stroke: '#2e7d32' },
  { label: 'failed/s', stroke: '#ef6c00' },
  { label: 'dead/s', stroke: '#c62828' },
])
const pageViewChart = new LiveChart(byId('page-view-chart'), [{ label: 'views/min', stroke: '#6a1b9a', fill: 'rgba(106,27,154,0.2)' }], {
  bars: true,
})

let previous: Snapshot | undefined

function render(snapshot: Snapshot): void {
  renderDatabase(snapshot)
  renderDevices(snapshot)
  renderInventory(snapshot)
  renderLocks(snapshot)
  renderQueue(snapshot)
  renderStats(snapshot, pageViewChart)
  renderExpirations(snapshot)
  renderCache(snapshot)
  // Rates over at least a second: snapshots also come soon after events, a few ms apart.
  if (!previous) previous = snapshot
  else if (snapshot.at - previous.at >= 1000) {
    const seconds = (snapshot.at - previous.at) / 1000
    const rate = (key: 'completed' | 'failed' | 'dead') =>
      Math.max(0, (snapshot.queues.outcomes[key] - (previous as Snapshot).queues.outcomes[key]) / seconds)
    throughputChart.push(snapshot.at, rate('completed'), rate('failed'), rate('dead'))
    previous = snapshot
  }
}

function renderDatabase(snapshot: Snapshot): void {
  const { state, ms, error } = snapshot.database
  const line = byId('database-status')
  line.dataset.state = state
  if (state === 'open') line.textContent = ''
  else if (state === 'opening') line.textContent = `demo database opening (${Math.round(ms / 1000)} s): users and inventory answer once it is open`
  else line.textContent = `demo database unavailable: ${error ?? 'unknown error'}`
}

function renderExpirations(snapshot: Snapshot): void {
  const { count, p50, p99, recent } = snapshot.expirations
  byId('lateness').textContent = count === 0 ? 'no expirations yet' : `${count} recent expirations, lateness p50 ${p50} ms, p99 ${p99} ms`
  if (count > 0) latenessChart.push(snapshot.at, p50 ?? null, p99 ?? null)
  const list = byId('expiry-list')
  list.replaceChildren(
    ...recent.slice(0, 8).map((event) => {
      const li = document.createElement('li')
      const key = document.createElement('span')
      key.className = 'grow'
      key.textContent = event.key
      li.append(key, `${event.lateMs} ms late`)
      return li
    }),
  )
}

function renderCache(snapshot: Snapshot): void {
  const { stats, hitRatio, databaseReads } = snapshot.cache
  byId('cache-stats').textContent =
    `hit ratio ${hitRatio === null ? '–' : `${(hitRatio * 100).toFixed(1)} %`} · hits ${stats.hits} (near ${stats.nearHits}) · ` +
    `misses ${stats.misses} (coalesced ${stats.coalesced}) · loads ${stats.loads} · stale served ${stats.stale} · ` +
    `database reads ${databaseReads}`
  if (hitRatio !== null) cacheChart.push(snapshot.at, Math.round(hitRatio * 1000) / 10)
}

function connect(): void {
  const source = new EventSource('/api/events')
  source.addEventListener('open', () => {
    status.textContent = 'live'
    status.classList.add('live')
  })
  source.addEventListener('error', () => {
    status.textContent = 'reconnecting…'
    status.classList.remove('live')
  })
  source.addEventListener('snapshot', (event) => render(JSON.parse((event as MessageEvent).data) as Snapshot))
  source.addEventListener('job', () => refreshJobs())
}

setupDevices()
setupLocks()
setupQueue()
setupStats()
setupChat()
connect()
