// docs/reference.md#sizes states the operator console's size; a console that grew or shrank must say so there.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect, it } from 'vitest';
import { CONSOLE_FILES } from '../../proxy/generated/console';

const root = resolve(__dirname, '../..');

it('docs/reference.md#sizes states the console’s gzip and minified size as built', () => {
  const sources = Object.values(CONSOLE_FILES).map((file) => file.source);
  const gzip = sources.reduce((total, source) => total + gzipSync(source, { level: 9 }).length, 0);
  const raw = sources.reduce((total, source) => total + Buffer.byteLength(source), 0);
  const stated = /console at `\/_tap\/admin\/`, which no shopper loads, is ([\d,]+) B gzip \(([\d,]+) B minified/.exec(readFileSync(resolve(root, 'docs/reference.md'), 'utf8'));
  expect(stated, 'docs/reference.md needs the console’s "N B gzip (M B minified" line').not.toBeNull();
  expect([Number(stated![1].replace(/,/g, '')), Number(stated![2].replace(/,/g, ''))]).toEqual([gzip, raw]);
});
