// Bundle the browser libraries and write the licences of everything bundled next to them:
//   cd webclient && npm ci && npm run build
//   dist/editor.js   the lesson-document editor (Quill + y-quill + y-websocket), a classic script
//   dist/hls.js      the room's program player's HLS library (src/hls.js says which build and why),
//                    an ES module that static/stage/program.js imports when a viewer watches the program
import * as esbuild from 'esbuild'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'

const out = 'static/dist'
mkdirSync(out, { recursive: true })

// The packages whose code went into a bundle (from esbuild's metafile), as "name version licence".
function licences (metafile) {
  const used = new Set()
  for (const input of Object.keys(metafile.inputs)) {
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//)
    if (m) used.add(m[1])
  }
  return [...used].sort().map((name) => {
    const pkg = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8'))
    return `${name} ${pkg.version} ${pkg.license || 'see package'}`
  })
}

const common = { bundle: true, minify: true, target: ['es2020'], legalComments: 'none', metafile: true }
const editor = await esbuild.build({ ...common, entryPoints: ['src/editor.js'], format: 'iife', outfile: `${out}/editor.js` })
const hls = await esbuild.build({ ...common, entryPoints: ['src/hls.js'], format: 'esm', outfile: `${out}/hls.js` })

writeFileSync(`${out}/LICENSES.txt`, [
  'Bundled into editor.js and editor.css (name, version, licence):', '', ...licences(editor.metafile), '',
  'Bundled into hls.js (name, version, licence):', '', ...licences(hls.metafile), ''
].join('\n'))
// Quill's snow theme (quill-cursors brings its styles inside the script)
writeFileSync(`${out}/editor.css`, readFileSync('node_modules/quill/dist/quill.snow.css', 'utf8'))
