import type { DuckDBValue } from '@duckdb/node-api';
import type { PreparedCondition } from '../conditions/condition.service.js';
import type { Condition } from '../conditions/condition.schemas.js';
import { SqlParams } from '../conditions/params.js';
import { canonicalJson, evaluate, leavesOf, type Leaf } from '../segments/bitmaps/bitmap.algebra.js';
import type { BitmapIndex, SnapshotSession } from '../segments/bitmaps/bitmap.index.js';
import { bitmapFromWords, RoaringBitmap32 } from '../segments/bitmaps/roaring.js';
import { segmentMembersTable } from '../warehouse/tables.js';
import { skipReason, stepName, stepSource, type FunnelStep, type StepContext } from './funnel.js';
import type { PolicyStep } from './policy.schemas.js';

export interface BitmapFunnelResult {
  /** Segment members that are customers now. */
  segmentCount: number;
  removedByStep: Map<number, number>;
  kept: number;
  steps: FunnelStep[];
  /** Who each step removed (1-based step number), and who is left: row numbers of the profile. */
  removed: Map<number, RoaringBitmap32>;
  remaining: RoaringBitmap32;
  /** The profile build and segment table the row numbers belong to (the session's snapshot). */
  snapshot: FunnelSnapshot;
}

/** What the row numbers of a funnel mean: a run table built from them must see the same tables. */
export interface FunnelSnapshot {
  /** The profile build's stamp (`Snapshot.profile`), its table oid and row count. */
  profile: string;
  profileOid: number;
  rows: number;
  /** Table oid of the segment's members table; undefined when it did not exist. */
  membersTable: number | undefined;
}

/**
 * Runs `sql` (one DOUBLE column of customer ids) and hands its values over chunk by chunk, on a
 * connection that sees the same snapshot as the bitmap session.
 */
export type IdReader = (sql: string, values: DuckDBValue[], consume: (ids: ArrayLike<number>) => void) => Promise<void>;

/** How the funnel reaches what the bitmap index does not do by itself. */
export interface FunnelLeaves {
  /**
   * Compiles a `{segment}` or `{list}` leaf to its predicate over the profile aliased `c` (only
   * on a cache miss), and to the query of its customer ids: a PreparedCondition's `predicateOf`
   * and `idsOf`. Without them, those of a condition step of `ctx` are used; a policy without one
   * reads segment and lists uncached.
   */
  compileLeaf?(node: Condition, params: SqlParams): string;
  idsOf?(node: Condition, params: SqlParams): string | undefined;
  /** A condition step's members (`BitmapSegmentEngine.members`); default: its leaves from the index, then bitmap algebra. */
  members?(session: SnapshotSession, condition: PreparedCondition): Promise<RoaringBitmap32>;
  /**
   * Steps of another type that are also conditions, by step index (0-based): their members come
   * from the condition's cached leaves like a condition step's. `hasProductCondition` is one.
   */
  stepConditions?: ReadonlyMap<number, PreparedCondition>;
  /**
   * Given, the steps that are not cached (recentContact, hasProduct) read their customers' ids
   * with it and become bitmaps through the index's customer_id → row index, instead of a
   * semi-join that probes every profile row (at 1M under load: 10 ms for the 156k ids of a 7-day
   * window against 90–200 ms for the semi-join). It must see the session's snapshot: the
   * targeting engine opens the session inside the run's write transaction and reads there.
   */
  readIds?: IdReader;
}

/**
 * The first removing step per customer as bitmap differences: remaining = segment; for each step,
 * removed_i = remaining ∧ step_i and remaining −= removed_i. The order of the steps is the
 * policy's, so a customer two steps would remove counts at the first only, as in
 * `compileFirstRemovingStep`.
 */
export function firstRemovingSteps(segment: RoaringBitmap32, steps: ReadonlyArray<RoaringBitmap32 | undefined>): { removed: RoaringBitmap32[]; remaining: RoaringBitmap32 } {
  let remaining = segment.clone();
  const removed: RoaringBitmap32[] = [];
  for (const step of steps) {
    if (!step) {
      // A skipped step removes nobody.
      removed.push(new RoaringBitmap32());
      continue;
    }
    const out = remaining.intersection(step);
    remaining = remaining.difference(out);
    removed.push(out);
  }
  return { removed, remaining };
}

