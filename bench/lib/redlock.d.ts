// redlock 5's package.json "exports" hides its own typings from TypeScript's NodeNext resolution;
// this declares the part the lock benchmark uses.
declare module 'redlock' {
  import type { Redis } from 'ioredis'
  export interface RedlockSettings {
    driftFactor?: number
    retryCount?: number
    retryDelay?: number
    retryJitter?: number
    automaticExtensionThreshold?: number
  }
  export interface RedlockLock {
    release(): Promise<unknown>
  }
  export default class Redlock {
    constructor(clients: Iterable<Redis>, settings?: RedlockSettings)
    acquire(resources: string[], duration: number): Promise<RedlockLock>
  }
}
