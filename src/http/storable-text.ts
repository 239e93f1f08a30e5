import { z } from 'zod';
import { formatJsonPath, type FieldProblem } from './errors.js';

// Postgres cannot hold U+0000 in text or jsonb, and a lone UTF-16 surrogate is not a character at
// all (jsonb refuses its escape; text would silently get U+FFFD instead). Such input is refused at
// the edge, with its JSON path, before it can reach a query and fail there as a 500.
const NUL = /\u0000/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Why a string cannot be stored, or undefined when it can. */
export function unstorableText(text: string): string | undefined {
  if (NUL.test(text)) return 'contains a NUL character (\\u0000), which cannot be stored';
  if (LONE_SURROGATE.test(text)) return 'contains a lone UTF-16 surrogate (not valid Unicode), which cannot be stored';
  return undefined;
}

/**
 * Every string in a parsed JSON value (object keys included) that cannot be stored, with its path
 * (`steps[1].label`; a bad key is reported at the object that holds it).
 */
export function unstorableTextProblems(value: unknown): FieldProblem[] {
  return findUnstorableText(value).map((p) => ({ path: formatJsonPath(p.path), message: p.message }));
}

/**
 * `schema`, refusing first any string anywhere in the input that cannot be stored. The HTTP
 * validator compiler wraps every route's body, querystring and params schema in it, so no route
 * has to remember to.
 */
export function withStorableText<T extends z.ZodType>(schema: T): z.ZodPipe<z.ZodUnknown, T> {
  return z
    .unknown()
    .superRefine((input, ctx) => {
      for (const problem of findUnstorableText(input)) ctx.addIssue({ code: 'custom', message: problem.message, path: problem.path, input });
    })
    .pipe(schema);
}

/** Walks with an explicit stack: a body of deeply nested arrays must not overflow the call stack. */
function findUnstorableText(value: unknown): Array<{ path: PropertyKey[]; message: string }> {
  const found: Array<{ path: PropertyKey[]; message: string }> = [];
  const stack: Array<{ value: unknown; path: PropertyKey[] }> = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: node, path } = stack.pop()!;
    if (typeof node === 'string') {
      const why = unstorableText(node);
      if (why) found.push({ path, message: why });
    } else if (Array.isArray(node)) {
      for (let i = node.length - 1; i >= 0; i--) stack.push({ value: node[i], path: [...path, i] });
    } else if (node !== null && typeof node === 'object') {
      const entries = Object.entries(node);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const why = unstorableText(key);
        if (why) found.push({ path, message: `a key ${why}` });
        else stack.push({ value: child, path: [...path, key] });
      }
    }
  }
  return found;
}
