import { spawnSync } from 'node:child_process';
import { CHROMIUM, chromiumMissing } from './chromium';

/**
 * Once per run: builds the snippet the worker serves (each stack starts with
 * wrangler.toml's build command turned off), and checks for the browser: CI
 * must run the browser suite; a laptop without Chromium is told loudly how to get it.
 */
export default function setup(): void {
  const build = spawnSync(process.execPath, ['build.mjs'], { encoding: 'utf8' });
  if (build.status !== 0) {
    // build.mjs writes every file before it checks the size budget: over budget, the
    // snippet is still built and this suite checks its behaviour. `npm test` fails on
    // the budget at its own build step; anything else stops here.
    if (!/over the \d+ B gzip budget/.test(build.stderr)) throw new Error(`node build.mjs failed:\n${build.stdout}${build.stderr}`);
    console.warn(`\nnode build.mjs: ${build.stderr.trim()} (the e2e suite runs on the built files)\n`);
  }
  if (!chromiumMissing) return;
  if (process.env.CI) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium`);
  console.warn(`\nSKIPPED: end-to-end suite, no Chromium at ${CHROMIUM}. Install it: apt-get install -y chromium\n`);
}
