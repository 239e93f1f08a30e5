import type { Catalog } from '../catalog/catalog.js';
import type { FieldProblem } from '../http/errors.js';
import { encodeSms, MAX_PARTS, type SmsEncoding } from '../gateways/sms-encoding.js';

/** An SMS campaign's message: `signature + rendered text + optOutSuffix` is what the customer reads. */
export interface SmsMessage {
  text: string;
  signature?: string;
  optOutSuffix?: string;
}

export interface RenderedSms {
  text: string;
  encoding: SmsEncoding;
  parts: number;
  chars: number;
}

// `{name}` names a customers column; `{{` and `}}` write a literal brace.
const PLACEHOLDER = /\{\{|\}\}|\{([a-z][a-z0-9_]{0,62})\}/g;

/** The customers columns a template reads, in first-use order. */
export function placeholdersOf(template: string): string[] {
  const names = new Set<string>();
  for (const match of template.matchAll(PLACEHOLDER)) if (match[1]) names.add(match[1]);
  return [...names];
}

/** The template with each placeholder replaced by the customer's value (empty when null). */
export function renderTemplate(template: string, vars: Readonly<Record<string, unknown>>): string {
  return template.replace(PLACEHOLDER, (token, name: string | undefined) => {
    if (token === '{{') return '{';
    if (token === '}}') return '}';
    const value = vars[name!];
    return value === null || value === undefined ? '' : String(value);
  });
}

/** The whole text as sent: the signature leads (operators require it), the opt-out suffix ends it. */
export function composeSms(message: SmsMessage, vars: Readonly<Record<string, unknown>>): RenderedSms {
  const text = `${message.signature ?? ''}${renderTemplate(message.text, vars)}${message.optOutSuffix ?? ''}`;
  const encoded = encodeSms(text);
  return { text, encoding: encoded.encoding, parts: encoded.parts.length, chars: encoded.chars };
}

/**
 * Problems of a message before anything is saved: an empty text, placeholders that are not
 * customers columns, or a text that is over MAX_PARTS even with every placeholder empty (the
 * shortest it can render; a longer rendering is refused per message at send time).
 */
export function checkSmsMessage(message: SmsMessage, catalog: Catalog, path = 'message'): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (message.text.trim() === '') problems.push({ path: `${path}.text`, message: 'must not be empty' });
  for (const [field, value] of [['text', message.text], ['signature', message.signature], ['optOutSuffix', message.optOutSuffix]] as const) {
    if (value === undefined) continue;
    for (const name of placeholdersOf(value)) {
      if (field !== 'text') problems.push({ path: `${path}.${field}`, message: `placeholders are only allowed in text ({${name}})` });
      else if (!catalog.column('customers', name)) problems.push({ path: `${path}.text`, message: `{${name}} is not a customers column` });
    }
    const stray = value.replace(PLACEHOLDER, '').match(/[{}]/);
    if (stray) problems.push({ path: `${path}.${field}`, message: `unmatched "${stray[0]}" (write {{ or }} for a literal brace)` });
  }
  if (problems.length === 0) {
    const shortest = composeSms(message, {});
    if (shortest.parts > MAX_PARTS) {
      problems.push({ path: `${path}.text`, message: `${shortest.chars} ${shortest.encoding} characters make ${shortest.parts} parts; at most ${MAX_PARTS}` });
    }
  }
  return problems;
}
