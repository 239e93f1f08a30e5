import { KEY_SECRET_PATTERN } from './keys.js';
import { maskMsisdn } from './mask.js';

// A standalone run of 11 digits (a mainland mobile number, or anything shaped like one), optionally
// with the +86/0086/86 country prefix. Longer digit runs (epoch milliseconds, ids) are left alone,
// and UUIDs (request ids) are matched first and kept whole, since their hex groups can hold 11 digits.
const SCRUBBED = new RegExp(
  String.raw`([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})|(?<!\d)(?:(?:\+|00)?86)?(\d{11})(?!\d)|` + KEY_SECRET_PATTERN.source,
  'gi',
);

/**
 * Masks phone-shaped numbers and API key secrets anywhere in a text. Applied to every log line as
 * the last step before it is written, so a number in a URL, an error message or a payload that
 * some code logs by mistake still never reaches the log whole.
 */
export function scrubSecrets(text: string): string {
  return text.replace(SCRUBBED, (match, uuid: string | undefined, digits: string | undefined, keyPrefix: string | undefined) => {
    if (uuid) return match;
    if (digits) return maskMsisdn(digits);
    return `qk_${keyPrefix}_[redacted]`;
  });
}
