import { randomUUID } from 'node:crypto'
import { Component } from '../core/component.js'
import type { RedkitContext } from '../core/context.js'
import { errors } from '../core/errors.js'
import { escapeGlob } from '../core/keys.js'
import { count, durationMs, optionsObject, wellFormedString } from '../core/validate.js'
import type { Expirations, ExpiryEvent, Subscription } from '../events/index.js'
import { inventoryName, lapseMarker, type ProductKeys, productKeys } from './keys.js'
import { addStockScript, reserveScript, settleScript } from './scripts.js'

export interface InventoryOptions {
  /** How long a reservation holds its units before they return to stock. @defaultValue 1_800_000 (30 min) */
  lapseMs?: number
  /**
   * How long a settled reservation's record is kept (for confirm/cancel answers and audits). A
   * reservation not yet settled keeps its record however late its lapse is handled. @defaultValue 86_400_000
   */
  keepMs?: number
  /** Consumer group of the lapse events: every process of one application shares it. @defaultValue 'inventory:<name>' */
  group?: string
}

export interface Reservation {
  id: string
  product: string
  qty: number
  user: string
  /** When the units return to stock unless confirmed (epoch ms, server clock). */
  expiresAt: number
}

/** What a lapse marker's expiry event carries. */
interface Lapse {
  product: string
  id: string
  gen: string
}

/**
 * Stock and reservations that return their units when they lapse (`rk.inventory(name)`). Each
 * reservation is one script that never lets stock go below zero, so no lock is needed around it;
 * its lapse is a reliable expiry event (`rk.expirations`, at least once), written before the
 * reservation, so a crash in between leaves nothing reserved; settling is idempotent and checks a
 * per-reservation generation, so a late lapse event never touches a newer reservation of the same id.
 */
export class Inventory extends Component {
  readonly #ctx: RedkitContext
  readonly #inventory: string
  readonly #expirations: () => Expirations
  readonly #lapseMs: number
  readonly #keepMs: number
  readonly #group: string
  #subscription: Promise<Subscription> | undefined

  constructor(ctx: RedkitContext, name: string, input: InventoryOptions | undefined, expirations: () => Expirations) {
    const inventory = inventoryName(name, 'inventory name')
    super({ name: `inventory ${inventory}`, host: ctx })
    const options = optionsObject(input, 'inventory options')
    this.#ctx = ctx
    this.#inventory = inventory
    this.#expirations = expirations
    this.#lapseMs = durationMs(options.lapseMs ?? 1_800_000, 'lapseMs')
    this.#keepMs = durationMs(options.keepMs ?? 86_400_000, 'keepMs')
    this.#group = wellFormedString(options.group ?? `inventory:${inventory}`, 'group')
  }

  /** Starts returning lapsed reservations' units (done by the first reserve; call it in processes that only settle). */
  start(): Promise<void> {
    this.assertOpen()
    this.#subscription ??= this.#expirations().on<Lapse>(
      `${this.#ctx.keys.prefix}:{inv:${escapeGlob(this.#inventory)}:*}:lapse:*`,
      (event) => this.#lapse(event),
      { group: this.#group, withValue: true },
    )
    return this.#subscription.then(() => {})
  }

  /** Sets the units available (not counting those reserved). */
  async setStock(product: string, units: number): Promise<void> {
    const keys = this.#keys(product, '-')
    await this.#ctx.connection.send(['SET', keys.stock, String(count(units, 'units', { allowZero: true }))], { key: keys.stock })
  }

