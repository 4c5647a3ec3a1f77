// `cloudflare:workers` for the Node fuzz project: proxy/delivery/ledger.ts
// extends DurableObject, which the fuzz never instantiates (its delivery is a fake).
export class DurableObject {}
export const env = {};
