import { KEY_SECRET_PATTERN } from './keys.js';
import { maskMsisdn, NUMBER_START } from './mask.js';

// What may stand between the digits of a number in a log line: a space, dash or dot, raw or
// %-encoded as it is in a logged URL (`?msisdn=138-0013-8000`, `/entries/%2B86%20138%200013%208000`).
const SEPARATOR = String.raw`(?:[ .\-]|%20|%2[dDeE])`;
// Exactly 11 digits (a mainland mobile number, or anything shaped like one), optionally after the
// +86/0086/86 country prefix, with separators allowed between digits. Longer digit runs (epoch
// milliseconds, ids) are left alone, and UUIDs (request ids) are matched first and kept whole,
// since their hex groups can hold 11 digits.
const SCRUBBED = new RegExp(
  String.raw`([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|` +
    String.raw`${NUMBER_START}(?:(?:\+|%2[bB]|00)?86${SEPARATOR}?)?(\d(?:${SEPARATOR}?\d){10})(?!\d)|` +
    KEY_SECRET_PATTERN.source,
  'gi',
);

// Secrets that travel in query strings: the token of a callback URL (Kannel's dlr-url, which it
// calls without a key) and a password a gateway's HTTP interface takes in its URL.
const QUERY_SECRET = /([?&](?:token|password)=)[^&\s"]+/gi;

/**
 * Masks phone-shaped numbers, API key secrets and query-string secrets anywhere in a text.
 * Applied to every log line as the last step before it is written, so a number in a URL, an error
 * message or a payload that some code logs by mistake still never reaches the log whole.
 */
export function scrubSecrets(text: string): string {
  return text.replace(QUERY_SECRET, '$1[redacted]').replace(SCRUBBED, (match, uuid: string | undefined, digits: string | undefined, keyPrefix: string | undefined) => {
    if (uuid) return match;
    if (digits) return maskMsisdn(digits.replace(/%[0-9A-Fa-f]{2}|\D/g, ''));
    return `qk_${keyPrefix}_[redacted]`;
  });
}
