#!/usr/bin/env node
// The README's dashboard screenshot: `node scripts/dashboard-screenshot.mjs <url> [out.png] [wait-seconds]`
// against a service with traffic (`node dist/cli/main.js demo --load`). Uses Debian's chromium
// through playwright-core (a dev dependency; no browser is downloaded).
import { chromium } from 'playwright-core'

const [url = 'http://127.0.0.1:3000', out = 'docs/dashboard.png', wait = '20'] = process.argv.slice(2)
const browser = await chromium.launch({
  executablePath: process.env.REDKIT_CHROMIUM ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
})
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 })
  await page.goto(url)
  await page.waitForTimeout(Number(wait) * 1000)
  await page.screenshot({ path: out, fullPage: true })
  console.log(`dashboard-screenshot: ${out}`)
} finally {
  await browser.close()
}
