// The snippet tests load the built dist/tap.js, so the project builds it first:
// running this project alone after an edit never tests a stale build.
import { execFileSync } from 'node:child_process';

export default function setup() {
  try {
    execFileSync(process.execPath, ['build.mjs'], { cwd: new URL('../..', import.meta.url), stdio: 'pipe' });
  } catch (error) {
    const output = error as { stdout?: Buffer; stderr?: Buffer };
    throw new Error(`node build.mjs failed, so the snippet tests would run on a stale dist/:\n${output.stdout ?? ''}${output.stderr ?? ''}`);
  }
}
