// The proxy's layers (ARCHITECTURE.md, "Layers"): no import cycle in proxy/,
// snippet/ or common/, and no import from a lower layer to a higher one, type
// imports included. The graph is read by scripts/layers.mjs.
import * as esbuild from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyse } from '../../scripts/layers.mjs';

const root = resolve(import.meta.dirname, '../..');

describe('the import graph', () => {
  const { table, graph, cycles, upward, unlayered } = analyse(root);

  it('reads the layer table and the modules', () => {
    expect(table.map((row: { name: string }) => row.name)).toEqual(['common', 'lib', 'config', 'tapfiliate', 'events', 'platforms', 'delivery', 'http', 'routes', 'app', 'index']);
    for (const row of table as { paths: string[] }[]) for (const path of row.paths) expect(existsSync(join(root, path)), path).toBe(true);
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('proxy/index.ts')).toContain('proxy/delivery/ledger.ts');
  });

  it('has no cycle', () => {
    expect(cycles).toEqual([]);
  });

  it('has no upward import, and every proxy module is in a layer', () => {
    expect(upward).toEqual([]);
    expect(unlayered).toEqual([]);
  });
});

describe('the checker', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tapline-layers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };

  it('finds a cycle closed by a type import, and an upward import', () => {
    write('ARCHITECTURE.md', '## Layers\n\n| rank | layer | paths |\n|---|---|---|\n| 1 | lib | `proxy/lib/` |\n| 2 | config | `proxy/config.ts` |\n');
    write('proxy/config.ts', 'export const c = 1;\n');
    write('proxy/lib/a.ts', "import type {\n  B,\n} from './b';\nexport const a = 1;\n");
    write('proxy/lib/b.ts', "export type { A } from './a';\nimport { c } from '../config';\n// import { nothing } from './not-an-import';\n");
    const { cycles, upward } = analyse(dir);
    expect(cycles).toEqual([['proxy/lib/a.ts', 'proxy/lib/b.ts']]);
    expect(upward).toEqual(['proxy/lib/b.ts (lib) → proxy/config.ts (config)']);
  });
});

describe('the app bundle', () => {
  it('holds neither the Durable Object nor cloudflare:workers (proxy/index.ts exports the object)', async () => {
    const result = await esbuild.build({
      entryPoints: [join(root, 'proxy/app.ts')],
      bundle: true,
      write: false,
      metafile: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      conditions: ['workerd', 'worker', 'import'],
      external: ['cloudflare:*', 'node:*'],
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((input) => input.endsWith('proxy/routes/webhooks.ts'))).toBe(true);
    expect(inputs.filter((input) => input.includes('proxy/delivery/ledger.ts'))).toEqual([]);
    const imports = Object.values(result.metafile.inputs).flatMap((input) => input.imports.map((entry) => entry.path));
    expect(imports.filter((path) => path.startsWith('cloudflare:'))).toEqual([]);
  });
});
