import type { FaultSpec, ReceivedClick, ReceivedPostback, RedirectedRequest } from './server.mjs';

/**
 * Drives a running postback server over its /__control/ endpoints, from any
 * runtime with fetch (workerd tests, the e2e harness).
 *
 * @example
 * const upstream = postbackControl(inject('proxyPostbackServers').app);
 * await upstream.setFaults({ next: ['503', { status: 422, message: 'Coupon already expired' }, '307'] });
 * expect((await upstream.accepted('conversion')).length).toBe(1);
 * expect(await upstream.redirected()).toEqual([]); // nothing followed the 307
 */
export function postbackControl(url: string) {
  const control = async (path: string, init?: RequestInit) => {
    const response = await fetch(`${url}/__control/${path}`, init);
    if (!response.ok) throw new Error(`postback server /__control/${path} answered ${response.status}`);
    return response;
  };
  const received = async (): Promise<ReceivedPostback[]> => (await control('received')).json();
  const clicks = async (): Promise<ReceivedClick[]> => (await control('clicks')).json();
  return {
    url,
    conversionUrl: `${url}/1.7/pb/con/c/`,
    customerUrl: `${url}/1.7/pb/cus/c/`,
    clicksUrl: `${url}/1.6/clicks/`,
    received,
    async accepted(kind?: 'conversion' | 'customer'): Promise<ReceivedPostback[]> {
      return (await received()).filter((r) => r.status >= 200 && r.status < 300 && (!kind || r.kind === kind));
    },
    /** Every request to the clicks endpoint, in arrival order. */
    clicks,
    /** The clicks answered 2xx (each has its `id`). */
    async acceptedClicks(): Promise<ReceivedClick[]> {
      return (await clicks()).filter((r) => r.status >= 200 && r.status < 300);
    },
    /** Every request that followed an injected 302/307 to the capture path: should stay empty. */
    async redirected(): Promise<RedirectedRequest[]> {
      return (await control('redirected')).json();
    },
    /** Replaces the fault spec; `spec.clicks` holds the clicks endpoint's own faults. */
    async setFaults(spec: FaultSpec): Promise<void> {
      await (await control('faults', { method: 'POST', body: JSON.stringify(spec) })).text();
    },
    async reset(): Promise<void> {
      await (await control('reset', { method: 'POST' })).text();
    },
  };
}
