import type { FaultSpec, ReceivedPostback } from './server.mjs';

/**
 * Drives a running postback server over its /__control/ endpoints, from any
 * runtime with fetch (workerd tests, the e2e harness).
 *
 * @example
 * const upstream = postbackControl(inject('proxyPostbackServers').app);
 * await upstream.setFaults({ next: ['503'] });
 * expect((await upstream.accepted('conversion')).length).toBe(1);
 */
export function postbackControl(url: string) {
  const control = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${url}/__control/${path}`, init);
    if (!response.ok) throw new Error(`postback server /__control/${path} answered ${response.status}`);
    return response;
  };
  const received = async (): Promise<ReceivedPostback[]> => (await control('received')).json();
  return {
    url,
    conversionUrl: `${url}/1.7/pb/con/c/`,
    customerUrl: `${url}/1.7/pb/cus/c/`,
    received,
    async accepted(kind?: 'conversion' | 'customer'): Promise<ReceivedPostback[]> {
      return (await received()).filter((r) => r.status >= 200 && r.status < 300 && (!kind || r.kind === kind));
    },
    async setFaults(spec: FaultSpec): Promise<void> {
      await (await control('faults', { method: 'POST', body: JSON.stringify(spec) })).text();
    },
    async reset(): Promise<void> {
      await (await control('reset', { method: 'POST' })).text();
    },
  };
}
