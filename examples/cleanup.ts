/**
 * What the examples do last: remove the keys their run wrote. SCAN runs on every master and each
 * DEL is routed by its key, so it works on Cluster too. (An application does not need this: it
 * keeps its keys, and a test suite uses a random prefix per test.)
 */
import { createRedkit, type Redkit } from '../src/index.js' // in an application: from 'redkit'

export async function removeKeys(redkit: Redkit, pattern: string): Promise<void> {
  for (const node of redkit.connection.masters()) {
    let cursor = '0'
    do {
      const [next, keys] = await node.send<[string, string[]]>(['SCAN', cursor, 'MATCH', pattern, 'COUNT', '500'])
      for (const key of keys) await redkit.connection.send(['DEL', key], { key })
      cursor = String(next)
    } while (cursor !== '0')
  }
}

/** Removes every key under `prefix` through an instance of its own, once the example's instances are closed. */
export async function removeRunKeys(url: string, prefix: string): Promise<void> {
  const cleaner = await createRedkit({ url, prefix })
  try {
    await removeKeys(cleaner, `${prefix}:*`)
  } finally {
    await cleaner.close()
  }
}
