import { api, button, byId, el, relative } from '../dom.js'
import { notify } from '../notify.js'
import type { Snapshot } from '../types.js'

let last: Snapshot | undefined

export function setupDevices(): void {
  byId<HTMLFormElement>('device-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const id = byId<HTMLInputElement>('device-id').value.trim()
    api('POST', `/api/simulator/devices/${encodeURIComponent(id)}/start`).catch(notify)
  })
  // Relative times move on between snapshots.
  setInterval(() => last && renderDevices(last), 1000)
}

export function renderDevices(snapshot: Snapshot): void {
  last = snapshot
  const { ttlMs, online, offline, simulated } = snapshot.devices
  byId('device-ttl').textContent = String(ttlMs / 1000)
  const simulatedById = new Map(simulated.map((device) => [device.id, device]))
  const rows: Array<{ id: string; online: boolean; lastBeat: number | undefined }> = []
  const seen = new Set<string>()
  for (const device of online) {
    rows.push({ id: device.id, online: true, lastBeat: device.lastBeat })
    seen.add(device.id)
  }
  for (const device of offline) {
    if (seen.has(device.id)) continue
    rows.push({ id: device.id, online: false, lastBeat: device.lastBeat })
    seen.add(device.id)
  }
  for (const device of simulated) if (!seen.has(device.id)) rows.push({ id: device.id, online: false, lastBeat: undefined })
  rows.sort((a, b) => a.id.localeCompare(b.id))
  const now = Date.now()
  byId('device-rows').replaceChildren(
    ...rows.map((row) => {
      const sim = simulatedById.get(row.id)
      const actions = el('td', {})
      if (sim?.running) actions.append(button('Stop', () => act(row.id, 'stop'), { 'data-testid': `device-stop-${row.id}` }))
      else if (sim) actions.append(button('Start', () => act(row.id, 'start')))
      if (sim) actions.append(' ', button('Kill', () => act(row.id, 'kill'), { 'data-testid': `device-kill-${row.id}` }))
      return el(
        'tr',
        { 'data-testid': `device-${row.id}`, 'data-state': row.online ? 'online' : 'offline' },
        el('td', {}, row.id, sim ? el('small', {}, ' (simulated)') : null),
        el('td', { class: row.online ? 'state-online' : 'state-offline' }, row.online ? 'online' : 'offline'),
        el('td', {}, row.lastBeat === undefined ? '–' : relative(row.lastBeat, now)),
        actions,
      )
    }),
  )
}

function act(id: string, action: 'start' | 'stop' | 'kill'): void {
  api('POST', `/api/simulator/devices/${encodeURIComponent(id)}/${action}`).catch(notify)
}
