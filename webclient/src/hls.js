// The room's program player (static/stage/program.js) imports this: hls.js's light build, which has
// Low-Latency HLS (parts, blocking playlist reload, delta updates, rendition reports) and leaves out
// what the program never uses (alternate audio, subtitles, DRM, CMCD, interstitials): about 40% less
// to download than the full build. Bundled as an ES module, so the page loads it only for a viewer
// of the program tier (a dynamic import), through the import map's digest URL.
export { default } from 'hls.js/light'
