/**
 * A chat room over pub/sub, and a page-view counter updated through events by several workers.
 *
 * The naive counter publishes "+1" on pub/sub and lets every subscriber INCR: with three
 * subscribers each view counts three times, and views published while a subscriber restarts are
 * lost. Here views are events in a stream; any number of consumers apply them, each exactly once
 * (one script moves the counter's cursor and value together), and none is lost while they are down.
 *
 *   npx tsx examples/chat-and-page-views.ts  # REDIS_URL defaults to redis://127.0.0.1:6379
 */
import { createRedkit } from '../src/index.js' // in an application: from 'redkit'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `example-chat-${process.pid}`

interface ChatMessage {
  from: string
  text: string
  at: Date
}

const [alice, bob, web] = await Promise.all([1, 2, 3].map(() => createRedkit({ url, prefix })))
if (!alice || !bob || !web) throw new Error('no app')

// Chat: typed messages; a malformed one (published by something else) reaches `error`, not the handler.
const room = bob.channel<ChatMessage>('room:lobby', { validate: (m) => typeof (m as ChatMessage)?.text === 'string' })
room.on('error', (error) => console.log(`bob's client ignored a bad message: ${error.code}`))
await room.subscribe((m) => console.log(`bob sees  ${m.from}: ${m.text} (${m.at.toISOString()})`))
await alice.channel<ChatMessage>('room:lobby').publish({ from: 'alice', text: 'hello!', at: new Date() })
await web.connection.send(['PUBLISH', room.redisName, '{"nonsense":true}'])
await alice.channel<ChatMessage>('room:lobby').publish({ from: 'alice', text: 'still there?', at: new Date() })

// Page views: the web tier appends events; three consumers apply them.
const views = web.eventCounter('page-views')
const consumers = [alice, bob, web].map((rk) => rk.eventCounter('page-views').consume())
await Promise.all(Array.from({ length: 1000 }, () => views.incr()))
for (let i = 0; i < 50 && ((await views.pending()) > 0 || (await views.value()) < 1000); i++) await new Promise((r) => setTimeout(r, 20))
console.log(`page views: ${await views.value()} (1000 events, 3 consumers, each applied once)`)

await Promise.all(consumers.map((c) => c.close()))
await web.connection.send(['DEL', views.keys.events, views.keys.value, views.keys.cursor], { key: views.keys.events })
await Promise.all([alice, bob, web].map((rk) => rk.close()))
