import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const FILES = ['tap.js', 'tap-events.js', 'tap-outbox.js', 'tap-compat.js', 'tap-ref.js'];
const read = (path: string) => readFileSync(resolve(root, path), 'utf8');
const number = (text: string) => Number(text.replace(/,/g, ''));

// The README's first screen states one figure, the budget build.mjs enforces, so it
// changes only with the budget; every exact size is in docs/reference.md#sizes.
it('the README states the page-view budget build.mjs enforces, and links to the sizes', () => {
  const stated = read('README.md').match(/\*\*Snippet: under ([\d,]+) B gzip on every page view\*\*/);
  expect(stated, 'README.md needs a "**Snippet: under N B gzip on every page view**" line').not.toBeNull();
  const budget = read('build.mjs').match(/export const PAGE_VIEW_BUDGET = (\d+);/);
  expect(number(stated![1])).toBe(Number(budget![1]));
  expect(read('README.md')).toContain('(docs/reference.md#sizes)');
  expect(read('docs/reference.md')).toContain(`\`tap.js\` is over ${number(stated![1]).toLocaleString('en')} B gzip`);
});

it.each(FILES)('docs/reference.md#sizes states the sizes of %s as built', (file) => {
  const code = readFileSync(resolve(root, 'dist', file));
  const row = read('docs/reference.md')
    .split('\n')
    .find((line) => line.startsWith(`| \`${file}\` |`));
  expect(row, `docs/reference.md needs a row for ${file} in its Sizes table`).toBeDefined();
  const [raw, gzip, brotli] = [...row!.matchAll(/([\d,]+) B/g)].map((match) => number(match[1]));
  expect({ raw, gzip, brotli }).toEqual({
    raw: code.length,
    gzip: gzipSync(code, { level: 9 }).length,
    brotli: brotliCompressSync(code, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  });
});

it.each(FILES)('%s carries no validation library and no secret', (file) => {
  const code = readFileSync(resolve(root, 'dist', file), 'utf8');
  expect(code).not.toMatch(/zod|ZodError|TAPFILIATE_API_KEY|x-api-key/i);
});
