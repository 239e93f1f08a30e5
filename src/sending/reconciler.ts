import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Db } from '../db/kysely.js';
import { applyTransition, campaignsInStatus, dueScheduledCampaigns } from '../campaigns/campaign.repository.js';
import { recordAudit } from '../security/audit.js';
import { markStaleSendingUnknown, scanLedger } from './ledger.repository.js';
import type { SendDispatch } from './send.dispatch.js';

export interface ReconcileReport {
  started: number;
  completed: number;
  requeuedBatches: number;
  markedUnknown: number;
}

const RECONCILER = { name: 'system:reconciler', role: 'admin' as const };
// One reconciler at a time across every process; the others skip their turn.
const LOCK_KEY = 0x7175616e; // "quan"

/**
 * Makes Redis agree with the ledger, which is the truth: starts scheduled campaigns whose time
 * has come, turns rows a crashed worker left `sending` into `unknown`, puts every batch that still
 * holds queued rows back on the queue (BullMQ ignores the ones already there, so after a FLUSHDB or
 * a Redis restart nothing is lost or stalled), and completes campaigns with nothing left to send.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly deps: { db: Db; dispatch: SendDispatch; logger: Logger; sendingTimeoutSeconds: number; now?: () => Date },
  ) {}

  async reconcile(): Promise<ReconcileReport | undefined> {
    const { db, dispatch } = this.deps;
    return db.connection().execute(async (conn) => {
      const locked = await sql<{ ok: boolean }>`SELECT pg_try_advisory_lock(${LOCK_KEY}) AS ok`.execute(conn);
      if (!locked.rows[0]?.ok) return undefined;
      try {
        const report: ReconcileReport = { started: 0, completed: 0, requeuedBatches: 0, markedUnknown: 0 };
        for (const due of await dueScheduledCampaigns(conn, this.now())) {
          const started = await applyTransition(conn, due.id, 'start', RECONCILER.name);
          if (started) report.started++;
        }
        for (const campaign of await campaignsInStatus(conn, ['sending', 'paused'])) {
          report.markedUnknown += await markStaleSendingUnknown(conn, campaign.id, this.deps.sendingTimeoutSeconds);
          if (campaign.status !== 'sending') continue;
          const scan = await scanLedger(conn, campaign.id, { batchSize: campaign.batch_size ?? 500 });
          if (scan.counts.queued === 0 && scan.counts.sending === 0) {
            await conn.transaction().execute(async (trx) => {
              const done = await applyTransition(trx, campaign.id, 'complete', RECONCILER.name, { completed_at: this.now() });
              if (done) await recordAudit(trx, RECONCILER, { action: 'campaign.complete', targetType: 'campaign', targetId: campaign.id, after: scan.counts });
            });
            report.completed++;
          } else if (scan.owedBatches.length > 0) {
            await dispatch.enqueueBatches(campaign.id, scan.owedBatches);
            report.requeuedBatches += scan.owedBatches.length;
          }
        }
        return report;
      } finally {
        await sql`SELECT pg_advisory_unlock(${LOCK_KEY})`.execute(conn);
      }
    });
  }

  /** Reconciles now and every `intervalMs` (a timer, not a BullMQ job: it must work when Redis has lost its jobs). */
  start(intervalMs: number): void {
    const tick = () => {
      if (this.running) return;
      this.running = this.reconcile()
        .then((report) => {
          if (report && (report.started || report.completed || report.markedUnknown)) this.deps.logger.info(report, 'reconciled campaigns');
        })
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'reconcile failed'))
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}
