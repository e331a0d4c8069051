import { api, button, byId, el, relative } from '../dom.js'
import { notify } from '../notify.js'
import type { Snapshot } from '../types.js'

let last: Snapshot | undefined
let carts = 0

export function renderInventory(snapshot: Snapshot): void {
  last = snapshot
  const { lapseMs, products, reservations } = snapshot.inventory
  byId('lapse').textContent = String(lapseMs / 1000)
  byId('product-rows').replaceChildren(
    ...products.map((product) =>
      el(
        'tr',
        { 'data-testid': `product-${product.id}` },
        el('td', {}, product.name),
        el('td', { 'data-testid': `available-${product.id}` }, product.available),
        el('td', {}, product.reserved),
        el(
          'td',
          {},
          product.available > 0
            ? button('Reserve 1', () => reserve(product.id), { 'data-testid': `reserve-${product.id}` })
            : el('small', {}, 'sold out'),
        ),
      ),
    ),
  )
  const now = Date.now()
  byId('reservations').replaceChildren(
    ...(reservations.length === 0
      ? [el('li', { class: 'muted' }, 'none')]
      : reservations.map((r) =>
          el(
            'li',
            { 'data-testid': `reservation-${r.id}` },
            el('span', { class: 'grow' }, `${r.qty} × ${r.product} for ${r.user}, lapses ${relative(r.expiresAt, now)}`),
            button('Confirm', () => settle(r.product, r.id, 'confirm')),
            button('Cancel', () => settle(r.product, r.id, 'cancel')),
          ),
        )),
  )
}

setInterval(() => last && renderInventory(last), 1000)

function reserve(product: string): void {
  carts++
  api('POST', `/api/inventory/${encodeURIComponent(product)}/reserve`, { qty: 1, user: `visitor-${carts}` }).catch(notify)
}

function settle(product: string, id: string, op: 'confirm' | 'cancel'): void {
  api('POST', `/api/inventory/${encodeURIComponent(product)}/${op}`, { id }).catch(notify)
}
