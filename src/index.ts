export * from './core/index.js'
export { createRedkit, Redkit, type RedkitEvents, type RedkitOptions } from './redkit.js'
