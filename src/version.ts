/** The library's version: package.json's, put in by the build (esbuild `define`; vitest's config does the same). */
declare const IRLLREC_VERSION: string | undefined;
export const VERSION: string = typeof IRLLREC_VERSION === 'string' ? IRLLREC_VERSION : '0.0.0-dev';
