export {
  Channel,
  type ChannelEvents,
  type ChannelOptions,
  type ChannelSubscription,
  type MessageContext,
  type MessageHandler,
} from './channel.js'
export { Counter } from './counter.js'
export { UnrecoverableError } from './errors.js'
export { type ApplyResult, type ConsumerEvents, type ConsumerOptions, EventCounter, EventCounterConsumer } from './event-counter.js'
export type { Job, JobError, JobInfo, JobState } from './job.js'
export { type BackoffPolicy, type JobOptions, MAX_PRIORITY, type QueueOptions } from './options.js'
export { type AddedJob, type JobCounts, Queue, type QueueEvents } from './queue.js'
export { type DelayedTask, type RepeatingTask, type RepeatResult, type ScheduleInfo, Scheduler, type TaskJobOptions } from './scheduler.js'
export {
  type JobHandler,
  type JobHandlers,
  type JobTraceContext,
  jobTracing,
  Worker,
  type WorkerEvents,
  type WorkerOptions,
} from './worker.js'
export type { QueueWorker } from './worker-registry.js'
