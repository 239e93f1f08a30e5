import type { Db } from '../db/kysely.js';
import { AppError, type FieldProblem } from '../http/errors.js';
import { recordAudit } from '../security/audit.js';
import { msisdnFor, textFor } from '../security/mask.js';
import type { Actor } from '../security/roles.js';
import { normalisePhoneNumber, phoneNumberReportFor, type PhoneNumberReport } from '../uploads/phone-numbers.js';
import {
  findList,
  insertList,
  listListsWithCounts,
  lockLiveEntry,
  pageLiveEntries,
  softDeleteEntry,
  upsertEntries,
  type EntrySource,
  type ListEntryRow,
  type ListRow,
  type UpsertOutcome,
} from './list.repository.js';
import type { PhoneNumberFileReader } from './list.upload.js';

/** Most numbers one JSON request may carry. */
export const MAX_NUMBERS_PER_REQUEST = 100_000;
/** Numbers per upsert statement: one bound array each, well inside Postgres' comfort zone. */
const UPSERT_BATCH = 20_000;
/** Bad numbers named in one 400 (all are counted). */
const PROBLEMS_LISTED = 100;
/** Numbers copied into an audit row; a bigger change records its counts and the entries' own stamps. */
const AUDITED_NUMBERS = 1000;

export interface ListView {
  name: string;
  kind: 'system' | 'custom';
  label: string;
  description: string | null;
  defaultExpiryDays: number | null;
  /** Live, unexpired entries. */
  entries: number;
  /** Live entries past their expiry (they no longer match anyone). */
  expired: number;
  createdBy: string;
  createdAt: string;
}

export interface EntryView {
  msisdn: string;
  reason: string | null;
  source: EntrySource;
  createdBy: string;
  createdAt: string;
  updatedBy: string;
  updatedAt: string;
  expiresAt: string | null;
  expired: boolean;
}

export interface AddOutcome extends UpsertOutcome {
  list: string;
  /** Distinct numbers written. */
  numbers: number;
  expiresAt: string | null;
}

export interface UploadOutcome extends AddOutcome {
  file: PhoneNumberReport;
}

export interface AddOptions {
  reason?: string | null;
  /** undefined: the list's default expiry (if any); null: never expires. */
  expiresAt?: Date | null;
  source: EntrySource;
}

/**
 * Special lists (特殊名单) in Postgres, the system of record: system lists (blacklist, greylist, …)
 * and custom ones. Entries are added in bulk idempotently, removed softly (so the DuckDB mirror and
 * the audit trail see the removal), and every change is audited in its own transaction.
 */
export class ListService {
  private readonly pattern: RegExp;

  constructor(
    private readonly deps: { db: Db; msisdnPattern: string; files: PhoneNumberFileReader; now?: () => Date },
  ) {
    this.pattern = new RegExp(deps.msisdnPattern);
  }

  /** For the condition compiler and policy checks: whether a list of that name exists. */
  async exists(name: string): Promise<boolean> {
    return (await findList(this.deps.db, name)) !== undefined;
  }

  async get(name: string): Promise<ListRow | undefined> {
    return findList(this.deps.db, name);
  }

  async list(): Promise<ListView[]> {
    const rows = await listListsWithCounts(this.deps.db);
    return rows.map((r) => ({ ...listView(r), entries: Number(r.active_count), expired: Number(r.expired_count) }));
  }

  async create(
    input: { name: string; label: string; description?: string | null; defaultExpiryDays?: number | null },
    actor: Actor,
  ): Promise<ListView> {
    const row = await this.deps.db.transaction().execute(async (trx) => {
      const created = await insertList(trx, {
        name: input.name,
        label: input.label,
        description: input.description ?? null,
        defaultExpiryDays: input.defaultExpiryDays ?? null,
        createdBy: actor.name,
      });
      if (!created) throw new AppError('CONFLICT', `A list named ${input.name} already exists`, [{ path: 'name', message: 'already exists' }]);
      await recordAudit(trx, actor, { action: 'list.create', targetType: 'list', targetId: created.name, after: listView(created) });
      return created;
    });
    return { ...listView(row), entries: 0, expired: 0 };
  }

