import { randomUUID } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.js';
import type { Db } from '../db/kysely.js';
import { AppError, type FieldProblem } from '../http/errors.js';
import { recordAudit } from '../security/audit.js';
import { msisdnFor, personalFor, textFor } from '../security/mask.js';
import { seesPersonalData, type Actor, type Role } from '../security/roles.js';
import { phoneNumberReportFor, type PhoneNumberReport } from '../uploads/phone-numbers.js';
import { toStorableText } from '../util/storable-text.js';
import {
  MEMBER_COLUMNS,
  type CustomerPredicate,
  type MaskedColumns,
  type MemberRow,
  type PreviewCounts,
  type PreviewRequest,
  type SegmentEngine,
  type UploadMaterialised,
} from './segment.engine.js';
import type { DecomposableCondition } from './bitmaps/bitmap.engine.js';
import {
  deleteSegmentRow,
  findSegment,
  findSegmentForUpdate,
  findSegmentStatus,
  insertSegment,
  listSegments,
  markSegmentFailed,
  markSegmentReady,
  segmentsReferencingRule,
  segmentsReferencingSegment,
  updateSegmentRefs,
  type SegmentRef,
  type SegmentRow,
  type SegmentStatus,
} from './segment.repository.js';

/** What the condition compiler hands back (src/conditions/condition.service.ts satisfies it). */
export interface PreparedCustomerCondition extends DecomposableCondition {
  condition: unknown;
  /** Every rule, segment and list the condition reaches, nested rules included. */
  rules: string[];
  segments: string[];
  lists: string[];
}

/** Whatever answers previews: the SQL engine, or the bitmap engine (SEGMENT_ENGINE). */
export interface PreviewEngine {
  preview(condition: PreparedCustomerCondition, request: PreviewRequest): Promise<PreviewCounts>;
}

export interface ConditionPreparer {
  /**
   * Validates against the catalog and the rule library; throws AppError naming JSON paths under
   * `path`, FORBIDDEN when it compares personal data further than `role` sees it.
   */
  prepare(input: unknown, path: string, options: { role: Role }): Promise<PreparedCustomerCondition>;
}

/** Brings the DuckDB mirror of the special lists up to date (the lists feature provides it). */
export interface ListMirror {
  /** What the pass did is the mirror's business; segments only wait for it. */
  sync(): Promise<unknown>;
}

/** The compiler asks this whether a `{segment}` reference can be used. */
export interface SegmentSource {
  status(id: string): Promise<SegmentStatus | undefined>;
}

/** The rules feature asks this before deleting a rule. */
export interface RuleUsage {
  segmentsUsingRule(name: string): Promise<SegmentRef[]>;
}

/**
 * Something other than a segment that may hold on to a segment (a rule's condition, a campaign,
 * a targeting run). Each returns human-readable names of the dependants, empty when none.
 */
export interface SegmentDependants {
  kind: string;
  find(segmentId: string): Promise<string[]>;
}

export interface PreviewInput {
  condition: unknown;
  breakdown?: string[];
  sampleSize?: number;
}

export interface Preview {
  count: number;
  breakdown: Record<string, Record<string, number>>;
  sample: Array<Record<string, unknown>>;
  elapsedMs: number;
}

export interface UploadReportView extends PhoneNumberReport {
  filename: string;
  notInWarehouse: { count: number; first: string[] };
}

export interface SegmentView {
  id: string;
  name: string;
  kind: SegmentRow['kind'];
  status: SegmentStatus;
  count: number | null;
  condition: unknown;
  snapshotVersions: Record<string, number>;
  refs: { rules: string[]; segments: string[]; lists: string[] };
  uploadReport: UploadReportView | null;
  error: string | null;
  createdBy: string;
  createdAt: string;
  refreshedAt: string | null;
}

export interface MembersPage {
  members: MemberRow[];
  nextCursor: string | null;
}

export interface RefreshOutcome {
  segment: SegmentView;
  before: number;
  after: number;
  added: number;
  removed: number;
  snapshotVersionsBefore: Record<string, number>;
}

