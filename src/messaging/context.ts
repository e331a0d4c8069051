import type { RedkitContext } from '../core/context.js'

/**
 * What the messaging components need from redkit: the shared component context (connection, keys,
 * codec, onClose). `Redkit` satisfies it, so this module never imports the Redkit class.
 */
export type MessagingContext = Pick<RedkitContext, 'connection' | 'keys' | 'codec' | 'onClose'>
