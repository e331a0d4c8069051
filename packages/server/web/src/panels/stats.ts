import type { LiveChart } from '../chart.js'
import { api, byId, el } from '../dom.js'
import { notify } from '../notify.js'
import type { Snapshot } from '../types.js'

const visitor = `visitor-${Math.random().toString(36).slice(2, 8)}`

export function setupStats(): void {
  byId('page-view').addEventListener('click', () => api('POST', '/api/pages/dashboard/view', { visitor }).catch(notify))
  byId<HTMLFormElement>('score-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const player = byId<HTMLInputElement>('player').value.trim()
    api('POST', `/api/leaderboard/${encodeURIComponent(player)}/score`, { by: 10 }).catch(notify)
  })
  byId('rate-hit').addEventListener('click', async () => {
    // A 429 is an answer here, not a failure: read it without letting the browser log an error.
    const response = await fetch('/api/limited', { headers: { 'x-client-id': 'dashboard' } })
    byId('rate-last').textContent =
      response.status === 429 ? `denied, retry after ${response.headers.get('retry-after')} s` : `allowed (${response.headers.get('ratelimit') ?? ''})`
  })
  byId<HTMLFormElement>('user-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const id = byId<HTMLInputElement>('user-id').value
    api('GET', `/api/users/${encodeURIComponent(id)}`)
      .then((user) => {
        byId('user-result').textContent = JSON.stringify(user, null, 2)
      })
      .catch((error: Error) => {
        byId('user-result').textContent = error.message
      })
  })
}

export function renderStats(snapshot: Snapshot, chart: LiveChart): void {
  const { buckets, uniqueVisitorsLastHour } = snapshot.pageViews
  const total = buckets.reduce((sum, bucket) => sum + bucket.value, 0)
  byId('page-view-stats').textContent = `${total} views in the last ${buckets.length} minutes · ${uniqueVisitorsLastHour} unique visitors in the last hour`
  chart.set(
    buckets.map((b) => b.start),
    buckets.map((b) => b.value),
  )
  byId('leaderboard').replaceChildren(
    ...(snapshot.leaderboard.length === 0
      ? [el('li', { class: 'muted' }, 'no scores yet')]
      : snapshot.leaderboard.map((entry) => el('li', {}, el('span', { class: 'grow' }, entry.member), String(entry.score)))),
  )
  const { limit, windowMs, allowed, denied } = snapshot.rateLimit
  byId('rate-policy').textContent = `${limit} per ${windowMs / 1000} s per client`
  byId('rate-stats').textContent = `decisions: ${allowed} allowed, ${denied} denied`
}

export function setupChat(): void {
  const list = byId('chat-messages')
  const source = new EventSource('/api/chat/lobby')
  source.addEventListener('message', (event) => {
    const message = JSON.parse((event as MessageEvent).data) as { from: string; text: string; at: number }
    list.append(el('li', {}, el('b', {}, message.from), message.text))
    while (list.children.length > 100) list.firstElementChild?.remove()
    list.scrollTop = list.scrollHeight
  })
  byId<HTMLFormElement>('chat-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const text = byId<HTMLInputElement>('chat-text')
    api('POST', '/api/chat/lobby', { from: byId<HTMLInputElement>('chat-from').value.trim(), text: text.value })
      .then(() => {
        text.value = ''
      })
      .catch(notify)
  })
}
