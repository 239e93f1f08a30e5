import type { PersonalKind } from '../catalog/catalog.js';
import { seesPersonalData, type Role } from './roles.js';

/** `13812341234` → `138****1234`; anything not phone-shaped keeps only its last four characters. */
export function maskMsisdn(msisdn: string): string {
  if (msisdn.length >= 11) return `${msisdn.slice(0, 3)}****${msisdn.slice(-4)}`;
  if (msisdn.length <= 4) return '****';
  return `${'*'.repeat(msisdn.length - 4)}${msisdn.slice(-4)}`;
}

/** `张三丰` → `张**`: the surname (first character) stays, every other character becomes one `*`. */
export function maskName(name: string): string {
  const chars = [...name];
  if (chars.length === 0) return name;
  return `${chars[0]}${'*'.repeat(chars.length - 1)}`;
}

/** The number as this role may see it. */
export function msisdnFor(role: Role, msisdn: string): string;
export function msisdnFor(role: Role, msisdn: string | null): string | null;
export function msisdnFor(role: Role, msisdn: string | null): string | null {
  if (msisdn === null) return null;
  return seesPersonalData(role) ? msisdn : maskMsisdn(msisdn);
}

/** A customer's name as this role may see it. */
export function nameFor(role: Role, name: string | null): string | null {
  if (name === null) return null;
  return seesPersonalData(role) ? name : maskName(name);
}

/**
 * A free text (a reason, an error message, evidence) as this role may see it: for anyone but
 * admins, every number in it is masked by its digits, whatever the separators.
 */
export function textFor(role: Role, text: string): string;
export function textFor(role: Role, text: string | null): string | null;
export function textFor(role: Role, text: string | null): string | null {
  if (text === null) return null;
  return seesPersonalData(role) ? text : maskDigitsInText(text);
}

/** Problems (`{path, message}`) as this role may see them: the messages quote values. */
export function problemsFor<T extends { path: string; message: string }>(role: Role, problems: readonly T[]): T[] {
  return problems.map((p) => ({ ...p, message: textFor(role, p.message) }));
}

/** A personal value as this role may see it, masked the way its kind is. */
export function personalFor(role: Role, kind: PersonalKind, value: string | null): string | null {
  switch (kind) {
    case 'msisdn':
      return msisdnFor(role, value);
    case 'name':
      return nameFor(role, value);
  }
}

/**
 * What people put between the digits of a phone number (`138 0013 8000`, `138-0013-8000`,
 * `138.0013.8000`, full-width spaces, dashes of every width), raw or %-encoded in a URL.
 */
const SEPARATOR = String.raw`(?:[ \t\u00a0\u3000.\-\u2010-\u2015]|%20|%2[dDeE]|%C2%A0|%E3%80%80)`;
/** Ids and dates are digit runs with dashes that identify nothing personal: they are kept whole. */
const KEPT = String.raw`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?:19|20)\d{2}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?!\d)`;
/**
 * Where a number may start: not inside a %-escape, and not right after another digit (a digit of a
 * %-escape, as in `%2013800138000`, does not count).
 */
export const NUMBER_START = String.raw`(?<!%[0-9A-Fa-f]?)(?<!(?<!%[0-9A-Fa-f]?)\d)`;
const DIGIT_RUN = new RegExp(String.raw`(${KEPT})|${NUMBER_START}\d(?:${SEPARATOR}{0,3}\d)*`, 'gi');
/** Shorter runs (counts, years, short codes) are not numbers a person can be reached on. */
const MIN_MASKED_DIGITS = 7;

/**
 * Masks every run of 7 or more digits in a free text, whatever the separators between them
 * (`138-0013-8002`, `+86 159 1403 7193`, `%2B8615914037193`): a run of 11 or more keeps its first
 * three and last four digits (after a `86` / `0086` country prefix, which stays), a shorter one
 * keeps its last four, as `maskMsisdn` does. Separators stay where they were. UUIDs and ISO dates
 * are left whole.
 */
export function maskDigitsInText(text: string): string {
  return text.replace(DIGIT_RUN, (run: string, kept: string | undefined, offset: number) => {
    if (kept) return run;
    const digits = run.replace(/\D/g, '').length - countEncodedDigits(run);
    if (digits < MIN_MASKED_DIGITS) return run;
    if (isPartOfIdentifier(run, text[offset - 1], text[offset + run.length])) return run;
    return maskRun(run, digits);
  });
}

const IDENTIFIER_CHAR = /[A-Za-z_]/;
const PHONE_SHAPED = /^(?:86|0086)?1\d{10}$/;

/**
 * Plain digits glued to ASCII letters (`seg-d2090015`, `qk_0a1b2c3d`) belong to a name or an id
 * a user chose, not to a number written for a person; unless the digits are phone-shaped
 * (`tel13800138000`), they stay.
 */
function isPartOfIdentifier(run: string, before: string | undefined, after: string | undefined): boolean {
  if (!/^\d+$/.test(run) || PHONE_SHAPED.test(run)) return false;
  return (before !== undefined && IDENTIFIER_CHAR.test(before)) || (after !== undefined && IDENTIFIER_CHAR.test(after));
}

/** Digits that belong to a %-escape (`%20`, `%2D`) are separators, not part of the number. */
function countEncodedDigits(run: string): number {
  let n = 0;
  for (const escape of run.match(/%[0-9A-Fa-f]{2}/g) ?? []) n += escape.replace(/\D/g, '').length;
  return n;
}

function maskRun(run: string, digits: number): string {
  // Indexes of the number's own digits in the run, skipping those inside %-escapes.
  const positions: number[] = [];
  for (let i = 0; i < run.length; i++) {
    if (run[i] === '%' && /^%[0-9A-Fa-f]{2}/.test(run.slice(i))) {
      i += 2;
      continue;
    }
    if (run[i]! >= '0' && run[i]! <= '9') positions.push(i);
  }
  const number = positions.map((p) => run[p]).join('');
  const prefix = digits === 13 && number.startsWith('86') ? 2 : digits === 15 && number.startsWith('0086') ? 4 : 0;
  const core = digits - prefix;
  const keepHead = core >= 11 ? prefix + 3 : prefix;
  const keepTail = 4;
  const out = run.split('');
  positions.forEach((p, i) => {
    if (i >= keepHead && i < digits - keepTail) out[p] = '*';
  });
  return out.join('');
}