  /**
   * Validates every number first (a bad one is a 400 naming `msisdns[i]`, and nothing is written),
   * then upserts them in batches inside one transaction with its audit row.
   */
  async addEntries(listName: string, msisdns: readonly string[], options: AddOptions, actor: Actor): Promise<AddOutcome> {
    const list = await this.requireList(listName);
    const numbers = this.validateNumbers(msisdns, 'msisdns');
    const expiresAt = this.resolveExpiry(list, options.expiresAt);
    return this.write(list, numbers, { ...options, expiresAt }, actor, 'list.entries.add', {});
  }

  /** A file of numbers, all or nothing: any malformed line rejects the whole file. */
  async upload(
    listName: string,
    file: { path: string; filename: string },
    options: Omit<AddOptions, 'source'>,
    actor: Actor,
  ): Promise<UploadOutcome> {
    const list = await this.requireList(listName);
    const expiresAt = this.resolveExpiry(list, options.expiresAt);
    const { report, numbers } = await this.deps.files.read(file.path);
    const visible = phoneNumberReportFor(actor.role, report);
    if (report.malformed.count > 0) {
      throw new AppError(
        'BAD_FILE',
        `${report.malformed.count} line(s) are not phone numbers; nothing was added to ${list.name}`,
        visible.malformed.first.map((m) => ({ path: `line ${m.line}`, message: `not a phone number: ${JSON.stringify(m.value)}` })),
        { file: visible },
      );
    }
    if (numbers.length === 0) {
      throw new AppError('BAD_FILE', 'The file holds no phone numbers', [{ path: 'file', message: 'no phone numbers' }], { file: visible });
    }
    const outcome = await this.write(list, numbers, { reason: options.reason, expiresAt, source: 'upload' }, actor, 'list.entries.upload', {
      filename: file.filename,
      file: report,
    });
    return { ...outcome, file: visible };
  }

  /** Soft-removes a live entry; the audit row keeps who removed it and the entry as it was. */
  async removeEntry(listName: string, rawMsisdn: string, actor: Actor): Promise<EntryView> {
    const list = await this.requireList(listName);
    const msisdn = this.validateNumbers([rawMsisdn], 'msisdn', true)[0]!;
    const removed = await this.deps.db.transaction().execute(async (trx) => {
      const before = await lockLiveEntry(trx, list.name, msisdn);
      if (!before) throw new AppError('NOT_FOUND', `${msisdnFor(actor.role, msisdn)} is not on the ${list.name} list`);
      const after = await softDeleteEntry(trx, list.name, msisdn, actor.name);
      await recordAudit(trx, actor, {
        action: 'list.entry.remove',
        targetType: 'list_entry',
        targetId: `${list.name}/${msisdn}`,
        before: auditEntry(before),
        after: auditEntry(after),
      });
      return before;
    });
    return entryView(removed, actor, this.now());
  }

