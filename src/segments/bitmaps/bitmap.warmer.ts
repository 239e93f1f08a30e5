import type { Logger } from 'pino';
import type { Condition } from '../../conditions/condition.schemas.js';
import { objectTableOf } from '../../warehouse/tables.js';
import type { BitmapSegmentEngine, DecomposableCondition } from './bitmap.engine.js';
import type { BitmapIndex } from './bitmap.index.js';

export interface WarmerDeps {
  index: BitmapIndex;
  engine: BitmapSegmentEngine;
  /** A condition prepared for evaluation by an administrator (the condition service's `prepare`). */
  prepare(condition: Condition): Promise<DecomposableCondition>;
  /** Breakdown columns every preview shows (city, brand): their value bitmaps are always wanted. */
  breakdown: readonly string[];
  logger: Logger;
}

export interface WarmReport {
  profile: string;
  lists: number;
  segments: number;
  columns: number;
  ms: number;
}

/**
 * Keeps the bitmap index ahead of previews: whenever the warehouse changes (an import rebuilds the
 * profile, the mirror bumps a list's version, a segment is materialised or refreshed), it computes
 * the bitmaps of every list and segment, the breakdown columns' value bitmaps and the profile
 * columns previews have used, in one snapshot, so a preview never pays for them. It notices change
 * by comparing the snapshot's versions every `intervalMs` (a few catalog lookups), which catches
 * every writer alike: the import service, the mirror, segment refreshes, the CLI.
 */
export class BitmapWarmer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<WarmReport | undefined> | undefined;
  private warmedFingerprint = '';

  constructor(private readonly deps: WarmerDeps) {}

  start(intervalMs: number): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.warmIfChanged().catch((error) => this.deps.logger.warn({ err: error }, 'bitmap warm-up failed')), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  /** Warms when anything changed since the last warm-up; one at a time. */
  async warmIfChanged(): Promise<WarmReport | undefined> {
    if (this.running) return this.running;
    this.running = this.warmOnce(false).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Warms now, whether or not anything changed (the bench and tests). */
  async warm(): Promise<WarmReport | undefined> {
    await this.running?.catch(() => undefined);
    return this.warmOnce(true);
  }

  private async warmOnce(always: boolean): Promise<WarmReport | undefined> {
    const started = performance.now();
    const { index, engine } = this.deps;
    const plan = await index.session(async (session) => {
      const { profile, lists, segmentTables } = session.snapshot;
      const fingerprint = JSON.stringify([profile, [...lists], [...segmentTables]]);
      if (!always && fingerprint === this.warmedFingerprint) return undefined;
      return { fingerprint, profile, lists: [...lists.keys()], segments: [...segmentTables.keys()].map((t) => objectTableOf(t)?.id).filter((id): id is string => id !== undefined) };
    });
    if (!plan) return undefined;
    // Conditions are prepared outside the warehouse session: preparing reads Postgres.
    const conditions: DecomposableCondition[] = [];
    for (const node of [...plan.lists.map((list) => ({ list })), ...plan.segments.map((segment) => ({ segment }))]) {
      // A list or segment deleted since the snapshot was read cannot be prepared; nothing to warm then.
      const prepared = await this.deps.prepare(node).catch(() => undefined);
      if (prepared) conditions.push(prepared);
    }
    const columns = index.columnsInUse();
    const warmed = await index.session(async (session) => {
      if (session.snapshot.profile !== plan.profile) return false;
      index.forgetOtherBuilds(plan.profile);
      await session.universe();
      await session.idIndex();
      await session.sampleWindow();
      for (const column of this.deps.breakdown) await session.valueBitmaps(column);
      for (const column of columns) await session.columnIndex(column);
      for (const condition of conditions) await engine.members(session, condition);
      return true;
    });
    if (!warmed) return undefined;
    this.warmedFingerprint = plan.fingerprint;
    const report = { profile: plan.profile, lists: plan.lists.length, segments: plan.segments.length, columns: columns.length, ms: Math.round(performance.now() - started) };
    this.deps.logger.info({ ...report, memory: index.memory() }, 'bitmap index warmed');
    return report;
  }
}
