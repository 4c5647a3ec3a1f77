import type { ConversionSeed, FaultSpec, ReceivedClick, ReceivedPostback, ReceivedRest, RedirectedRequest, StandInConversion } from './server.mjs';

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
    /** TAPFILIATE_REST_URL for a worker that refunds through this server. */
    restUrl: `${url}/1.6/`,
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
    /** Every request to the REST refund endpoints, in arrival order. */
    async rest(): Promise<ReceivedRest[]> {
      return (await control('rest')).json();
    },
    /** The conversions the stand-in holds, with their commissions' state. */
    async conversions(): Promise<StandInConversion[]> {
      return (await control('conversions')).json();
    },
    /** One conversion's commissions, or undefined when the stand-in has no such conversion. */
    async commissionsOf(externalId: string): Promise<StandInConversion['commissions'] | undefined> {
      return (await this.conversions()).find((c) => c.external_id === externalId)?.commissions;
    },
    /** A conversion Tapfiliate knows without a postback through this server. */
    async seedConversion(seed: ConversionSeed): Promise<StandInConversion> {
      return (await control('conversions', { method: 'POST', body: JSON.stringify(seed) })).json();
    },
    /** Replaces the fault spec; `spec.clicks` and `spec.rest` hold those endpoints' own faults. */
    async setFaults(spec: FaultSpec): Promise<void> {
      await (await control('faults', { method: 'POST', body: JSON.stringify(spec) })).text();
    },
    async reset(): Promise<void> {
      await (await control('reset', { method: 'POST' })).text();
    },
  };
}
