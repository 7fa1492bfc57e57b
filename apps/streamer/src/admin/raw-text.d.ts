/**
 * `import text from './file?raw'`: the file's contents as a string, inlined
 * at build time (vite in the tests, the `?raw` plugin of build.mjs in the
 * bundle), so the single-file CLI reads nothing from disk for them.
 */
declare module '*?raw' {
  const text: string;
  export default text;
}
