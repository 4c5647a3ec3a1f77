// The docs name files of this repo; a rename must not leave them pointing at nothing.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** Markdown files a reader opens: the README, ARCHITECTURE and everything under docs/. */
function markdownFiles(): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith('.md') ? [join(dir, entry.name)] : [],
    );
  return ['README.md', 'ARCHITECTURE.md', ...walk('docs')];
}

/** A backticked path of the repo: starts with one of its top-level folders and names a file or a folder. */
const REPO_PATH = /`((?:proxy|snippet|common|test|bench|scripts|demo|docs)\/[A-Za-z0-9_./*-]*)`/g;

describe('ARCHITECTURE.md', () => {
  /** Every backticked path of the repo ARCHITECTURE.md names, exactly as written. */
  const named = () => [...read('ARCHITECTURE.md').matchAll(REPO_PATH)].map((match) => match[1]).filter((path) => !path.includes('*'));

  it('names only files and folders that exist, by their exact path from the repo root', () => {
    expect(named().length).toBeGreaterThan(20);
    const missing = named().filter((path) => !existsSync(join(root, path)));
    expect(missing).toEqual([]);
  });

  it('names every module of the proxy, the snippet and common by its exact path', () => {
    const modules = (dir: string): string[] =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? (entry.name === 'generated' ? [] : modules(join(dir, entry.name))) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
      );
    const paths = new Set(named());
    const unnamed = [...modules('proxy'), ...modules('snippet'), ...modules('common')].filter((path) => !paths.has(path));
    expect(unnamed).toEqual([]);
  });
});

describe('relative links in the docs', () => {
  it.each(markdownFiles())('%s links only to files that exist', (file) => {
    const links = [...read(file).matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1]).filter((link) => !/^(https?:|mailto:|#)/.test(link));
    const missing = links.filter((link) => !existsSync(resolve(root, dirname(file), link.split('#')[0])));
    expect(missing).toEqual([]);
  });
});
