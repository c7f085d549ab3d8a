// WGSL sources are bundled as text (esbuild loader `text`, and the vitest plugin in test/vitest.config.ts).
declare module '*.wgsl' {
  const source: string;
  export default source;
}