/**
 * The funnel of a materialised segment through policy steps, on the bitmap index, in one read
 * transaction; undefined when the index cannot answer (the caller runs the SQL funnel).
 *
 * - the segment: its `{segment}` leaf, cached per members table;
 * - list and upload steps: `{list}` leaves, cached per list version and next expiry. A cached
 *   list is judged at the instant it was read, the SQL step at `ctx.asOf`: when an entry of a
 *   step's list expires between the two, those lists are read again at `asOf`, uncached;
 * - condition steps, and steps given as conditions (`leaves.stepConditions`, e.g. hasProduct):
 *   their leaves from the index (cached), then bitmap algebra;
 * - recentContact (and hasProduct when not given as a condition): one statement each
 *   (`stepSource`, the SQL funnel's own text), uncached: they depend on `asOf`; their customer
 *   ids through `leaves.readIds` when given.
 */
export async function bitmapFunnel(
  index: BitmapIndex,
  segmentId: string,
  steps: readonly PolicyStep[],
  ctx: StepContext,
  leaves: FunnelLeaves = {},
): Promise<BitmapFunnelResult | undefined> {
  const anyCondition = ctx.conditions.values().next().value as PreparedCondition | undefined;
  const compileLeaf = leaves.compileLeaf ?? (anyCondition ? (node: Condition, params: SqlParams) => anyCondition.predicateOf(node, params, 'c') : undefined);
  const idsOf = leaves.compileLeaf ? leaves.idsOf : anyCondition && ((node: Condition, params: SqlParams) => anyCondition.idsOf(node, params));
  const members = leaves.members ?? conditionMembers;
  return index.session(async (session) => {
    const idIndex = leaves.readIds ? await session.idIndex() : undefined;
    /** The customers a step removes, whether or not they are in the segment: the SQL funnel's own `stepSource`. */
    const stepMembers = async (step: PolicyStep, i: number): Promise<RoaringBitmap32> => {
      const params = new SqlParams();
      const source = stepSource(step, i, ctx, params);
      if (leaves.readIds && idIndex) {
        const words = new Uint32Array(Math.ceil(session.snapshot.rows / 32));
        await leaves.readIds(`SELECT CAST(customer_id AS DOUBLE) AS id FROM (${source}) s WHERE customer_id IS NOT NULL`, params.values, (ids) =>
          idIndex.mark(ids, words),
        );
        return bitmapFromWords(words);
      }
      return one(session, `c.customer_id IN (SELECT customer_id FROM (${source}) s WHERE customer_id IS NOT NULL)`, params);
    };
    const described: FunnelStep[] = [];
    const listOf = (step: PolicyStep) => (step.type === 'list' ? step.list : step.type === 'upload' ? step.listId : undefined);
    const active = steps.map((step, i) => {
      const skipped = skipReason(step, ctx);
      described.push({ index: i + 1, name: stepName(step), type: step.type, ...(skipped ? { skipped } : {}) });
      return !skipped;
    });

    // The segment and the lists: cached leaves.
    const segmentNode: Condition = { segment: segmentId };
    const lists = [...new Set(steps.filter((s, i) => active[i] && listOf(s) !== undefined).map((s) => listOf(s)!))];
    const cached = new Map<string, RoaringBitmap32>();
    if (compileLeaf) {
      const wanted: Leaf[] = [segmentNode, ...lists.map((list): Condition => ({ list }))].map((node) => ({ node, key: canonicalJson(node) }));
      const from = Date.now();
      const found = await session.leaves(wanted, compileLeaf, idsOf);
      const to = Date.now();
      for (const [key, bitmap] of found) cached.set(key, bitmap);
      if (lists.length > 0 && (await listsExpireBetween(session, lists, ctx.asOf, from, to, leaves.readIds))) {
        for (const list of lists) cached.delete(canonicalJson({ list }));
      }
    }

    const segment =
      cached.get(canonicalJson(segmentNode)) ??
      (await one(session, `c.customer_id IN (SELECT customer_id FROM ${segmentMembersTable(segmentId)} WHERE customer_id IS NOT NULL)`, new SqlParams()));
    const bitmaps: Array<RoaringBitmap32 | undefined> = [];
    for (const [i, step] of steps.entries()) {
      if (!active[i]) {
        bitmaps.push(undefined);
        continue;
      }
      const list = listOf(step);
      const hit = list === undefined ? undefined : cached.get(canonicalJson({ list }));
      if (hit) {
        bitmaps.push(hit);
      } else if (step.type === 'condition') {
        const prepared = ctx.conditions.get(i);
        if (!prepared) throw new Error(`condition step ${i + 1} was not prepared`);
        bitmaps.push(await members(session, prepared));
      } else if (leaves.stepConditions?.has(i)) {
        bitmaps.push(await members(session, leaves.stepConditions.get(i)!));
      } else {
        bitmaps.push(await stepMembers(step, i));
      }
    }
    const { removed, remaining } = firstRemovingSteps(segment, bitmaps);
    const membersTable = session.snapshot.segmentTables.get(segmentMembersTable(segmentId).slice(1, -1));
    return {
      segmentCount: segment.size,
      removedByStep: new Map(removed.map((r, i) => [i + 1, r.size] as const).filter(([, n]) => n > 0)),
      kept: remaining.size,
      steps: described,
      removed: new Map(removed.map((r, i) => [i + 1, r])),
      remaining,
      snapshot: { profile: session.snapshot.profile, profileOid: session.snapshot.profileOid, rows: session.snapshot.rows, membersTable },
    };
  });
}

