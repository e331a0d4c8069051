import type { FastifyReply, FastifyRequest } from 'fastify'

/** One open server-sent-events stream. */
export interface SseStream {
  /** Writes one event; a no-op once the stream is closed. */
  send(event: string, data: unknown): void
  close(): void
  readonly closed: boolean
  /** Called once when the client goes away or the stream is closed. */
  onClose(listener: () => void): void
}

/** Every open stream of an app, ended by the app's preClose hook so shutdown never waits on them. */
export class SseStreams {
  readonly #open = new Set<SseStream>()

  get size(): number {
    return this.#open.size
  }

  /**
   * Takes over the reply and starts an SSE stream (`text/event-stream`, a comment every 15 s so
   * proxies keep it open).
   */
  open(request: FastifyRequest, reply: FastifyReply): SseStream {
    reply.hijack()
    const raw = reply.raw
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    })
    raw.write(': stream open\n\n')
    const listeners: Array<() => void> = []
    let closed = false
    const keepAlive = setInterval(() => raw.write(': keep-alive\n\n'), 15_000)
    keepAlive.unref()
    const finish = () => {
      if (closed) return
      closed = true
      clearInterval(keepAlive)
      this.#open.delete(stream)
      for (const listener of listeners) {
        try {
          listener()
        } catch {
          // a listener's failure must not keep the stream registered
        }
      }
    }
    const stream: SseStream = {
      send(event, data) {
        if (closed) return
        raw.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
      },
      close() {
        finish()
        raw.end()
      },
      get closed() {
        return closed
      },
      onClose(listener) {
        if (closed) listener()
        else listeners.push(listener)
      },
    }
    request.raw.on('close', finish)
    raw.on('close', finish)
    this.#open.add(stream)
    return stream
  }

  closeAll(): void {
    for (const stream of [...this.#open]) stream.close()
  }
}
