// @ts-check
// `npm run plugin`: the WordPress plugin as an installable zip, dist/tapline-wordpress.zip, with
// everything under a `tapline/` folder as Plugins → Add New → Upload expects. Uses the `zip`
// command (Debian: apt-get install zip).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'tapline-wordpress.zip');
const stage = mkdtempSync(join(tmpdir(), 'tapline-plugin-'));
try {
  // The plugin's files only: its README.md is for this repository's readers; readme.txt is WordPress's.
  cpSync(join(root, 'integrations/wordpress'), join(stage, 'tapline'), { recursive: true, filter: (path) => !path.endsWith('README.md') });
  mkdirSync(join(root, 'dist'), { recursive: true });
  rmSync(out, { force: true });
  const zip = spawnSync('zip', ['-r', '-X', '-q', '-9', out, 'tapline'], { cwd: stage, stdio: 'inherit' });
  if (zip.error || zip.status !== 0) {
    console.error('npm run plugin: the `zip` command failed or is missing (apt-get install zip)');
    process.exit(1);
  }
  console.log(`dist/tapline-wordpress.zip: ${statSync(out).size} B`);
} finally {
  rmSync(stage, { recursive: true, force: true });
}
