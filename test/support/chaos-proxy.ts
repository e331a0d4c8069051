import net from 'node:net'

/**
 * A TCP proxy on a free loopback port in front of a target host:port, for chaos tests: point a
 * client at `proxy.url` instead of the server, then cut, stall, delay or refuse its connections.
 */

export interface ChaosProxyTarget {
  host: string
  port: number
}

export interface ChaosProxy {
  /** The proxy's loopback port. */
  readonly port: number
  /** redis://127.0.0.1:<port> */
  readonly url: string
  /** Destroys every open connection pair (client side and server side) now. */
  cut(): void
  /** Stops forwarding bytes both ways; sockets stay open and bytes are buffered until `resume()`. */
  pause(): void
  /** Forwards everything buffered during `pause()`, in order, then forwards normally again. */
  resume(): void
  /**
   * Stops forwarding on the connections open now, for good: a half-open connection (no error, no
   * data, as after a NAT or firewall dropped its state). New connections are forwarded normally.
   */
  freeze(): void
  /** While on, new connections are accepted and then immediately destroyed. Open ones are kept. */
  refuse(on: boolean): void
  /** Delays each forwarded chunk by `ms`, one way (a request/reply round trip gets 2 × ms). Order is preserved. */
  setLatency(ms: number): void
  /** Connection pairs whose two sockets are both still open. */
  connections(): number
  /** Destroys every connection and stops listening. */
  close(): Promise<void>
}

interface Shared {
  paused: boolean
  latencyMs: number
}

/** One direction of one connection: chunks wait here for their due time and for `resume()`. */
class Lane {
  private readonly queue: Array<{ due: number; chunk: Buffer | null }> = []
  private timer: NodeJS.Timeout | undefined
  private lastDue = 0
  private ended = false
  /** Set by freeze(): nothing is forwarded any more. */
  frozen = false

  constructor(
    private readonly shared: Shared,
    private readonly destination: net.Socket,
  ) {}

  push(chunk: Buffer): void {
    if (this.ended) return
    this.enqueue(chunk)
  }

  /** The source finished: end the destination once everything queued before has been delivered. */
  pushEnd(): void {
    if (this.ended) return
    this.ended = true
    this.enqueue(null)
  }

  cancel(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    this.queue.length = 0
  }

  drain(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.shared.paused || this.frozen) return
    const now = performance.now()
    for (let head = this.queue[0]; head !== undefined; head = this.queue[0]) {
      if (head.due > now) {
        this.timer = setTimeout(() => this.drain(), Math.ceil(head.due - now))
        this.timer.unref()
        return
      }
      this.queue.shift()
      if (this.destination.destroyed) continue
      if (head.chunk === null) this.destination.end()
      else this.destination.write(head.chunk)
    }
  }

  private enqueue(chunk: Buffer | null): void {
    // Never schedule a chunk before an earlier one, even when the latency was lowered meanwhile.
    const due = Math.max(performance.now() + this.shared.latencyMs, this.lastDue)
    this.lastDue = due
    this.queue.push({ due, chunk })
    if (this.timer === undefined) this.drain()
  }
}

interface Pair {
  client: net.Socket
  upstream: net.Socket
  lanes: [Lane, Lane]
}

export async function startChaosProxy(target: ChaosProxyTarget): Promise<ChaosProxy> {
  const shared: Shared = { paused: false, latencyMs: 0 }
  const pairs = new Set<Pair>()
  let refusing = false
  let closed = false

  const destroyPair = (pair: Pair) => {
    pairs.delete(pair)
    for (const lane of pair.lanes) lane.cancel()
    pair.client.destroy()
    pair.upstream.destroy()
  }

  const server = net.createServer((client) => {
    if (refusing || closed) {
      client.on('error', () => {})
      client.destroy()
      return
    }
    const upstream = net.connect({ host: target.host, port: target.port })
    const toUpstream = new Lane(shared, upstream)
    const toClient = new Lane(shared, client)
    const pair: Pair = { client, upstream, lanes: [toUpstream, toClient] }
    pairs.add(pair)

    const wire = (source: net.Socket, lane: Lane) => {
      source.on('error', () => {})
      source.on('data', (chunk: Buffer) => lane.push(chunk))
      source.on('end', () => lane.pushEnd())
      source.on('close', (hadError) => {
        // A reset (or a failed upstream connect) propagates as a reset; a clean close as a clean
        // close, after the bytes still queued in the lane have been delivered.
        if (hadError) destroyPair(pair)
        else lane.pushEnd()
        if (pair.client.destroyed && pair.upstream.destroyed) destroyPair(pair)
      })
    }
    wire(client, toUpstream)
    wire(upstream, toClient)
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.removeListener('error', reject)
      resolve()
    })
  })
  const address = server.address()
  if (address === null || typeof address !== 'object') throw new Error('chaos proxy: no address')
  const port = address.port

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cut() {
      for (const pair of [...pairs]) destroyPair(pair)
    },
    pause() {
      shared.paused = true
    },
    resume() {
      shared.paused = false
      for (const pair of pairs) for (const lane of pair.lanes) lane.drain()
    },
    freeze() {
      for (const pair of pairs) for (const lane of pair.lanes) lane.frozen = true
    },
    refuse(on) {
      refusing = on
    },
    setLatency(ms) {
      if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`latency must be a finite number >= 0, got ${ms}`)
      shared.latencyMs = ms
    },
    connections() {
      let open = 0
      for (const pair of pairs) if (!pair.client.destroyed && !pair.upstream.destroyed) open++
      return open
    },
    close() {
      closed = true
      for (const pair of [...pairs]) destroyPair(pair)
      return new Promise<void>((resolve) => {
        if (!server.listening) return resolve()
        server.close(() => resolve())
      })
    },
  }
}
