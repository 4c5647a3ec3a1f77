import { readFileSync } from 'node:fs';

/** A fixture's raw text, exactly as a platform would send it (ids beyond 2^53 stay exact). */
export function fixtureText(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

export function fixture<T = Record<string, any>>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}
