// How the snippet is bundled, shared by build.mjs (the files the worker serves)
// and bench/bundle.mjs (where tap.js's bytes go), so the bench measures what ships.

/** esbuild options for one snippet file: an IIFE (no globals but `tap`), minified, in ES2020 syntax (every browser since 2020: `??` and `?.` stay as they are). */
export const SNIPPET_BUILD_OPTIONS = {
  bundle: true,
  format: /** @type {const} */ ('iife'),
  minify: true,
  target: 'es2020',
  legalComments: /** @type {const} */ ('none'),
  // tsconfig's `strict` would prepend "use strict": the snippet neither needs nor relies on it,
  // and a page's sloppy-mode quirks (a read-only window.tap) only fail silently instead of throwing.
  tsconfigRaw: { compilerOptions: { alwaysStrict: false } },
  write: /** @type {const} */ (false),
};
