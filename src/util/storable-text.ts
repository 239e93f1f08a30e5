// Postgres cannot hold U+0000 in text or jsonb, and a lone UTF-16 surrogate is not a character.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * `text` with what Postgres cannot store replaced by U+FFFD. For text the service writes itself
 * from what failed (an error's message may quote the bad input that caused it): the record of a
 * failure must not fail in turn.
 */
export function toStorableText(text: string): string {
  return text.replace(UNSTORABLE, '\uFFFD');
}
