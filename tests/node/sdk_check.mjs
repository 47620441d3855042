// Drives the official ChatBotKit Node SDK (@chatbotkit/sdk) against a platform at BASE_URL with SECRET, and
// prints one JSON report on stdout for tests/local/test_node_sdk.py to check. Usage: node sdk_check.mjs SCENARIO
import { ChatBotKit } from '@chatbotkit/sdk'

const scenario = process.argv[2]
const options = { secret: process.env.SECRET, baseUrl: process.env.BASE_URL, retryDelay: 1 }
if (process.env.TIMEZONE) options.timezone = process.env.TIMEZONE
const cbk = new ChatBotKit(options)

const ask = (text) => ({ messages: [{ type: 'user', text }] })
// a channel item whose published event ends the run
const terminal = (item) => item.type === 'message' && ['result', 'error'].includes(item.data?.type)
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function collect(iterable, until) {
  const items = []
  for await (const item of iterable) {
    items.push(item)
    if (until(item, items)) break
  }
  return items
}

async function failure(promise) {
  try {
    return { value: await promise }
  } catch (error) {
    return { error: { message: error.message, code: error.code } }
  }
}

const scenarios = {
  async bots() {
    const { id } = await cbk.bot.create({ name: 'node', meta: { from: 'sdk' } })
    const fetched = await cbk.bot.fetch(id)
    await cbk.bot.update(id, { name: 'renamed' })
    const listed = await cbk.bot.list()
    const streamed = await collect(cbk.bot.list().stream(), () => false)
    const deleted = await cbk.bot.delete(id)
    const gone = await failure(cbk.bot.fetch(id))
    return { id, fetched, listed, streamed, deleted, gone }
  },

  async conversations() {
    const stateless = await cbk.conversation.complete(null, ask('hello [[tokens 2]]'))
    const stream = await collect(cbk.conversation.complete(null, ask('hi [[tokens 3]]')).stream(), () => false)
    const { id } = await cbk.conversation.create({})
    const stateful = await cbk.conversation.complete(id, { text: 'first' })
    const sent = await cbk.conversation.send(id, { text: 'second' })
    const received = await cbk.conversation.receive(id, {})
    const messages = await cbk.conversation.message.list(id, { order: 'asc' })
    return { stateless, stream, id, stateful, sent, received, messages }
  },

  async dispatch() {
    const channelId = 'node-sdk-channel-' + Date.now().toString(36).padStart(12, '0')
    const first = await cbk.conversation.dispatch(null, { ...ask('dispatched [[tokens 2]]'), channelId })
    const again = await cbk.conversation.dispatch(null, { ...ask('twice'), channelId })
    const items = await collect(
      cbk.channel.subscribe(first.channelId, { historyLength: 1000 }).stream(),
      terminal
    )
    return { first, again, items }
  },

  async tasks() {
    const { id: botId } = await cbk.bot.create({ name: 'tasker' })
    const { id } = await cbk.task.create({ name: 'nightly', description: 'sum up', botId, meta: { k: 'v' } })
    const triggered = await cbk.task.trigger(id)
    let executions
    for (let i = 0; i < 500; i++) {
      executions = await cbk.task.execution.list(id)
      if (executions.items.length && executions.items[0].status !== 'running') break
      await sleep(10)
    }
    const task = await cbk.task.fetch(id)
    const exported = await collect(cbk.task.export().stream(), () => false)
    const events = await cbk.event.log.list({ order: 'asc' })
    const exportedEvents = await cbk.event.log.export({ order: 'asc' })
    const pushed = await collect(cbk.event.log.subscribe({ historyLength: 2 }).stream(), (_, all) => all.length === 2)
    return { id, triggered, executions, task, exported, events, exportedEvents, pushed }
  },

  async workflow() {
    const { id: botId } = await cbk.bot.create({})
    const { id } = await cbk.task.create({ description: '[[fail "broken step"]]', botId })
    const reading = collect(cbk.task.subscribe(id).stream(), () => true)
    await sleep(100)
    await cbk.task.trigger(id)
    return { id, items: await reading }
  },

  async failing() {
    const { id } = await cbk.conversation.create({})
    const outcome = await failure(cbk.conversation.complete(id, { text: '[[fail "tool broke"]] please' }))
    const messages = await cbk.conversation.message.list(id, { order: 'asc' })
    return { outcome, messages }
  },

  async redispatch() {
    const channelId = process.env.CHANNEL
    const first = await cbk.conversation.dispatch(null, { ...ask(process.env.TEXT), channelId })
    const items = await collect(
      cbk.channel.subscribe(channelId, { historyLength: 1000 }).stream(),
      terminal
    )
    return { first, items }
  },

  async timezone() {
    return await cbk.conversation.complete(null, ask('[[plan-as-text]]\n- Digest [[schedule "daily"]]'))
  },
}

try {
  const report = await scenarios[scenario]()
  process.stdout.write(JSON.stringify({ ok: true, report }) + '\n')
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error?.stack || error), code: error?.code }) + '\n')
}
process.exit(0)
