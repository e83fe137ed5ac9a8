// The lesson-document editor: Quill bound to the document's Y.Text "content" (docs/documents.md) with
// y-quill, synced over /ws/docs/{id} with the stock y-websocket provider, other members' cursors and
// names drawn by quill-cursors. Bundled by build.mjs into static/dist/editor.js.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import Quill from 'quill'
import QuillCursors from 'quill-cursors'
import { QuillBinding } from 'y-quill'

Quill.register('modules/cursors', QuillCursors)

const COLORS = ['#d9480f', '#2b8a3e', '#1971c2', '#9c36b5', '#e67700', '#0b7285', '#c2255c', '#5f3dc4']

function colorFor (userId) {
  return COLORS[Math.abs(Number(userId) || 0) % COLORS.length]
}

/**
 * Open a document in `el`.
 * @param {{el: HTMLElement, docId: number, token: string, user: {id: number, name: string},
 *          canEdit: boolean, onStatus?: (s: string) => void, onDenied?: (reason: string) => void}} o
 */
export function open (o) {
  const doc = new Y.Doc()
  const text = doc.getText('content')
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const provider = new WebsocketProvider(`${scheme}//${location.host}/ws/docs`, String(o.docId), doc,
    { params: { token: o.token } })
  const quill = new Quill(o.el, {
    theme: 'snow',
    readOnly: !o.canEdit,
    modules: {
      cursors: { transformOnTextChange: true },
      toolbar: o.canEdit ? [[{ header: [1, 2, 3, false] }], ['bold', 'italic', 'underline', 'strike'],
        [{ list: 'ordered' }, { list: 'bullet' }], ['link', 'clean']] : false,
      history: { userOnly: true }
    }
  })
  provider.awareness.setLocalStateField('user', { name: o.user.name, color: colorFor(o.user.id) })
  const binding = new QuillBinding(text, quill, provider.awareness)
  provider.on('status', (e) => o.onStatus && o.onStatus(e.status))
  provider.on('sync', (synced) => o.onStatus && o.onStatus(synced ? 'synced' : 'connecting'))
  // y-websocket reports a refused edit only through its auth handler: surface the server's reason
  const auth = provider.messageHandlers[2]
  provider.messageHandlers = provider.messageHandlers.slice()
  provider.messageHandlers[2] = (encoder, decoder, p, emitSynced, messageType) => {
    const start = decoder.pos
    try {
      decoder.pos += 1 // the permission-denied code
      const len = decoder.arr[decoder.pos]
      const reason = new TextDecoder().decode(decoder.arr.subarray(decoder.pos + 1, decoder.pos + 1 + len))
      o.onDenied && o.onDenied(reason)
    } finally {
      decoder.pos = start
    }
    return auth(encoder, decoder, p, emitSynced, messageType)
  }
  return { doc, text, quill, provider, binding, destroy: () => { binding.destroy(); provider.destroy(); doc.destroy() } }
}

window.CollabEditor = { open }
