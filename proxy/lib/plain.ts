// The small rules for reading untrusted JSON: one parse guard, one plain-object check.

/** A JSON object: not null, not an array. Everything parsed from a request or a platform is checked with this first. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The object without its undefined fields: what is sent to Tapfiliate or stored says only what is known. */
export function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined)) as T;
}

/** The one JSON.parse guard: undefined for anything that is not JSON. */
export function parseJson(text: string | undefined | null): unknown {
  if (typeof text !== 'string') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
