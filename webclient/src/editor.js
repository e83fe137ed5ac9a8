// The lesson-document editor: Quill bound to the document's Y.Text "content" (docs/documents.md) with
// y-quill, synced over /ws/docs/{id} with the stock y-websocket provider, other members' cursors and
// names drawn by quill-cursors. Bundled by build.mjs into static/dist/editor.js.
//
// Formats: the editor's own Parchment registry holds the document structure's formats only (bold,
// italic, underline, strike, code, link, header, list) plus comment marks. A comment mark is the
// attribute `comment_<id>: true`, its name different for every comment; the registry answers any
// such name (or its class, `qc-<id>`) by registering a class attributor for it on first sight, so
// marks arriving from Yjs are kept and drawn (class `qc-<id>-on`) instead of dropped by Quill. Marks
// are never pasted: a clipboard matcher strips them, or a copied passage would stretch its comment.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import Quill from 'quill'
import QuillCursors from 'quill-cursors'
import { QuillBinding } from 'y-quill'

Quill.register('modules/cursors', QuillCursors)

const Parchment = Quill.import('parchment')
const Delta = Quill.import('delta')

const COLORS = ['#d9480f', '#2b8a3e', '#1971c2', '#9c36b5', '#e67700', '#0b7285', '#c2255c', '#5f3dc4']
const FORMATS = ['bold', 'italic', 'underline', 'strike', 'code', 'link', 'header', 'list']
const CORE = ['block', 'break', 'cursor', 'inline', 'scroll', 'text']
const TAB_BINDINGS = ['tab', 'remove tab', 'indent', 'outdent', 'indent code-block', 'outdent code-block', 'table tab']
const MARK = /^comment_(\d+)$/
const MARK_CLASS = /^qc-(\d+)$/

function colorFor (userId) {
  return COLORS[Math.abs(Number(userId) || 0) % COLORS.length]
}

/** `comment_<id>: true` drawn as the class `qc-<id>-on`; its value is always true (never the string "on"). */
class CommentMark extends Parchment.ClassAttributor {
  add (node, value) {
    if (!value) {
      this.remove(node)
      return true
    }
    return super.add(node, 'on')
  }

  value (node) {
    return node.classList.contains(`${this.keyName}-on`) ? true : undefined
  }
}

/** A registry of the document's formats that knows every comment mark by its prefix. */
class DocRegistry extends Parchment.Registry {
  query (q, scope) {
    if (typeof q === 'string') {
      const m = MARK.exec(q) || MARK_CLASS.exec(q)
      if (m) this.mark(m[1])
    }
    return super.query(q, scope)
  }

  mark (id) {
    this.marks = this.marks || new Set()
    if (this.marks.has(id)) return
    this.marks.add(id)
    this.register(new CommentMark(`comment_${id}`, `qc-${id}`, { scope: Parchment.Scope.INLINE }))
  }
}

function docRegistry () {
  const source = Quill.DEFAULTS.registry
  const registry = new DocRegistry()
  for (const name of [...CORE, ...FORMATS]) {
    let format = source.query(name)
    while (format) {
      registry.register(format)
      format = 'blotName' in format ? (format.requiredContainer || null) : null
    }
  }
  return registry
}

function withoutMarks (delta) {
  return new Delta(delta.ops.map((op) => {
    if (!op.attributes) return op
    const attributes = {}
    let kept = 0
    for (const key of Object.keys(op.attributes)) {
      if (!MARK.test(key)) { attributes[key] = op.attributes[key]; kept++ }
    }
    const out = Object.assign({}, op)
    if (kept) out.attributes = attributes
    else delete out.attributes
    return out
  }))
}

/** The comment ids marked on each run of a Y.Text delta, with the run's UTF-16 span. */
function markRuns (delta) {
  const out = []
  let pos = 0
  for (const op of delta) {
    const n = typeof op.insert === 'string' ? op.insert.length : 1
    const ids = []
    for (const key of Object.keys(op.attributes || {})) {
      const m = MARK.exec(key)
      if (m && op.attributes[key]) ids.push(Number(m[1]))
    }
    out.push({ start: pos, end: pos + n, ids })
    pos += n
  }
  return out
}

/** Where `key` marks a delta (Quill's or Yjs'): first to last marked character, with the text between. */
function spanOf (ops, key) {
  let pos = 0
  let start = -1
  let end = -1
  let all = ''
  for (const op of ops) {
    const piece = typeof op.insert === 'string' ? op.insert : '\ufffc'
    if (op.attributes && op.attributes[key]) {
      if (start < 0) start = pos
      end = pos + piece.length
    }
    all += piece
    pos += piece.length
  }
  return start < 0 ? null : { start, end, text: all.slice(start, end) }
}