  async entries(
    listName: string,
    query: { msisdn?: string; limit: number; cursor?: string },
    actor: Actor,
  ): Promise<{ list: string; entries: EntryView[]; nextCursor: string | null }> {
    const list = await this.requireList(listName);
    const msisdn = query.msisdn === undefined ? undefined : this.validateNumbers([query.msisdn], 'msisdn', true)[0]!;
    const afterId = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows = await pageLiveEntries(this.deps.db, { listName: list.name, msisdn, afterId, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const now = this.now();
    return {
      list: list.name,
      entries: page.map((r) => entryView(r, actor, now)),
      nextCursor: rows.length > query.limit ? encodeCursor(page.at(-1)!.id) : null,
    };
  }

  async requireList(name: string): Promise<ListRow> {
    const list = await findList(this.deps.db, name);
    if (!list) throw new AppError('NOT_FOUND', `No list named ${JSON.stringify(name)}`);
    return list;
  }

  /** Normalised, distinct numbers; every bad one named by its JSON path. Numbers are never echoed. */
  private validateNumbers(raw: readonly string[], path: string, single = false): string[] {
    const problems: FieldProblem[] = [];
    let bad = 0;
    const valid = new Set<string>();
    raw.forEach((value, i) => {
      const msisdn = normalisePhoneNumber(value, this.pattern);
      if (msisdn !== undefined) {
        valid.add(msisdn);
        return;
      }
      bad++;
      if (problems.length < PROBLEMS_LISTED) {
        problems.push({ path: single ? path : `${path}[${i}]`, message: `not a phone number (must match ${this.deps.msisdnPattern})` });
      }
    });
    if (bad > 0) {
      const more = bad > problems.length ? `; the first ${problems.length} are listed` : '';
      throw new AppError('VALIDATION', `${bad} value(s) are not phone numbers${more}; nothing was changed`, problems);
    }
    return [...valid].sort();
  }

  private resolveExpiry(list: ListRow, requested: Date | null | undefined): Date | null {
    const now = this.now();
    if (requested === null) return null;
    if (requested !== undefined) {
      if (requested.getTime() <= now.getTime()) {
        throw new AppError('VALIDATION', 'expiresAt must be in the future', [{ path: 'expiresAt', message: 'is not in the future' }]);
      }
      return requested;
    }
    return list.default_expiry_days === null ? null : new Date(now.getTime() + list.default_expiry_days * 86_400_000);
  }

  private async write(
    list: ListRow,
    numbers: string[],
    options: { reason?: string | null; expiresAt: Date | null; source: EntrySource },
    actor: Actor,
    action: string,
    details: Record<string, unknown>,
  ): Promise<AddOutcome> {
    const totals: UpsertOutcome = { added: 0, updated: 0, revived: 0 };
    await this.deps.db.transaction().execute(async (trx) => {
      for (let i = 0; i < numbers.length; i += UPSERT_BATCH) {
        const outcome = await upsertEntries(trx, {
          listName: list.name,
          msisdns: numbers.slice(i, i + UPSERT_BATCH),
          reason: options.reason ?? null,
          expiresAt: options.expiresAt,
          source: options.source,
          actor: actor.name,
        });
        totals.added += outcome.added;
        totals.updated += outcome.updated;
        totals.revived += outcome.revived;
      }
      await recordAudit(trx, actor, {
        action,
        targetType: 'list',
        targetId: list.name,
        after: {
          numbers: numbers.length,
          ...totals,
          reason: options.reason ?? null,
          expiresAt: options.expiresAt?.toISOString() ?? null,
          source: options.source,
        },
        details: {
          ...details,
          msisdns: numbers.slice(0, AUDITED_NUMBERS),
          ...(numbers.length > AUDITED_NUMBERS ? { msisdnsTruncated: true } : {}),
        },
      });
    });
    return { list: list.name, numbers: numbers.length, ...totals, expiresAt: options.expiresAt?.toISOString() ?? null };
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}

function listView(row: ListRow): Omit<ListView, 'entries' | 'expired'> {
  return {
    name: row.name,
    kind: row.kind,
    label: row.label,
    description: row.description,
    defaultExpiryDays: row.default_expiry_days,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
  };
}

function entryView(row: ListEntryRow, actor: Actor, now: Date): EntryView {
  return {
    msisdn: msisdnFor(actor.role, row.msisdn),
    // Free text: a reason often quotes the complainant's or a relative's number.
    reason: textFor(actor.role, row.reason),
    source: row.source,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    updatedBy: row.updated_by,
    updatedAt: row.updated_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    expired: row.expires_at !== null && row.expires_at.getTime() <= now.getTime(),
  };
}

function auditEntry(row: ListEntryRow): Record<string, unknown> {
  return {
    list: row.list_name,
    msisdn: row.msisdn,
    reason: row.reason,
    source: row.source,
    createdBy: row.created_by,
    createdAt: row.created_at.toISOString(),
    expiresAt: row.expires_at?.toISOString() ?? null,
    deletedAt: row.deleted_at?.toISOString() ?? null,
    deletedBy: row.deleted_by,
  };
}

function encodeCursor(id: number): string {
  return Buffer.from(`e:${id}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string): number {
  const match = /^e:(\d{1,18})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw new AppError('VALIDATION', 'The cursor is not one this API handed out', [{ path: 'cursor', message: 'unknown cursor' }]);
  return Number(match[1]);
}
