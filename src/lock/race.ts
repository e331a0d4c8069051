/** Resolves the promise's value, or 'timeout' at `until` (epoch ms), or 'aborted'. */
export function race<T>(promise: Promise<T>, until: number, signal: AbortSignal | undefined): Promise<T | 'timeout' | 'aborted'> {
  if (signal?.aborted) {
    promise.catch(() => {})
    return Promise.resolve('aborted')
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish('timeout'), Math.max(0, until - Date.now()))
    const onAbort = () => finish('aborted')
    signal?.addEventListener('abort', onAbort, { once: true })
    function finish(value: T | 'timeout' | 'aborted', error?: unknown) {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      if (error !== undefined) reject(error)
      else resolve(value)
    }
    promise.then(
      (value) => finish(value),
      (error: unknown) => finish(undefined as never, error ?? new Error('attempt failed')),
    )
  })
}
