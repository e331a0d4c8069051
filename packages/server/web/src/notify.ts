/** Shows what went wrong in the header (never the console: the page must log no errors). */
export function notify(error: unknown): void {
  const status = document.getElementById('status')
  if (!status) return
  const message = error instanceof Error ? error.message : String(error)
  status.textContent = message
  status.classList.remove('live')
  setTimeout(() => {
    if (status.textContent === message) status.textContent = 'live'
    status.classList.add('live')
  }, 4000)
}
