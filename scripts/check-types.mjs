// @ts-check
// Fails when worker-configuration.d.ts no longer matches wrangler.toml and
// .dev.vars.example: a binding or var added without its type fails CI here.
// (`wrangler types --check` ignores --env-file, so it cannot see the secrets'
// names; this regenerates beside the real file and compares.)
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHECKED = 'worker-configuration.d.ts';
const FRESH = 'worker-configuration.fresh.d.ts';
const wrangler = fileURLToPath(new URL('../node_modules/wrangler/bin/wrangler.js', import.meta.url));

/** Everything but the header line, which names the output file. */
const body = (/** @type {string} */ path) => readFileSync(`${root}/${path}`, 'utf8').split('\n').slice(2).join('\n');

const generated = spawnSync(
  process.execPath,
  [wrangler, 'types', FRESH, '--include-runtime=false', '--strict-vars=false', '--env-file', '.dev.vars.example'],
  { cwd: root, encoding: 'utf8', env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
);
// process.exitCode, not process.exit(): the fresh file must be removed on every path.
try {
  if (generated.status !== 0) {
    console.error(generated.stdout, generated.stderr);
    console.error('check-types: `wrangler types` failed');
    process.exitCode = 1;
  } else if (body(FRESH) !== body(CHECKED)) {
    console.error(`check-types: ${CHECKED} is out of date with wrangler.toml or .dev.vars.example: run \`npm run types\` and commit it`);
    process.exitCode = 1;
  } else {
    console.log(`check-types: ${CHECKED} matches wrangler.toml and .dev.vars.example`);
  }
} finally {
  rmSync(`${root}/${FRESH}`, { force: true });
}
