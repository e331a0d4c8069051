import { existsSync, readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

// Every promise a module's docs make is a test named in its Guarantees table: each test file a row
// names must exist, and each test title it quotes ("…" may end an abbreviated one) must be in that file.
const root = new URL('../../', import.meta.url)

interface Reference {
  row: string
  file: string
  title?: string
}

function references(doc: string): Reference[] {
  const text = readFileSync(new URL(`docs/${doc}`, root), 'utf8')
  const table = /^## Guarantees\n+((?:\|.*\n?)+)/m.exec(text)?.[1] ?? ''
  const out: Reference[] = []
  for (const row of table.split('\n').slice(2)) {
    const cell = row.split(' | ')[1] ?? ''
    let file: string | undefined
    for (const match of cell.matchAll(/`(test\/[^`]+\.ts)`|"([^"]+)"/g)) {
      if (match[1]) {
        file = match[1]
        out.push({ row: row.slice(0, 60), file })
      } else if (file && match[2]) {
        out.push({ row: row.slice(0, 60), file, title: match[2].replace(/\s*…$/, '') })
      }
    }
  }
  return out
}

// The pages whose tables follow this form (a Test column of `test/...` paths and "quoted titles").
const DOCS = ['security.md']

describe('Guarantees tables name tests that exist', () => {
  it.each(DOCS)('%s', (doc) => {
    const refs = references(doc)
    expect(refs.length).toBeGreaterThan(0)
    const missing: string[] = []
    for (const { row, file, title } of refs) {
      if (!existsSync(new URL(file, root))) missing.push(`${row}: ${file} does not exist`)
      else if (title && !readFileSync(new URL(file, root), 'utf8').includes(title)) missing.push(`${row}: no test "${title}" in ${file}`)
    }
    expect(missing).toEqual([])
  })
})
