// Reads the script tag once; each attribute is described in docs/reference.md.
// `currentScript` is set while any classic script runs its top level, async
// ones and those a tag manager inserts included; it is null only for a module
// or a copy run from elsewhere, which then gets the `/_tap/` defaults.

const tag = document.currentScript as HTMLScriptElement | null;
/** The tag's `data-*` attributes. */
export const data: DOMStringMap = tag ? tag.dataset : {};

/**
 * A lazily loaded file next to tap.js (`tap-events.js`): tap.js's own URL with
 * its file name swapped, so a version query (`tap.js?v=3`) carries over to it.
 * Without a tag, from the default folder.
 */
export const fileUrl = (name: string) => (tag ? tag.src : '/_tap/').replace(/[^/?#]*([?#].*)?$/, 'tap-' + name + '.js$1');

