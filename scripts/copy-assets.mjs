// Lua scripts ship beside the compiled code so `new URL('../lua/', import.meta.url)` finds them from src/ and dist/ alike.
import { cpSync } from 'node:fs'

cpSync(new URL('../src/lua/', import.meta.url), new URL('../dist/lua/', import.meta.url), { recursive: true })
