import type { ReplyKind } from '../db/schema.js';

/**
 * Customers' replies (上行) read as operators read them: `ＴＤ`, ` td。` and `Td!` all say TD.
 * Pure functions, so the rules are tested without a database.
 */

// Surrounding whitespace, punctuation and symbols (。！？、 … ~ and their half-width forms).
const SURROUNDING = /^[\s\p{P}\p{S}]+|[\s\p{P}\p{S}]+$/gu;

/**
 * NFKC folds full-width letters, digits, punctuation and the ideographic space to their
 * half-width forms (`ＴＤ` → `TD`); then upper case, runs of spaces as one, and whatever
 * whitespace, punctuation or symbols surround the words dropped.
 */
export function normaliseReply(text: string): string {
  return text.normalize('NFKC').toUpperCase().replace(/\s+/gu, ' ').replace(SURROUNDING, '');
}

export interface ReplyKeywords {
  optOut: ReadonlySet<string>;
  resubscribe: ReadonlySet<string>;
}

/** The configured keywords, normalised like replies so that `td` in the configuration means `TD`. */
export function replyKeywords(optOut: readonly string[], resubscribe: readonly string[]): ReplyKeywords {
  return {
    optOut: new Set(optOut.map(normaliseReply).filter(Boolean)),
    resubscribe: new Set(resubscribe.map(normaliseReply).filter(Boolean)),
  };
}

/**
 * A reply is a keyword only when it is nothing but the keyword: "T" opts out, "Thanks, T is fine"
 * is a response. A customer who writes more is answering the message, not sending a command.
 */
export function classifyReply(normalised: string, keywords: ReplyKeywords): ReplyKind {
  if (keywords.optOut.has(normalised)) return 'opt_out';
  if (keywords.resubscribe.has(normalised)) return 'start';
  return 'response';
}
