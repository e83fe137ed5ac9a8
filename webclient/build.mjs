// Bundle the editor and write the licences of everything bundled next to it:
//   cd webclient && npm ci && npm run build
import * as esbuild from 'esbuild'
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'

const out = 'static/dist'
mkdirSync(out, { recursive: true })
await esbuild.build({
  entryPoints: ['src/editor.js'],
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  outfile: `${out}/editor.js`,
  legalComments: 'none',
  metafile: true
}).then((result) => {
  const used = new Set()
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//)
    if (m) used.add(m[1])
  }
  const lines = ['Bundled into editor.js and editor.css (name, version, licence):', '']
  for (const name of [...used].sort()) {
    const pkg = JSON.parse(readFileSync(`node_modules/${name}/package.json`, 'utf8'))
    lines.push(`${name} ${pkg.version} ${pkg.license || 'see package'}`)
  }
  writeFileSync(`${out}/LICENSES.txt`, lines.join('\n') + '\n')
})
// Quill's snow theme (quill-cursors brings its styles inside the script)
writeFileSync(`${out}/editor.css`, readFileSync('node_modules/quill/dist/quill.snow.css', 'utf8'))