/**
 * The hasProduct step as a condition: an active subscription to the product on `today`, exactly
 * `stepSource`'s `product_id = P AND (end_date IS NULL OR end_date >= today)`. As an `exists`
 * leaf its bitmap is cached per subscriptions import (and product and day), where the step's own
 * statement reads the subscriptions again on every run.
 */
export function hasProductCondition(productId: string, today: string): Condition {
  return {
    exists: {
      dataset: 'subscriptions',
      where: {
        all: [
          { field: 'product_id', op: 'eq', value: productId },
          { any: [{ field: 'end_date', op: 'is_null' }, { field: 'end_date', op: 'gte', value: today }] },
        ],
      },
    },
  };
}

/** Not in the segment, in `stepOfRows`. */
export const NOT_IN_SEGMENT = 0xff;

/**
 * Per profile row (row number = index), the step that removed it (1…), 0 when kept, or
 * NOT_IN_SEGMENT: one byte a row, the shape the run table is built from. The length is rounded
 * up to whole 8-byte words (the tail is NOT_IN_SEGMENT), so the bytes can be handed over as words.
 */
export function stepOfRows(funnel: Pick<BitmapFunnelResult, 'removed' | 'remaining' | 'snapshot'>): Uint8Array {
  const out = new Uint8Array(Math.ceil(funnel.snapshot.rows / 8) * 8).fill(NOT_IN_SEGMENT);
  const sets = [...funnel.removed, [0, funnel.remaining] as const];
  // One buffer for every set's row numbers, filled by CRoaring, read by index (for…of over a fresh
  // array per set took twice as long at 5M rows).
  const buffer = new Uint32Array(Math.max(0, ...sets.map(([, rows]) => rows.size)));
  for (const [step, rows] of sets) {
    if (step >= NOT_IN_SEGMENT) throw new Error(`step ${step}: a run table holds at most ${NOT_IN_SEGMENT - 1} steps`);
    const n = rows.size;
    const rowNumbers = rows.toUint32Array(buffer);
    for (let i = 0; i < n; i++) out[rowNumbers[i]!] = step;
  }
  return out;
}

/** A condition's members: its leaves from the index (cached per snapshot), then bitmap algebra. */
async function conditionMembers(session: SnapshotSession, condition: PreparedCondition): Promise<RoaringBitmap32> {
  const expanded = condition.expanded();
  const bitmaps = await session.leaves(
    leavesOf(expanded),
    (node, params) => condition.predicateOf(node, params, 'c'),
    (node, params) => condition.idsOf(node, params),
  );
  return evaluate(expanded, (key) => bitmaps.get(key)!, await session.universe());
}

async function one(session: SnapshotSession, sql: string, params: SqlParams): Promise<RoaringBitmap32> {
  return (await session.predicates([{ key: 'step', sql }], params)).get('step')!;
}

/**
 * Whether an entry of one of `lists` expires between `asOf` and the instants `from`…`to` the
 * cached list bitmaps were judged at (then they differ from the lists at `asOf`). Asked through
 * `readIds` when given, else as a predicate over the profile's first row, the one kind of
 * statement a session runs.
 */
async function listsExpireBetween(session: SnapshotSession, lists: readonly string[], asOf: Date, from: number, to: number, readIds: IdReader | undefined): Promise<boolean> {
  const lo = Math.min(asOf.getTime(), from);
  const hi = Math.max(asOf.getTime(), to);
  const params = new SqlParams();
  const names = lists.map((l) => params.add(l, 'VARCHAR')).join(', ');
  const after = params.add(new Date(lo).toISOString(), 'TIMESTAMPTZ');
  const until = params.add(new Date(hi).toISOString(), 'TIMESTAMPTZ');
  const expiring = `SELECT 1 FROM list_members WHERE list_name IN (${names}) AND expires_at > ${after} AND expires_at <= ${until}`;
  if (readIds) {
    let found = false;
    await readIds(`SELECT CAST(1 AS DOUBLE) AS id WHERE EXISTS (${expiring})`, params.values, (ids) => {
      found ||= ids.length > 0;
    });
    return found;
  }
  return (await one(session, `c.rowid = 0 AND EXISTS (${expiring})`, params)).size > 0;
}