export interface SegmentExport {
  filename: string;
  /** CSV text in chunks (header first), read page by page from the warehouse. */
  chunks: AsyncIterable<string>;
}

export const DEFAULT_BREAKDOWN = ['city', 'brand'];
/** Per breakdown column; the rest are summed under OTHER_KEY. */
export const BREAKDOWN_TOP_VALUES = 100;
export const NULL_KEY = '(null)';
export const OTHER_KEY = '(other)';
/** Never offered as a breakdown: they identify a person rather than describe a group. */
const IDENTIFYING_COLUMNS = new Set(['customer_id', 'msisdn', 'name']);
const EXPORT_PAGE_ROWS = 100_000;

function toIso(value: Date | string | null): string | null {
  if (value === null) return null;
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}

function encodeCursor(customerId: number): string {
  return Buffer.from(`c:${customerId}`).toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^c:(-?\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw unknownCursor();
  return Number(match[1]);
}

function unknownCursor(): AppError {
  return new AppError('VALIDATION', 'The cursor is not one this API handed out', [{ path: 'cursor', message: 'unknown cursor' }]);
}

/**
 * A page from `limit + 1` fetched rows: the extra row only says there is more. `last` is the row
 * the next page starts after, undefined on the final page.
 */
function pageOf<T>(rows: T[], limit: number): { shown: T[]; last: T | undefined } {
  if (rows.length <= limit) return { shown: rows, last: undefined };
  const shown = rows.slice(0, limit);
  return { shown, last: shown.at(-1) };
}

/**
 * Segments (客户群): previews, materialised member sets, refresh, members, export and uploads.
 * Postgres holds the definition and status, DuckDB the members; a segment is `building` until its
 * members are committed, so nothing ever reads a half-made member table.
 */
export class SegmentService implements SegmentSource, RuleUsage {
  private readonly dependants: SegmentDependants[] = [];

  constructor(
    private readonly deps: {
      db: Db;
      engine: SegmentEngine;
      catalog: Catalog;
      conditions: ConditionPreparer;
      mirror: ListMirror;
      msisdnPattern: string;
      /** Default: `engine` (one SQL query per preview). */
      previews?: PreviewEngine;
    },
  ) {}

  /** Lets a feature that holds on to segments (rules, campaigns, targeting) veto their deletion. */
  addDependants(check: SegmentDependants): void {
    this.dependants.push(check);
  }

  async status(id: string): Promise<SegmentStatus | undefined> {
    return segmentStatusSource(this.deps.db).status(id);
  }

  async segmentsUsingRule(name: string): Promise<SegmentRef[]> {
    return segmentsReferencingRule(this.deps.db, name);
  }

  async preview(input: PreviewInput, actor: Actor): Promise<Preview> {
    const started = performance.now();
    const breakdown = this.checkBreakdown(input.breakdown ?? DEFAULT_BREAKDOWN);
    const prepared = await this.prepare(input.condition, actor.role);
    const counts = await (this.deps.previews ?? this.deps.engine).preview(prepared, {
      breakdown,
      sampleSize: input.sampleSize ?? 10,
      sampleColumns: this.sampleColumns(),
      topValues: BREAKDOWN_TOP_VALUES,
    });
    return {
      count: counts.count,
      breakdown: breakdownView(counts.breakdown),
      sample: counts.sample.map((row) => this.masked(row, actor)),
      elapsedMs: Math.round(performance.now() - started),
    };
  }

  async create(input: { name: string; condition: unknown }, actor: Actor): Promise<SegmentView> {
    const prepared = await this.prepare(input.condition, actor.role);
    const row = await this.deps.db.transaction().execute(async (trx) => {
      const inserted = await insertSegment(trx, {
        name: input.name,
        kind: 'condition',
        condition: prepared.condition,
        ruleRefs: prepared.rules,
        segmentRefs: prepared.segments,
        listRefs: prepared.lists,
        createdBy: actor.name,
      });
      await recordAudit(trx, actor, {
        action: 'segment.create',
        targetType: 'segment',
        targetId: inserted.id,
        after: { name: inserted.name, condition: prepared.condition },
      });
      return inserted;
    });
    return this.view(await this.build(row, () => this.deps.engine.materialise(row.id, prepared)), actor);
  }

  /**
   * A segment from an uploaded file of phone numbers: members are the customers whose msisdn is
   * in the file; malformed lines and numbers no customer has are reported, never silently dropped.
   */
  async createFromUpload(input: { name: string; filePath: string; filename: string }, actor: Actor): Promise<SegmentView> {
    // The file is read before the segment exists, so a refused file (no phone number in it, not
    // UTF-8) or any other failure leaves no row behind: an upload segment whose numbers were never
    // kept could not be refreshed anyway. The row is written once, ready, with its audit entry.
    const id = randomUUID();
    try {
      const made = await this.deps.engine.materialiseUpload(id, input.filePath, this.deps.msisdnPattern);
      if (made.file.valid === 0) {
        const visible = phoneNumberReportFor(actor.role, made.file);
        throw new AppError('BAD_FILE', 'The file holds no valid phone number; no segment was created', [{ path: 'file', message: noNumbers(made.file) }], {
          file: visible,
        });
      }
      const row = await this.deps.db.transaction().execute(async (trx) => {
        const inserted = await insertSegment(trx, {
          id,
          name: input.name,
          kind: 'upload',
          condition: null,
          ruleRefs: [],
          segmentRefs: [],
          listRefs: [],
          createdBy: actor.name,
        });
        await recordAudit(trx, actor, {
          action: 'segment.upload',
          targetType: 'segment',
          targetId: inserted.id,
          after: { name: inserted.name, filename: input.filename },
        });
        return markSegmentReady(trx, id, { memberCount: made.count, snapshotVersions: made.snapshotVersions, uploadReport: uploadReport(input.filename, made) });
      });
      return this.view(row, actor);
    } catch (error) {
      await this.deps.engine.drop(id).catch(() => undefined);
      throw error;
    }
  }

  async get(id: string, actor: Actor): Promise<SegmentView> {
    return this.view(await this.require(id), actor);
  }

  async list(page: { limit: number; cursor?: string }, actor: Actor): Promise<{ segments: SegmentView[]; nextCursor: string | null }> {
    const before = page.cursor === undefined ? undefined : decodeListCursor(page.cursor);
    const { shown, last } = pageOf(await listSegments(this.deps.db, { limit: page.limit + 1, before }), page.limit);
    return {
      segments: shown.map((row) => this.view(row, actor)),
      nextCursor: last ? encodeListCursor(new Date(last.created_at), last.id) : null,
    };
  }

  async members(id: string, page: { limit: number; cursor?: string }, actor: Actor): Promise<MembersPage> {
    const after = page.cursor === undefined ? undefined : decodeCursor(page.cursor);
    const segment = await this.requireReady(id);
    const { shown, last } = pageOf(await this.deps.engine.membersPage(segment.id, after, page.limit + 1), page.limit);
    return {
      members: shown.map((row) => this.masked(row, actor)),
      nextCursor: last ? encodeCursor(last.customer_id) : null,
    };
  }

  /**
   * The member list as CSV, masked for the caller's role. The export is audited before the first
   * byte leaves: it is a copy of personal data, whether or not the client reads it to the end.
   */
  async export(id: string, actor: Actor): Promise<SegmentExport> {
    const segment = await this.requireReady(id);
    await recordAudit(this.deps.db, actor, {
      action: 'segment.export',
      targetType: 'segment',
      targetId: segment.id,
      details: { rows: segment.member_count, masked: !seesPersonalData(actor.role), maskedColumns: [...this.maskedColumns(actor).keys()], columns: MEMBER_COLUMNS },
    });
    const engine = this.deps.engine;
    const masked = this.maskedColumns(actor);
    async function* chunks(): AsyncGenerator<string> {
      // A BOM, so spreadsheet software opens the Chinese names as UTF-8.
      yield `\uFEFF${MEMBER_COLUMNS.join(',')}\r\n`;
      let oid: number | null | undefined;
      for (let from = 0; ; from += EXPORT_PAGE_ROWS) {
        const page = await engine.exportPage(segment.id, from, EXPORT_PAGE_ROWS, masked);
        if (oid !== undefined && page.tableOid !== oid) {
          throw new AppError('CONFLICT', `Segment ${segment.id} was refreshed during the export; export it again`);
        }
        oid = page.tableOid;
        if (page.rows > 0) yield page.csv;
        if (page.rows < EXPORT_PAGE_ROWS) return;
      }
    }
    return { filename: `segment-${segment.id}.csv`, chunks: chunks() };
  }

  /**
   * Recomputes the members on the current warehouse snapshot (and current rule definitions); a
   * `failed` segment is rebuilt.
   */
  async refresh(id: string, actor: Actor): Promise<RefreshOutcome> {
    const segment = await this.require(id);
    if (segment.status === 'building') throw new AppError('CONFLICT', `Segment ${id} is still being built`);
    try {
      return await this.recompute(segment, actor);
    } catch (error) {
      if (segment.status === 'failed') await markSegmentFailed(this.deps.db, segment.id, describeFailure(error)).catch(() => undefined);
      throw error;
    }
  }

  private async recompute(segment: SegmentRow, actor: Actor): Promise<RefreshOutcome> {
    const versionsBefore = segment.snapshot_versions;
    // A failed refresh rolls back in the warehouse: the old members stay valid for the snapshot they
    // record, so the segment keeps its status and the error goes to the caller.
    let outcome: {
      before: number;
      count: number;
      added: number;
      removed: number;
      snapshotVersions: Record<string, number>;
      uploadReport?: unknown;
      /** What the condition reaches now: rules may have changed since the last build. */
      refs?: { ruleRefs: string[]; segmentRefs: string[]; listRefs: string[] };
    };
    if (segment.kind === 'upload') {
      if (!(await this.deps.engine.uploadNumbersKept(segment.id))) {
        throw new AppError('CONFLICT', `Segment ${segment.id} no longer has the numbers it was uploaded with; upload the file again`);
      }
      const refreshed = await this.deps.engine.refreshUpload(segment.id);
      const previous = segment.upload_report as UploadReportView | null;
      outcome = { ...refreshed, uploadReport: previous ? { ...previous, notInWarehouse: refreshed.notInWarehouse } : undefined };
    } else {
      // Checked for whoever refreshes, not whoever created it: the rules it reaches may have changed.
      const prepared = await this.prepare(segment.condition, actor.role);
      if (prepared.segments.includes(segment.id)) {
        throw new AppError('BAD_CONDITION', 'The condition now reaches this segment itself (through a changed rule)', [
          { path: 'condition', message: `refers to segment ${segment.id}` },
        ]);
      }
      outcome = { ...(await this.deps.engine.refresh(segment.id, prepared)), refs: { ruleRefs: prepared.rules, segmentRefs: prepared.segments, listRefs: prepared.lists } };
    }
    const updated = await this.deps.db.transaction().execute(async (trx) => {
      if (outcome.refs) await updateSegmentRefs(trx, segment.id, outcome.refs);
      const ready = await markSegmentReady(trx, segment.id, {
        memberCount: outcome.count,
        snapshotVersions: outcome.snapshotVersions,
        uploadReport: outcome.uploadReport,
      });
      await recordAudit(trx, actor, {
        action: 'segment.refresh',
        targetType: 'segment',
        targetId: segment.id,
        before: { count: outcome.before, snapshotVersions: versionsBefore },
        after: { count: outcome.count, snapshotVersions: outcome.snapshotVersions },
        details: { added: outcome.added, removed: outcome.removed },
      });
      return ready;
    });
    return {
      segment: this.view(updated, actor),
      before: outcome.before,
      after: outcome.count,
      added: outcome.added,
      removed: outcome.removed,
      snapshotVersionsBefore: versionsBefore,
    };
  }

  /** Refuses (409 IN_USE, naming them) while another segment, a rule or a campaign depends on it. */
  async delete(id: string, actor: Actor): Promise<void> {
    const found = await this.require(id);
    const users: FieldProblem[] = [];
    for (const ref of await segmentsReferencingSegment(this.deps.db, found.id)) {
      users.push({ path: 'segment', message: `segment "${ref.name}" (${ref.id}) refers to it` });
    }
    for (const check of this.dependants) {
      for (const name of await check.find(found.id)) users.push({ path: check.kind, message: `${check.kind} "${name}" refers to it` });
    }
    if (users.length > 0) {
      throw new AppError('IN_USE', `Segment "${found.name}" is still used by ${users.length} other object(s)`, users);
    }
    await this.deps.db.transaction().execute(async (trx) => {
      const locked = await findSegmentForUpdate(trx, found.id);
      if (!locked) throw new AppError('NOT_FOUND', `No segment ${id}`);
      await deleteSegmentRow(trx, found.id);
      await recordAudit(trx, actor, {
        action: 'segment.delete',
        targetType: 'segment',
        targetId: found.id,
        before: { name: locked.name, kind: locked.kind, condition: locked.condition, count: locked.member_count },
      });
    });
    await this.deps.engine.drop(found.id);
  }

  private async prepare(input: unknown, role: Role): Promise<PreparedCustomerCondition> {
    const prepared = await this.deps.conditions.prepare(input, 'condition', { role });
    if (prepared.lists.length > 0) await this.deps.mirror.sync();
    return prepared;
  }

  /** Runs the warehouse side; the row becomes `ready` with its count, or `failed` with the reason. */
  private async build(
    row: SegmentRow,
    work: () => Promise<{ count: number; snapshotVersions: Record<string, number>; uploadReport?: unknown }>,
  ): Promise<SegmentRow> {
    try {
      const result = await work();
      return await markSegmentReady(this.deps.db, row.id, {
        memberCount: result.count,
        snapshotVersions: result.snapshotVersions,
        uploadReport: result.uploadReport,
      });
    } catch (error) {
      // Recording the result can fail too (Postgres away for a moment, a value it cannot store):
      // the row must not stay `building`. Should this update fail as well, the next start fails it.
      await markSegmentFailed(this.deps.db, row.id, describeFailure(error)).catch(() => undefined);
      await this.deps.engine.drop(row.id).catch(() => undefined);
      throw error;
    }
  }

  private async require(id: string): Promise<SegmentRow> {
    const row = isUuid(id) ? await findSegment(this.deps.db, id) : undefined;
    if (!row) throw new AppError('NOT_FOUND', `No segment ${id}`);
    return row;
  }

  private async requireReady(id: string): Promise<SegmentRow> {
    const row = await this.require(id);
    if (row.status === 'building') throw new AppError('CONFLICT', `Segment ${id} is still being built; try again shortly`);
    if (row.status === 'failed') throw new AppError('CONFLICT', `Segment ${id} failed to build (${row.error ?? 'unknown reason'}); refresh it`);
    return row;
  }

  private checkBreakdown(columns: string[]): string[] {
    const customers = this.deps.catalog.dataset('customers')!;
    const problems: FieldProblem[] = [];
    columns.forEach((name, i) => {
      if (IDENTIFYING_COLUMNS.has(name)) problems.push({ path: `breakdown[${i}]`, message: `${name} identifies a customer; it cannot be a breakdown` });
      else if (!customers.columns.some((c) => c.name === name)) {
        problems.push({ path: `breakdown[${i}]`, message: `unknown customers column "${name}"` });
      }
    });
    if (problems.length > 0) throw new AppError('VALIDATION', 'Breakdown columns must be customers columns', problems);
    return [...new Set(columns)];
  }

  /** The customers columns the catalog marks personal that this caller sees masked. */
  private maskedColumns(actor: Actor): MaskedColumns {
    if (seesPersonalData(actor.role)) return new Map();
    return new Map(this.deps.catalog.dataset('customers')!.columns.flatMap((c) => (c.personal ? [[c.name, c.personal] as const] : [])));
  }

  /** A customers row (sample, members page) with its personal columns as the caller may see them. */
  private masked<T extends Record<string, unknown>>(row: T, actor: Actor): T {
    const out: Record<string, unknown> = { ...row };
    for (const [column, kind] of this.maskedColumns(actor)) {
      const value = out[column];
      if (typeof value === 'string') out[column] = personalFor(actor.role, kind, value);
    }
    return out as T;
  }

  private sampleColumns(): string[] {
    return this.deps.catalog.dataset('customers')!.columns.map((c) => c.name);
  }

  private view(row: SegmentRow, actor: Actor): SegmentView {
    const report = row.upload_report as UploadReportView | null;
    return {
      id: row.id,
      name: row.name,
      kind: row.kind,
      status: row.status,
      count: row.member_count,
      condition: row.condition ?? null,
      snapshotVersions: row.snapshot_versions,
      refs: { rules: row.rule_refs, segments: row.segment_refs, lists: row.list_refs },
      uploadReport: report ? uploadReportFor(actor, report) : null,
      error: textFor(actor.role, row.error),
      createdBy: row.created_by,
      createdAt: toIso(row.created_at)!,
      refreshedAt: toIso(row.refreshed_at),
    };
  }
}

/**
 * Segment status straight from Postgres, for the condition compiler, which is built before (and
 * used by) the segment service.
 */
export function segmentStatusSource(db: Db): SegmentSource {
  return { status: async (id) => (isUuid(id) ? findSegmentStatus(db, id) : undefined) };
}

function isUuid(id: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);
}