// Close codes after which connecting again cannot help (docs/documents.md).
const FINAL_CLOSES = [4002, 4003, 4004, 4009]

/**
 * Connect `p` (made with connect: false), and again after every close, each time with a fresh ticket
 * from `ticket()` in its params: a ticket opens one socket, and y-websocket would reconnect with the
 * URL it has. Waits between tries as y-websocket does; a refusal of the sign-in stops (`unauthorized`).
 */
function withTickets (p, ticket, status) {
  let stopped = false
  const go = async () => {
    for (let wait = 200; !stopped; wait = Math.min(wait * 2, 5000)) {
      try {
        const t = await ticket()
        if (stopped) return
        p.params = { ticket: t }
        p.connect()
        return
      } catch (err) {
        if (err && (err.code === 'unauthenticated' || /^token_/.test(err.code || ''))) {
          stopped = true
          return status('unauthorized')
        }
        await new Promise((resolve) => setTimeout(resolve, wait)) // offline, or the node is down
      }
    }
  }
  p.on('connection-close', (event) => {
    p.shouldConnect = false // not y-websocket's own reconnect, with the ticket already used
    if (stopped || (event && FINAL_CLOSES.includes(event.code))) return
    setTimeout(go, Math.min(100 * 2 ** p.wsUnsuccessfulReconnects, 5000))
  })
  const destroy = p.destroy.bind(p)
  p.destroy = () => { stopped = true; destroy() }
  go()
}

/**
 * Open a document in `el`. `ticket()` resolves to a fresh ticket for the document's socket
 * (POST /api/docs/{id}/ticket), asked before every connection.
 * @param {{el: HTMLElement, docId: number, ticket: () => Promise<string>, user: {id: number, name: string},
 *          canEdit: boolean, onStatus?: (s: string) => void, onDenied?: (reason: string) => void,
 *          onReadOnly?: () => void, onSelection?: (sel: {start: number, end: number, quote: string}|null) => void,
 *          onMarksAt?: (ids: number[]) => void, onChange?: () => void}} o
 */
