/**
 * Device offline detection with presence: devices send heartbeats; one stops and is reported
 * offline exactly once, while the others, still beating, never are.
 *
 * The naive version sets `SET <device> 1 EX 5` per heartbeat and listens to `__keyevent@0__:expired`:
 * a listener that is down when a key expires never hears of it, two listeners both act on it, and
 * Redis may notify seconds late. Here a heartbeat's lapse is a reliable expiry event, the offline is
 * recorded once in a script, and watchers of one group share the transitions (each handled once).
 *
 *   npx tsx examples/device-offline.ts        # REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { createRedkit } from '../src/index.js' // in an application: from 'redkit'
import { removeRunKeys } from './cleanup.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `example-devices-${process.pid}` // one per run keeps runs apart
const TTL_MS = 1000 // a device is offline when it has not sent a heartbeat for a second
const BEAT_MS = 300
const started = Date.now()
const clock = (at = Date.now()) => `+${((at - started) / 1000).toFixed(2)}s`
const log = (text: string) => console.log(`[${clock()}] ${text}`)

// Two redkit instances stand for two processes: the monitoring service and the devices' gateway.
const monitorRk = await createRedkit({ url, prefix })
const gatewayRk = await createRedkit({ url, prefix })

// The monitor: one handler per transition. Every monitor process of a group shares the work.
const monitor = monitorRk.presence<{ firmware: string }>('devices', { ttlMs: TTL_MS })
let offlineReports = 0
await monitor.on('online', (e) => log(`${e.id} is online (firmware ${e.meta?.firmware})`))
await monitor.on('offline', (e) => {
  offlineReports++
  log(`${e.id} is OFFLINE: last heartbeat at ${clock(e.lastBeat)}, deadline ${clock(e.at)}`)
})

// The gateway forwards each device's heartbeat. sensor-3's battery dies after 1.5 s.
const gateway = gatewayRk.presence<{ firmware: string }>('devices', { ttlMs: TTL_MS })
const devices = ['sensor-1', 'sensor-2', 'sensor-3']
const timers = devices.map((id) => {
  const beat = () => gateway.beat(id, { firmware: '1.4.2' }).catch((error) => log(`beat failed: ${error}`))
  beat()
  return setInterval(beat, BEAT_MS)
})
setTimeout(() => {
  clearInterval(timers[2])
  log('sensor-3 stops sending heartbeats')
}, 1500)

// Let it run a few seconds: sensor-3 goes offline once; sensor-1 and sensor-2 never do.
await new Promise((resolve) => setTimeout(resolve, 4500))
const online = await monitor.online()
log(`online now: ${online.map((m) => m.id).join(', ')} (${await monitor.count()}); offline reports: ${offlineReports}`)

// Tidy up: stop the devices, close both instances, remove this run's keys.
for (const timer of timers) clearInterval(timer)
await gatewayRk.close()
await monitorRk.close()
await removeRunKeys(url, prefix)
