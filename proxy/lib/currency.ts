// The currencies an event may name: ISO 4217's active codes (the maintenance
// agency's "List One", current currency and funds codes). Kept here as a list
// because Tapfiliate forwards whatever it is given: a typo such as `EURO` or a
// made-up `XYZ` would become a commission in no currency at all.
//
// Left out on purpose: codes withdrawn from List One (HRK since the euro in
// Croatia, 2023; SLL for SLE; ZWL for ZWG, 2024; ANG for XCG, 2025; BGN since
// the euro in Bulgaria, 2026; CUC), and the List One entries that are no money
// one is paid in: precious metals (XAU, XAG, XPD, XPT), bond-market and
// accounting units (XBA–XBD, XDR, XSU, XUA, XAD), and XTS / XXX (testing, no currency).

/** Active ISO 4217 alphabetic codes, upper case. */
export const ISO_4217 = new Set(
  (
    'AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BOV BRL BSD BTN BWP BYN BZD ' +
    'CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP ' +
    'GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR ' +
    'KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN ' +
    'MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD ' +
    'SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX ' +
    'USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG'
  ).split(' '),
);

/** Whether `code` (any case) is an active ISO 4217 currency. */
export function isCurrency(code: string): boolean {
  return ISO_4217.has(code.toUpperCase());
}
