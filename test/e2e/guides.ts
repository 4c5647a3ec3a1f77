// Reads the HTML a merchant pastes from docs/guides/*.md, so the end-to-end
// suite serves the guides' own snippets and a guide that drifts fails a test.
//
// A guide marks each block the suite runs with an info string:
//   ```html tap:head         the tag, in every page's <head>
//   ```html tap:thank-you    the call on the page after the order (or sign-up)
//   ```html tap:storefront   a storefront script (Shopify's cart attribute, Stripe's Buy form)
// and, right below a block, the values its template expressions take in the test
// and the URL of the page it goes on:
//   <!-- sample: {{@member.uuid}} => 3f0c6a8e-… -->
//   <!-- page: /?action=signup&success=true -->
import { readFileSync } from 'node:fs';

export const GUIDE_BLOCKS = ['head', 'thank-you', 'storefront'] as const;
export type GuideBlockKind = (typeof GUIDE_BLOCKS)[number];

export interface GuideBlock {
  /** The block with every sample substituted: what the platform prints into the page. */
  html: string;
  /** The page's path and query from `<!-- page: … -->`, if given. */
  page?: string;
}

export type Guide = Partial<Record<GuideBlockKind, GuideBlock>>;

/** Template syntax of the platforms in the guides: Liquid/Handlebars, PHP, EJS. Any left after substitution is drift. */
const TEMPLATE = /\{\{|\{%|<\?php|<%/;

export function guidePath(name: string): string {
  return `docs/guides/${name}.md`;
}

/** The tap: blocks of a guide's Markdown; throws, naming the guide, when a block or sample no longer fits. */
export function parseGuide(markdown: string, name = 'guide'): Guide {
  const guide: Guide = {};
  const fence = /^```html tap:([a-z-]+)\n([\s\S]*?)^```\n((?:<!-- (?:sample|page): .*-->\n)*)/gm;
  for (const [, kind, body, notes] of markdown.matchAll(fence)) {
    if (!(GUIDE_BLOCKS as readonly string[]).includes(kind)) throw new Error(`${name}: unknown block tap:${kind}`);
    if (guide[kind as GuideBlockKind]) throw new Error(`${name}: two tap:${kind} blocks`);
    let html = body;
    let page: string | undefined;
    for (const [, type, value] of notes.matchAll(/^<!-- (sample|page): (.*) -->$/gm)) {
      if (type === 'page') {
        page = value.trim();
        continue;
      }
      const arrow = value.indexOf(' => ');
      if (arrow < 0) throw new Error(`${name}: a sample line without " => ": ${value}`);
      const [expression, sample] = [value.slice(0, arrow), value.slice(arrow + 4)];
      if (!html.includes(expression)) throw new Error(`${name}: tap:${kind} no longer contains ${expression}, which its sample line names`);
      html = html.split(expression).join(sample);
    }
    const left = TEMPLATE.exec(html);
    if (left) throw new Error(`${name}: tap:${kind} still holds template syntax (${html.slice(left.index, left.index + 40)}…): add a sample line`);
    guide[kind as GuideBlockKind] = { html, ...(page && { page }) };
  }
  return guide;
}

export function readGuide(name: string): Guide {
  return parseGuide(readFileSync(guidePath(name), 'utf8'), guidePath(name));
}

/** A block a scenario needs, or a failure naming the guide. */
export function block(guide: Guide, kind: GuideBlockKind, name: string): GuideBlock {
  const found = guide[kind];
  if (!found) throw new Error(`${guidePath(name)} has no \`\`\`html tap:${kind} block`);
  return found;
}

/** Splits a `<!-- page: -->` value into the merchant's page key (path) and the URL path with query. */
export function pageOf(found: GuideBlock, fallback: string): { path: string; url: string } {
  const url = found.page ?? fallback;
  return { path: url.split('?')[0], url };
}

/**
 * The first page URL of a guide's "Check it" section, as a path and query on
 * the test's shop host: the landing a merchant is told to open.
 */
export function checkLanding(name: string): string {
  const markdown = readFileSync(guidePath(name), 'utf8');
  const section = /^## \d+\. Check it\n([\s\S]*?)(?=^## |(?![\s\S]))/m.exec(markdown)?.[1];
  const url = section && /`https:\/\/shop\.example(\/[^`]*)`/.exec(section)?.[1];
  if (!url) throw new Error(`${guidePath(name)}: no "Check it" section with a https://shop.example/… URL`);
  return url;
}

/** The `[tap]` lines a page logs, each as its arguments' JSON values, collected from now on. */
export function tapLines(page: import('playwright-core').Page): unknown[][] {
  const lines: unknown[][] = [];
  page.on('console', (message) => {
    void Promise.all(message.args().map((argument) => argument.jsonValue().catch(() => undefined))).then((values) => {
      if (values[0] === '[tap]') lines.push(values.slice(1));
    });
  });
  return lines;
}
