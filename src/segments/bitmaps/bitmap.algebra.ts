import { kindOf, type Condition } from '../../conditions/condition.schemas.js';
import { assertNever } from '../../util/assert-never.js';
import { canonicalJson } from '../../util/json.js';
import { RoaringBitmap32 } from './roaring.js';

/** A node the bitmap engine takes as a whole from a scan (or the cache): everything but all/any/not. */
export interface Leaf {
  node: Condition;
  /** Canonical JSON of the node: the same leaf written with its keys in another order is the same leaf. */
  key: string;
}

/** Equal leaves written with their keys in another order have equal keys. */
export { canonicalJson };

/** The distinct leaves of a condition whose rules are expanded (a `{rule}` here is a bug). */
export function leavesOf(condition: Condition): Leaf[] {
  const found = new Map<string, Leaf>();
  const walk = (node: Condition): void => {
    const kind = kindOf(node);
    switch (kind) {
      case 'all':
        (node as { all: Condition[] }).all.forEach(walk);
        return;
      case 'any':
        (node as { any: Condition[] }).any.forEach(walk);
        return;
      case 'not':
        walk((node as { not: Condition }).not);
        return;
      case 'rule':
        throw new Error(`rule ${(node as { rule: string }).rule} was not expanded`);
      case 'field':
      case 'exists':
      case 'aggregate':
      case 'segment':
      case 'list': {
        const key = canonicalJson(node);
        if (!found.has(key)) found.set(key, { node, key });
        return;
      }
      default:
        assertNever(kind);
    }
  };
  walk(condition);
  return [...found.values()];
}

/** A bitmap and whether this evaluation made it (and may change it in place) or borrowed it from the cache. */
interface Value {
  bitmap: RoaringBitmap32;
  owned: boolean;
}

/**
 * The condition as set algebra over row numbers: `all` intersects (its `not` children are
 * subtracted rather than complemented), `any` unites, a lone `not` is the complement within
 * `universe`. Leaf bitmaps are borrowed and never modified. Leaves are two-valued (the compiler's
 * contract), so complement is exactly SQL's NOT.
 */
export function evaluate(condition: Condition, leaf: (key: string) => RoaringBitmap32, universe: RoaringBitmap32): RoaringBitmap32 {
  const own = (v: Value): RoaringBitmap32 => (v.owned ? v.bitmap : v.bitmap.clone());
  const visit = (node: Condition): Value => {
    const kind = kindOf(node);
    switch (kind) {
      case 'all': {
        const children = (node as { all: Condition[] }).all;
        const positive: Value[] = [];
        const negative: Value[] = [];
        for (const child of children) {
          if (kindOf(child) === 'not') negative.push(visit((child as { not: Condition }).not));
          else positive.push(visit(child));
        }
        positive.sort((a, b) => a.bitmap.size - b.bitmap.size);
        let result: Value;
        if (positive.length === 0) result = { bitmap: universe, owned: false };
        else if (positive.length === 1) result = positive[0]!;
        else {
          const acc = RoaringBitmap32.and(positive[0]!.bitmap, positive[1]!.bitmap);
          for (const p of positive.slice(2)) acc.andInPlace(p.bitmap);
          result = { bitmap: acc, owned: true };
        }
        if (negative.length === 0) return result;
        const acc = result.owned ? result.bitmap : RoaringBitmap32.andNot(result.bitmap, negative.shift()!.bitmap);
        for (const n of negative) acc.andNotInPlace(n.bitmap);
        return { bitmap: acc, owned: true };
      }
      case 'any': {
        const children = (node as { any: Condition[] }).any.map(visit);
        if (children.length === 1) return children[0]!;
        return { bitmap: RoaringBitmap32.orMany(children.map((c) => c.bitmap)), owned: true };
      }
      case 'not':
        return { bitmap: RoaringBitmap32.andNot(universe, visit((node as { not: Condition }).not).bitmap), owned: true };
      case 'rule':
        throw new Error(`rule ${(node as { rule: string }).rule} was not expanded`);
      case 'field':
      case 'exists':
      case 'aggregate':
      case 'segment':
      case 'list':
        return { bitmap: leaf(canonicalJson(node)), owned: false };
      default:
        return assertNever(kind);
    }
  };
  const result = visit(condition);
  return result.owned ? result.bitmap : own(result);
}