  /** Adds (or with a negative number, removes) units; never goes below zero. @returns the units available */
  async addStock(product: string, units: number): Promise<number> {
    if (!Number.isSafeInteger(units)) throw errors.invalidArgument('units', 'a safe integer', units)
    const keys = this.#keys(product, '-')
    // One script: a removal larger than the stock is refused without writing anything.
    const [added, value] = await addStockScript.call(this.#ctx.connection, keys, [units])
    if (added !== 1) throw errors.invalidArgument('units', `at most the ${value} available`, -units)
    return Number(value)
  }

  /** Units available now (not counting those reserved). */
  async available(product: string): Promise<number> {
    const keys = this.#keys(product, '-')
    return Number((await this.#ctx.connection.send<string | null>(['GET', keys.stock], { key: keys.stock })) ?? 0)
  }

  /**
   * Reserves `qty` units for `user` until the lapse; `id` (e.g. a cart) defaults to a random one.
   * @returns the reservation, or undefined when not enough units are available
   * @throws RedkitError E_INVALID_ARGUMENT when `id` holds a live reservation
   */
  async reserve(product: string, qty: number, user: string, options: { id?: string } = {}): Promise<Reservation | undefined> {
    this.assertOpen()
    count(qty, 'qty')
    wellFormedString(user, 'user', { maxLength: 1024 })
    const id = optionsObject(options).id ?? randomUUID()
    const keys = this.#keys(product, id)
    const gen = randomUUID()
    await this.start()
    // The lapse marker first: if this process dies before the reservation, the marker lapses
    // onto nothing; the other way round, reserved units could never come back.
    const marker = this.#marker(product, id, gen)
    await this.#expirations().set(marker, { product, id, gen } satisfies Lapse, { ttlMs: this.#lapseMs })
    let reply: [number, number]
    try {
      reply = await reserveScript.call(this.#ctx.connection, keys, [qty, user, gen, this.#lapseMs, this.#keepMs])
    } catch (error) {
      await this.#expirations()
        .delete(marker)
        .catch(() => {})
      throw error
    }
    const [status, value] = reply
    if (status === 1) return { id, product, qty, user, expiresAt: value }
    await this.#expirations()
      .delete(marker)
      .catch(() => {})
    if (status === -1) throw errors.invalidArgument('id', 'free: it holds a live reservation', id)
    return undefined
  }

  /** The units are sold. @returns false when the reservation had lapsed or was settled already */
  confirm(product: string, id: string): Promise<boolean> {
    return this.#settle(product, id, 'confirm')
  }

  /** The units return to stock. @returns false when the reservation had lapsed or was settled already */
  cancel(product: string, id: string): Promise<boolean> {
    return this.#settle(product, id, 'cancel')
  }

  protected override async teardown(): Promise<void> {
    const subscription = await this.#subscription?.catch(() => undefined)
    await subscription?.close()
  }

  async #settle(product: string, id: string, op: 'confirm' | 'cancel'): Promise<boolean> {
    this.assertOpen()
    const [status, gen] = await settleScript.call(this.#ctx.connection, this.#keys(product, id), [op, '', this.#keepMs])
    if (status === 1)
      await this.#expirations()
        .delete(this.#marker(product, id, String(gen)))
        .catch(() => {})
    return status === 1
  }

  async #lapse(event: ExpiryEvent<Lapse>): Promise<void> {
    const lapse = event.value
    if (!lapse || typeof lapse.product !== 'string' || typeof lapse.id !== 'string' || typeof lapse.gen !== 'string') return
    const [status, left] = await settleScript.call(this.#ctx.connection, this.#keys(lapse.product, lapse.id), [
      'lapse',
      lapse.gen,
      this.#keepMs,
    ])
    // The marker lapsed before the reservation's own expiry (it is written first, a round trip or
    // more earlier): arm it again for what is left, so the units return at `expiresAt`, not before.
    if (status === 2)
      await this.#expirations().set(this.#marker(lapse.product, lapse.id, lapse.gen), lapse, { ttlMs: Math.max(1, Number(left)) })
  }

  #keys(product: string, id: string): ProductKeys {
    return productKeys(this.#ctx, this.#inventory, product, wellFormedString(id, 'id', { maxLength: 256 }))
  }

  #marker(product: string, id: string, gen: string): string {
    return lapseMarker(this.#ctx, this.#inventory, product, id, gen)
  }
}
