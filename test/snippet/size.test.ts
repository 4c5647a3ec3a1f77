import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';

const root = resolve(__dirname, '../..');

// The README's first screen promises a size; a snippet that grew or shrank must say so there.
it('the README states the gzip size of the snippet as built', () => {
  const gzip = gzipSync(readFileSync(resolve(root, 'dist/tap.js')), { level: 9 }).length;
  const stated = readFileSync(resolve(root, 'README.md'), 'utf8').match(/\*\*Snippet: ([\d,]+) B gzip\*\*/);
  expect(stated, 'README.md needs a "**Snippet: N B gzip**" line').not.toBeNull();
  expect(Number(stated![1].replace(/,/g, ''))).toBe(gzip);
});

it.each(['tap-events.js', 'tap-ref.js'])('the README states the gzip size of the lazy file %s as built', (file) => {
  const gzip = gzipSync(readFileSync(resolve(root, 'dist', file)), { level: 9 }).length;
  const readme = readFileSync(resolve(root, 'README.md'), 'utf8');
  const stated = new RegExp(`\`${file.replace('.', '\\.')}\` \\(([\\d,]+) B gzip\\)`).exec(readme);
  expect(stated, `README.md needs "\`${file}\` (N B gzip)"`).not.toBeNull();
  expect(Number(stated![1].replace(/,/g, ''))).toBe(gzip);
});

it.each(['tap.js', 'tap-events.js', 'tap-ref.js'])('%s carries no validation library and no secret', (file) => {
  const code = readFileSync(resolve(root, 'dist', file), 'utf8');
  expect(code).not.toMatch(/zod|ZodError|TAPFILIATE_API_KEY|x-api-key/i);
});
