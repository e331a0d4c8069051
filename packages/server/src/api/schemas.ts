/** JSON schemas shared by the API routes. Names and ids are plain tokens, so they can be Redis key parts and HTML-safe. */
export const idPattern = '^[A-Za-z0-9._-]{1,64}$'

export const idString = { type: 'string', pattern: idPattern } as const

export function idParams(...names: string[]) {
  return {
    type: 'object',
    required: names,
    properties: Object.fromEntries(names.map((name) => [name, idString])),
  } as const
}

export const errorResponse = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const
