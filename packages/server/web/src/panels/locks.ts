import { api, byId, el, relative } from '../dom.js'
import { notify } from '../notify.js'
import type { Snapshot } from '../types.js'

export function setupLocks(): void {
  byId<HTMLFormElement>('lock-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const name = byId<HTMLInputElement>('lock-name').value.trim()
    api('POST', `/api/locks/${encodeURIComponent(name)}/hold`, { ms: 3000 }).catch(notify)
  })
}

export function renderLocks(snapshot: Snapshot): void {
  const now = Date.now()
  byId('lock-list').replaceChildren(
    ...(snapshot.locks.length === 0
      ? [el('li', { class: 'muted' }, 'no lock held or awaited')]
      : snapshot.locks.map((lock) =>
          el(
            'li',
            { 'data-testid': `lock-${lock.name}`, 'data-waiters': String(lock.waiters.length) },
            el('b', {}, lock.name),
            el(
              'span',
              { class: 'grow' },
              lock.holder
                ? `held (token ${lock.holder.token ?? '?'}), releases ${relative((lock.holder.acquiredAt ?? now) + lock.holder.holdMs, now)}`
                : 'free',
            ),
            el('span', { class: `badge${lock.waiters.length > 0 ? ' dead' : ''}` }, `${lock.waiters.length} waiting`),
          ),
        )),
  )
}
