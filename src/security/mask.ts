import { seesFullNumbers, type Role } from './roles.js';

/** `13812341234` → `138****1234`; anything not phone-shaped keeps only its last four characters. */
export function maskMsisdn(msisdn: string): string {
  if (msisdn.length >= 11) return `${msisdn.slice(0, 3)}****${msisdn.slice(-4)}`;
  if (msisdn.length <= 4) return '****';
  return `${'*'.repeat(msisdn.length - 4)}${msisdn.slice(-4)}`;
}

/** The number as this role may see it. */
export function msisdnFor(role: Role, msisdn: string): string;
export function msisdnFor(role: Role, msisdn: string | null): string | null;
export function msisdnFor(role: Role, msisdn: string | null): string | null {
  if (msisdn === null) return null;
  return seesFullNumbers(role) ? msisdn : maskMsisdn(msisdn);
}
