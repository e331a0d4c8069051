import type { Codec } from './codec.js'
import type { Connection, Topology } from './connection.js'
import type { KeySpace } from './keys.js'

/** Something a component registers so that `rk.close()` stops it (workers, sweepers, flushers). */
export type Closer = () => Promise<void> | void

/**
 * What every component receives from redkit: the connection, the key builder, the codec and a way
 * to be stopped on close. Modules depend on this interface, never on the Redkit class, so module
 * imports stay acyclic.
 */
export interface RedkitContext {
  readonly connection: Connection
  readonly keys: KeySpace
  readonly codec: Codec
  readonly topology: Topology
  onClose(closer: Closer): () => void
}