export function open (o) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const quill = new Quill(o.el, {
    theme: 'snow',
    registry: docRegistry(),
    readOnly: !o.canEdit,
    modules: {
      cursors: { transformOnTextChange: true },
      toolbar: o.canEdit
        ? [[{ header: [1, 2, 3, false] }], ['bold', 'italic', 'underline', 'strike'],
            [{ list: 'ordered' }, { list: 'bullet' }], ['link', 'clean']]
        : false,
      history: { userOnly: true },
      // Tab leaves the editor (no keyboard trap; the document structure has no tabs or indents)
      keyboard: { bindings: Object.fromEntries(TAB_BINDINGS.map((name) => [name, { key: 'Tab', handler: () => true }])) },
      clipboard: { matchers: [[Node.ELEMENT_NODE, (node, delta) => withoutMarks(delta)]] },
      uploader: { handler () {} } // no images or files: the document structure has none
    }
  })
  let generation = 0
  let doc, text, provider, binding
  let saved = null // the last non-empty selection, as Yjs relative positions (they move with edits)
  let readOnly = !o.canEdit
  let reloading = false

  function status (s) { if (o.onStatus) o.onStatus(s) }

  // A fresh Y.Doc and provider; its events count only while it is the current one.
  function connect () {
    const gen = ++generation
    const d = new Y.Doc()
    const t = d.getText('content')
    const p = new WebsocketProvider(`${scheme}//${location.host}/ws/docs`, String(o.docId), d, { connect: false })
    withTickets(p, o.ticket, status)
    p.awareness.setLocalStateField('user', { name: o.user.name, color: colorFor(o.user.id) })
    p.on('status', (e) => { if (gen === generation) status(e.status) })
    p.on('sync', (synced) => { if (gen === generation) status(synced ? 'synced' : 'connecting') })
    // y-websocket reports a refused edit only through its auth handler: surface the server's reason,
    // then throw away the refused change by loading the document again
    const auth = p.messageHandlers[2]
    p.messageHandlers = p.messageHandlers.slice()
    p.messageHandlers[2] = (encoder, decoder, prov, emitSynced, messageType) => {
      const start = decoder.pos
      try {
        decoder.pos += 1 // the permission-denied code
        const len = decoder.arr[decoder.pos]
        const reason = new TextDecoder().decode(decoder.arr.subarray(decoder.pos + 1, decoder.pos + 1 + len))
        if (o.onDenied) o.onDenied(reason)
      } finally {
        decoder.pos = start
      }
      if (gen === generation) setTimeout(reload, 0)
      return auth(encoder, decoder, prov, emitSynced, messageType)
    }
    return { d, t, p }
  }

  function attach (c) {
    doc = c.d
    text = c.t
    provider = c.p
    binding = new QuillBinding(text, quill, provider.awareness)
    text.observe(() => { if (o.onChange) o.onChange() })
  }

  // Discard what this client has that the server will never store: stop sending, load the document
  // anew, and swap it in once synced (the old text stays on screen meanwhile). The editor stays read-only.
  function reload () {
    if (reloading) return
    reloading = true
    readOnly = true
    quill.enable(false)
    if (o.onReadOnly) o.onReadOnly()
    const old = { doc, provider, binding }
    old.provider.destroy()
    const c = connect()
    const onSync = (synced) => {
      if (!synced) return
      c.p.off('sync', onSync)
      old.binding.destroy()
      old.doc.destroy()
      quill.getModule('cursors').clearCursors()
      saved = null
      attach(c)
      reloading = false
    }
    c.p.on('sync', onSync)
  }

  attach(connect())

  function absolute (rel) {
    const a = Y.createAbsolutePositionFromRelativePosition(rel, doc)
    return a && a.type === text ? a.index : null
  }

  function selection () {
    if (!saved) return null
    const start = absolute(saved.start)
    const end = absolute(saved.end)
    if (start === null || end === null || end <= start) return null
    return { start, end, quote: text.toString().slice(start, end) }
  }

  function marksAt (index) {
    const run = markRuns(text.toDelta()).find((r) => r.start <= index && index < r.end)
    return run ? run.ids : []
  }

  quill.on('selection-change', (range) => {
    if (range && range.length > 0) {
      const end = Math.min(range.index + range.length, text.length)
      const start = Math.min(range.index, end)
      saved = end > start
        ? { start: Y.createRelativePositionFromTypeIndex(text, start, 0),
            end: Y.createRelativePositionFromTypeIndex(text, end, -1) }
        : null
    } else if (range) {
      saved = null
    }
    if (range) {
      if (o.onSelection) o.onSelection(selection())
      if (o.onMarksAt) o.onMarksAt(marksAt(range.index))
    }
  })

  // A comment covers what was commented on: text typed at either edge of a mark (which the browser
  // and Quill's Enter give the mark, as they do bold) is taken out of it again. Compared as text
  // before and after, since Quill may describe one typed character as the whole run re-inserted.
  quill.on('text-change', (delta, old, source) => {
    if (source !== 'user') return
    const keys = new Set()
    for (const op of delta.ops) {
      if (op.insert === undefined) continue
      for (const key of Object.keys(op.attributes || {})) if (MARK.test(key)) keys.add(key)
    }
    if (!keys.size) return
    const now = quill.getContents().ops
    for (const key of keys) {
      const a = spanOf(old.ops, key)
      const b = spanOf(now, key)
      if (!a || !b || b.text.length <= a.text.length) continue
      const extra = b.text.length - a.text.length
      if (b.text.startsWith(a.text)) quill.formatText(b.end - extra, extra, key, false, 'user')
      else if (b.text.endsWith(a.text)) quill.formatText(b.start, extra, key, false, 'user')
    }
  })

  return {
    get doc () { return doc },
    get text () { return text },
    get provider () { return provider },
    get binding () { return binding },
    get readOnly () { return readOnly },
    quill,
    /** The passage last selected, in UTF-16 units of the text (as Yjs, Quill and the API count). */
    selection,
    clearSelection () { saved = null; if (o.onSelection) o.onSelection(null) },
    /** Where the mark of comment `id` is now: {start, end} (first to last marked character), or null. */
    rangeOf (id) {
      const s = spanOf(text.toDelta(), `comment_${Number(id)}`)
      return s && { start: s.start, end: s.end }
    },
    /** Select [start, end) in the editor and scroll it into view. */
    select (start, end) {
      quill.setSelection(start, Math.max(0, end - start), 'api')
    },
    reload,
    destroy: () => { binding.destroy(); provider.destroy(); doc.destroy() }
  }
}

window.CollabEditor = { open }