function encodeListCursor(createdAt: Date, id: string): string {
  return Buffer.from(`s:${createdAt.toISOString()}|${id}`).toString('base64url');
}

function decodeListCursor(cursor: string): { createdAt: Date; id: string } {
  const match = /^s:([0-9T:.\-Z]+)\|([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const createdAt = match ? new Date(match[1]!) : undefined;
  if (!match || !createdAt || Number.isNaN(createdAt.getTime())) throw unknownCursor();
  return { createdAt, id: match[2]! };
}

function breakdownView(breakdown: PreviewCounts['breakdown']): Preview['breakdown'] {
  const out: Preview['breakdown'] = {};
  for (const [column, { values, otherCount }] of Object.entries(breakdown)) {
    const counts: Record<string, number> = {};
    for (const v of values) counts[v.value ?? NULL_KEY] = v.count;
    if (otherCount > 0) counts[OTHER_KEY] = otherCount;
    out[column] = counts;
  }
  return out;
}

function uploadReport(filename: string, made: UploadMaterialised): UploadReportView {
  return { filename, ...made.file, notInWarehouse: made.notInWarehouse };
}

function uploadReportFor(actor: Actor, report: UploadReportView): UploadReportView {
  return {
    ...report,
    ...phoneNumberReportFor(actor.role, report),
    notInWarehouse: { count: report.notInWarehouse.count, first: report.notInWarehouse.first.map((m) => msisdnFor(actor.role, m)) },
  };
}

/** Why a file of phone numbers gave none: empty, blank, or every line malformed. */
function noNumbers(report: PhoneNumberReport): string {
  if (report.linesRead === report.blankLines) return report.linesRead === 0 ? 'the file is empty' : 'the file has only blank lines';
  return `none of its ${report.malformed.count} non-blank line(s) is a phone number`;
}

/** A short reason for the status row; the full error goes to the log through the HTTP layer. */
function describeFailure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return toStorableText(error instanceof AppError ? message : message.split('\n')[0]!.slice(0, 500));
}
