// A stock Yjs client (y-websocket's WebsocketProvider over the `ws` package) driven by a small script,
// for tests/integration/test_docs_yjs_interop.py. It reports what it sees as JSON lines on stdout.
//
//   node yjs_peer.mjs WS_BASE DOC_ID TOKEN [SCRIPT_JSON]
//
//   WS_BASE      ws://127.0.0.1:PORT/ws/docs (the provider appends /DOC_ID?ticket=…)
//   TOKEN        a sign-in token: before every connection (the first and each reconnect) the peer asks
//                POST /api/docs/DOC_ID/ticket for a fresh single-use ticket, as docs/documents.md says
//   SCRIPT_JSON  {"user": {"name": "…", "color": "#…"},  local awareness state's "user" field
//                 "ticket": "…",                          use this ticket for every connection instead
//                 "url_token": true,                      the deprecated ?token=TOKEN instead
//                 "sync": true,                           wait for the first sync before the steps
//                 "timeout": 20000,                       ms for the whole run; exit 3 beyond it
//                 "steps": [ … ]}                         run in order, each one awaited:
//     {"insert": "text", "at": 0 | N | "end", "attrs": {"bold": true}}   one transaction; attrs
//                                       default to {} (plain text, not the formatting of what precedes)
//     {"insert": "text", "after": "anchor"}   right after the first occurrence of anchor (at its end
//                                       when missing): a place that others' concurrent edits don't move
//     {"transact": [insert steps]}      several inserts in one transaction: one update, so nobody's
//                                       concurrent edit can land between them
//     {"sleep": ms}
//     {"wait_text": "marker"}           until the document's text contains marker
//     {"wait_awareness": "name"}        until another client's awareness has user.name == name
//     {"wait_no_awareness": "name"}     until no other client's awareness has user.name == name
//     {"wait_denied": n}                until n "permission denied" messages have arrived
//     {"wait_closes": n}                until the connection was closed by the server n times
//     {"say": "label"}                  print {"event": "said", "label": …} (a progress mark)
//
// Events printed: status, synced, awareness (remote states), permission-denied (the reason, as the
// provider's auth handler received it), warn (what stock y-websocket console.warns), connection-close
// (code, reason), ticket-refused (the API's status and code: the peer stops), said, done (text, delta,
// remote awareness, counters), timeout, error.
// Exit status: 0 done, 3 timeout, 1 any other failure.

import * as Y from 'yjs'
import { WebsocketProvider, messageAuth } from 'y-websocket'
import WebSocket from 'ws'

const [base, docId, token, scriptJson = '{}'] = process.argv.slice(2)
if (!base || !docId || token === undefined) {
  process.stderr.write('usage: node yjs_peer.mjs WS_BASE DOC_ID TOKEN [SCRIPT_JSON]\n')
  process.exit(1)
}
const script = JSON.parse(scriptJson)
const timeoutMs = script.timeout ?? 20000
const started = Date.now()

const emit = (event, fields = {}) => {
  process.stdout.write(JSON.stringify({ event, ms: Date.now() - started, ...fields }) + '\n')
}

// Count every frame the server sends, before the provider sees it (a refused socket must get none).
let framesIn = 0
class CountingWebSocket extends WebSocket {
  constructor (...args) {
    super(...args)
    this.addEventListener('message', () => { framesIn++ })
  }
}

// Stock y-websocket reports a denial only through console.warn; keep that path and record it.
const warn = console.warn
console.warn = (...args) => {
  emit('warn', { text: args.map(String).join(' ') })
  warn.apply(console, args)
}

const doc = new Y.Doc()
const text = doc.getText('content')
const provider = new WebsocketProvider(base, docId, doc, {
  WebSocketPolyfill: CountingWebSocket,
  connect: false, // each connection waits for its ticket (connectWithTicket)
  disableBc: true, // one process per client: no cross-tab channel
  maxBackoffTime: 1000
})

// y-websocket reconnects with the URL it has; a ticket opens one socket, so every connection (the
// first, and each after a close) first takes a fresh one and puts it in the provider's params.
const api = base.replace(/^ws/, 'http').replace(/\/ws\/docs\/?$/, '')
const STOP = [4002, 4003, 4004, 4009] // the server said retrying cannot help
let stopped = false
const ticket = async () => {
  if (script.ticket !== undefined) return { ticket: script.ticket }
  if (script.url_token || token === '') return token === '' ? {} : { token }
  const res = await fetch(`${api}/api/docs/${docId}/ticket`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } })
  const body = await res.json()
  if (!res.ok) throw Object.assign(new Error(body.error.code), { status: res.status, code: body.error.code })
  return { ticket: body.ticket }
}
const connectWithTicket = async () => {
  for (let wait = 100; !stopped; wait = Math.min(wait * 2, 1000)) {
    try {
      provider.params = await ticket()
      if (!stopped) provider.connect()
      return
    } catch (err) {
      if (err.status === 401 || err.status === 403) {
        stopped = true
        return emit('ticket-refused', { status: err.status, code: err.code })
      }
      await new Promise((resolve) => setTimeout(resolve, wait)) // the node is down: try again
    }
  }
}
provider.on('connection-close', (event) => {
  provider.shouldConnect = false // not y-websocket's own reconnect with the used ticket
  if (stopped || STOP.includes(event?.code)) return
  setTimeout(connectWithTicket, Math.min(100 * 2 ** provider.wsUnsuccessfulReconnects, 1000))
})
connectWithTicket()

