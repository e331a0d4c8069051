/**
 * Throw it from a job handler to send the job straight to the dead letters, whatever attempts
 * remain (invalid input that no retry will fix).
 */
export class UnrecoverableError extends Error {
  override readonly name = 'UnrecoverableError'
}
