// The import graph of proxy/, snippet/ and common/, read from the import and
// export statements of the .ts files (type-only ones included: a type import is
// still a dependency a reader must follow), checked against the layer order
// ARCHITECTURE.md declares in its "Layers" table. `node scripts/layers.mjs`
// prints every cycle and every upward import; test/docs/imports.test.ts fails on any.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TREES = ['proxy', 'snippet', 'common'];

/** Every .ts file of the trees, as a path from the repo root. `generated/` is build output. */
export function modules(root = ROOT) {
  const walk = (dir) =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? (entry.name === 'generated' ? [] : walk(join(dir, entry.name))) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
    );
  return TREES.filter((tree) => existsSync(join(root, tree))).flatMap(walk).sort();
}

/** `import … from '…'`, `export … from '…'`, `import '…'`, over several lines too; comments first removed. */
const IMPORT = /(?:^|[;\n])\s*(?:import|export)\s+(?:type\s+)?(?:[\w*${},\s]+?\s+from\s+)?['"]([^'"]+)['"]/g;

/** The repo files a module imports (relative imports only; packages are outside the layers). */
export function importsOf(file, root = ROOT) {
  const source = readFileSync(join(root, file), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '')
    .replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  const found = new Set();
  for (const [, specifier] of source.matchAll(IMPORT)) {
    if (!specifier.startsWith('.')) continue;
    const base = join(dirname(file), specifier);
    const target = [`${base}.ts`, join(base, 'index.ts'), base].find((path) => existsSync(join(root, path)) && statSync(join(root, path)).isFile());
    if (target && target.endsWith('.ts') && !target.includes('/generated/')) found.add(target);
  }
  return [...found].sort();
}

/** The layers, lowest first, from ARCHITECTURE.md's "Layers" table: `| n | name | \`path\`, … |`. */
export function layers(root = ROOT) {
  const text = readFileSync(join(root, 'ARCHITECTURE.md'), 'utf8');
  const section = text.slice(text.indexOf('## Layers'));
  const rows = [];
  for (const line of section.split('\n').slice(1)) {
    if (line.startsWith('## ')) break;
    const cells = line.split('|').map((cell) => cell.trim());
    if (!/^\d+$/.test(cells[1] ?? '')) continue;
    rows.push({ rank: Number(cells[1]), name: cells[2], paths: [...cells[3].matchAll(/`([^`]+)`/g)].map((match) => match[1]) });
  }
  return rows;
}

/** The layer of a file: the row whose path is the longest prefix of it. */
export function layerOf(file, table) {
  let best;
  for (const row of table) {
    for (const path of row.paths) {
      if ((file === path || (path.endsWith('/') && file.startsWith(path))) && (!best || path.length > best.path.length)) best = { row, path };
    }
  }
  return best?.row;
}

/** Every cycle of the graph, each once (Tarjan's strongly connected components of more than one file, or a file importing itself). */
export function cycles(graph) {
  let index = 0;
  const stack = [];
  const state = new Map();
  const found = [];
  const visit = (file) => {
    state.set(file, { index, low: index, onStack: true });
    index++;
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!state.has(next)) {
        visit(next);
        state.get(file).low = Math.min(state.get(file).low, state.get(next).low);
      } else if (state.get(next).onStack) state.get(file).low = Math.min(state.get(file).low, state.get(next).index);
    }
    if (state.get(file).low === state.get(file).index) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        state.get(member).onStack = false;
        component.push(member);
      } while (member !== file);
      if (component.length > 1 || (graph.get(file) ?? []).includes(file)) found.push(component.sort());
    }
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return found;
}

/** The graph, its cycles, the imports that go up the layer order, and the files no layer names. */
export function analyse(root = ROOT) {
  const table = layers(root);
  const graph = new Map(modules(root).map((file) => [file, importsOf(file, root)]));
  const upward = [];
  const unlayered = [];
  for (const [file, targets] of graph) {
    const from = layerOf(file, table);
    if (!from) {
      if (file.startsWith('proxy/')) unlayered.push(file);
      continue;
    }
    for (const target of targets) {
      const to = layerOf(target, table);
      if (to && to.rank > from.rank) upward.push(`${file} (${from.name}) → ${target} (${to.name})`);
    }
  }
  return { table, graph, cycles: cycles(graph), upward, unlayered };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { graph, cycles: found, upward, unlayered } = analyse();
  console.log(`${graph.size} modules, ${[...graph.values()].reduce((sum, targets) => sum + targets.length, 0)} imports`);
  console.log(`cycles: ${found.length}`);
  for (const cycle of found) console.log(`  ${cycle.join(' ↔ ')}`);
  console.log(`upward imports: ${upward.length}`);
  for (const line of upward) console.log(`  ${line}`);
  if (unlayered.length) console.log(`in no layer: ${unlayered.join(', ')}`);
  process.exitCode = found.length || upward.length || unlayered.length ? 1 : 0;
}