// The provider's message handlers are per instance; wrap the auth one to see the reason it decodes,
// then hand the message to the stock handler unchanged.
const denials = []
const stockAuth = provider.messageHandlers[messageAuth]
provider.messageHandlers[messageAuth] = (encoder, decoder, prov, emitSynced, type) => {
  const peek = { arr: decoder.arr, pos: decoder.pos }
  const kind = readVarUint(peek)
  const reason = kind === 0 ? readVarString(peek) : null
  denials.push(reason)
  emit('permission-denied', { kind, reason })
  stockAuth(encoder, decoder, prov, emitSynced, type)
}

function readVarUint (d) {
  let num = 0
  let mult = 1
  for (;;) {
    const r = d.arr[d.pos++]
    num += (r & 0x7f) * mult
    mult *= 128
    if (r < 0x80) return num
  }
}

function readVarString (d) {
  const n = readVarUint(d)
  const bytes = d.arr.subarray(d.pos, d.pos + n)
  d.pos += n
  return new TextDecoder().decode(bytes)
}

const closes = []
let synced = false
provider.on('status', ({ status }) => emit('status', { status }))
provider.on('sync', (state) => {
  if (state && !synced) {
    synced = true
    emit('synced', { text: text.toString() })
  }
})
provider.on('connection-close', (event) => {
  const close = event == null ? { code: null, reason: 'closed locally' } : { code: event.code, reason: event.reason }
  closes.push(close)
  emit('connection-close', close)
})
provider.on('connection-error', (event) => emit('connection-error', { message: String(event?.message ?? event) }))

const remoteStates = () => {
  const out = {}
  for (const [id, state] of provider.awareness.getStates()) {
    if (id !== doc.clientID) out[id] = state
  }
  return out
}
provider.awareness.on('change', () => emit('awareness', { states: remoteStates() }))
if (script.user) provider.awareness.setLocalStateField('user', script.user)

const finish = (event, code, fields = {}) => {
  emit(event, {
    text: text.toString(),
    delta: text.toDelta(),
    awareness: remoteStates(),
    client_id: doc.clientID,
    synced,
    frames_in: framesIn,
    denials,
    closes,
    ...fields
  })
  stopped = true
  provider.destroy() // withdraws our awareness state, closes the socket
  doc.destroy()
  setTimeout(() => process.exit(code), 200) // let the close frame go out
}

const deadline = started + timeoutMs
const until = (what, predicate) => new Promise((resolve, reject) => {
  const check = () => {
    if (predicate()) return resolve()
    if (Date.now() > deadline) return reject(new Error(`timed out waiting for ${what}`))
    setTimeout(check, 10)
  }
  check()
})
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const insert = (step) => {
  const found = 'after' in step ? text.toString().indexOf(step.after) : -1
  const at = found >= 0
    ? found + step.after.length // UTF-16 units, as Y.Text counts them
    : step.at === 'end' || step.at === undefined ? text.length : Math.min(step.at, text.length)
  text.insert(at, step.insert, step.attrs ?? {})
}

const runStep = async (step) => {
  if ('insert' in step) {
    insert(step)
  } else if ('transact' in step) {
    if (!step.transact.every((s) => 'insert' in s)) throw new Error('only inserts in a transaction')
    doc.transact(() => step.transact.forEach(insert))
  } else if ('sleep' in step) {
    await sleep(step.sleep)
  } else if ('wait_text' in step) {
    await until(`text containing ${JSON.stringify(step.wait_text)}`, () => text.toString().includes(step.wait_text))
  } else if ('wait_awareness' in step) {
    await until(`awareness of ${JSON.stringify(step.wait_awareness)}`,
      () => Object.values(remoteStates()).some((s) => s?.user?.name === step.wait_awareness))
  } else if ('wait_no_awareness' in step) {
    await until(`no awareness of ${JSON.stringify(step.wait_no_awareness)}`,
      () => !Object.values(remoteStates()).some((s) => s?.user?.name === step.wait_no_awareness))
  } else if ('wait_denied' in step) {
    await until(`${step.wait_denied} permission denials`, () => denials.length >= step.wait_denied)
  } else if ('wait_closes' in step) {
    await until(`${step.wait_closes} closes`, () => closes.length >= step.wait_closes)
  } else if ('say' in step) {
    emit('said', { label: step.say, text: text.toString() })
  } else {
    throw new Error(`unknown step ${JSON.stringify(step)}`)
  }
}

const main = async () => {
  if (script.sync ?? true) await until('the first sync', () => synced)
  let i = 0
  try {
    for (const step of script.steps ?? []) {
      await runStep(step)
      i++
    }
  } catch (err) {
    if (err.message.startsWith('timed out')) return finish('timeout', 3, { step: i, message: err.message })
    throw err
  }
  finish('done', 0)
}

main().catch((err) => {
  if (err.message.startsWith('timed out')) return finish('timeout', 3, { message: err.message })
  emit('error', { message: String(err?.stack ?? err) })
  process.exit(1)
})
