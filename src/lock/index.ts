export { type AcquireOptions, Lock, type LockOptions } from './lock.js'
