import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildApp, type DemoDatabase, openDatabase, Scenarios } from '../../packages/server/src/index.js'
import { createRedkit, type Redkit } from '../../src/redkit.js'
import { ensureChromium } from '../support/browser.js'
import { standaloneUrl, testPrefix } from '../support/redis.js'

// The dashboard in a real browser (Debian's chromium through playwright-core), against the real
// service on the test Redis: the acceptance scenarios of issue 17. Short TTLs keep it fast.
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const SHOTS = path.join(ROOT, 'test-results', 'e2e')
const DEVICE_TTL_MS = 2000
const LAPSE_MS = 3000

describe('dashboard (browser)', () => {
  let rk: Redkit
  let db: DemoDatabase
  let app: FastifyInstance
  let browser: Browser
  let page: Page
  let base: string
  let webDir: string
  const consoleErrors: string[] = []

  beforeAll(async () => {
    const executablePath = ensureChromium()
    webDir = mkdtempSync(path.join(tmpdir(), 'redkit-web-'))
    const opening = openDatabase()
    // Build the page from its sources, so the test sees this tree's dashboard.
    const build = spawnSync(
      process.execPath,
      [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', '--config', 'packages/server/vite.config.mjs', '--outDir', webDir],
      { cwd: ROOT, encoding: 'utf8', timeout: 120_000 },
    )
    if (build.status !== 0) throw new Error(`vite build failed:\n${build.stdout}\n${build.stderr}`)
    rk = await createRedkit({ url: standaloneUrl(), prefix: testPrefix() })
    db = await opening
    const scenarios = new Scenarios(rk, db, { deviceTtlMs: DEVICE_TTL_MS, reservationLapseMs: LAPSE_MS })
    await scenarios.start()
    await scenarios.databaseReady()
    app = await buildApp({ rk, scenarios, defaultMetrics: false, snapshotIntervalMs: 250, dashboardDir: webDir })
    await app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
    mkdirSync(SHOTS, { recursive: true })
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] })
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } })
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push(message.text())
    })
    page.on('pageerror', (error) => consoleErrors.push(error.message))
    await page.goto(base)
    await page.getByTestId('stream-status').filter({ hasText: 'live' }).waitFor({ timeout: 10_000 })
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await app?.close()
    await rk?.close()
    await db?.close()
    if (webDir) rmSync(webDir, { recursive: true, force: true })
  })

  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true })

  it('a started device is online; once its heartbeats stop it turns offline within TTL + 1 s', async () => {
    await page.locator('#device-id').fill('e2e-device')
    await page.getByTestId('device-start').click()
    const row = page.getByTestId('device-e2e-device')
    await row.and(page.locator('[data-state=online]')).waitFor({ timeout: 5000 })
    await shot('1-device-online')
    await page.getByTestId('device-stop-e2e-device').click()
    const stopped = Date.now()
    await row.and(page.locator('[data-state=offline]')).waitFor({ timeout: DEVICE_TTL_MS + 1000 })
    expect(Date.now() - stopped).toBeLessThanOrEqual(DEVICE_TTL_MS + 1000)
    await shot('2-device-offline')
  })

  it('reserving stock makes the count fall; when the reservation lapses the units return', async () => {
    const available = page.getByTestId('available-monitor')
    await expectText(available, '8')
    await page.getByTestId('reserve-monitor').click()
    await expectText(available, '7')
    await page.getByTestId('reservations').locator('li', { hasText: 'monitor' }).waitFor({ timeout: 5000 })
    await shot('3-reserved')
    await expectText(available, '8', LAPSE_MS + 5000)
    await shot('4-lapsed')
  })

  it('a failing job reaches the dead letters, and retrying it runs it again', async () => {
    await page.getByTestId('enqueue-fail').click()
    const dead = page.getByTestId('dead-list').locator('li', { hasText: 'failed on purpose' })
    await dead.first().waitFor({ timeout: 10_000 })
    await expectText(page.getByTestId('count-dead'), 'dead 1')
    const id = (await dead.first().getAttribute('data-testid'))?.replace(/^dead-/, '') as string
    expect(id).toBeTruthy()
    await shot('5-dead-letter')

    // Paused, the retried job waits where we can see it; resumed, it runs (and fails) again.
    await page.locator('#queue-pause').click()
    await page.locator('#queue-paused:not([hidden])').waitFor({ timeout: 5000 })
    await page.getByTestId(`retry-${id}`).click()
    await expectText(page.getByTestId('count-dead'), 'dead 0')
    await page.getByTestId('jobs-waiting').click()
    await page.getByTestId(`job-${id}`).click()
    await expect.poll(async () => page.getByTestId('job-detail').textContent(), { timeout: 5000 }).toContain('"state": "waiting"')
    await shot('6-retried')
    await page.locator('#queue-pause').click()
    await expectText(page.getByTestId('count-dead'), 'dead 1', 10_000)
    await page.getByTestId('jobs-dead').click()
    await page.getByTestId(`job-${id}`).click()
    await expect
      .poll(async () => page.getByTestId('job-detail').textContent(), { timeout: 5000 })
      .toContain('failed on purpose (dashboard)')
    await shot('7-dead-again')
  })

  it('a lock held by one task shows the next one waiting for it', async () => {
    await page.locator('#lock-name').fill('e2e-lock')
    await page.getByTestId('lock-hold').click()
    await page.getByTestId('lock-e2e-lock').filter({ hasText: 'held (token' }).waitFor({ timeout: 5000 })
    await page.getByTestId('lock-hold').click()
    await page.locator('[data-testid=lock-e2e-lock][data-waiters="1"]').waitFor({ timeout: 5000 })
    await shot('8-lock-waiter')
    // The holder releases after 3 s, the waiter takes over, then releases too.
    await page.locator('[data-testid=lock-e2e-lock][data-waiters="0"]').waitFor({ timeout: 8000 })
  })

  it('fits a phone screen, and the page logged no console errors', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    // Charts follow their panel's width (a ResizeObserver), so the page settles a frame or two later.
    await expect
      .poll(async () => page.evaluate('document.documentElement.scrollWidth - window.innerWidth') as Promise<number>, { timeout: 5000 })
      .toBeLessThanOrEqual(0)
    await shot('9-phone')
    expect(consoleErrors).toEqual([])
  })
})

async function expectText(locator: ReturnType<Page['getByTestId']>, text: string, timeoutMs = 5000): Promise<void> {
  await expect.poll(async () => (await locator.textContent())?.trim(), { timeout: timeoutMs }).toBe(text)
}
