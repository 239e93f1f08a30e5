import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Db } from '../db/kysely.js';
import type { CampaignStatus } from '../db/schema.js';
import { applyTransition, findCampaign, type CampaignRow } from '../campaigns/campaign.repository.js';
import { composeSms, type SmsMessage } from '../campaigns/message.js';
import { composeMms, decodeMmsImages, isMmsMessage, type MmsMessage } from '../campaigns/mms.message.js';
import type { Gateway, OutboundMessage } from '../gateways/gateway.js';
import { MAX_PARTS } from '../gateways/sms-encoding.js';
import { DelayJobUntil } from '../jobs/worker.js';
import type { Metrics } from '../ops/metrics.js';
import { recordAudit } from '../security/audit.js';
import { assertNever } from '../util/assert-never.js';
import { claimAndScreen, recordChunk, type ScreenedMessage } from './chunk.repository.js';
import type { MessageOutcome, SubmittedPart } from './ledger.repository.js';
import { effectiveWindow, isOpen, localDay, nextOpening, parseSendWindow, type SendWindow } from './send-window.js';
import { suppressionLists } from './suppression.js';
import type { SendThrottle } from './throttle.js';

export interface GatewaySource {
  get(name: string): Promise<Gateway>;
  ratePerSecond(name: string): Promise<number>;
}

export interface BatchSenderDeps {
  db: Db;
  config: Pick<Config, 'SEND_WINDOW' | 'SEND_TIMEZONE' | 'FREQUENCY_CAP_PER_DAY' | 'SEND_CHUNK_SIZE' | 'GATEWAY_FAILURES_TO_PAUSE'>;
  gateways: GatewaySource;
  throttle: Pick<SendThrottle, 'acquire'>;
  logger: Logger;
  metrics?: Pick<Metrics, 'messages'>;
  now?: () => Date;
}

export interface BatchReport {
  status: 'done' | 'stopped';
  campaignStatus?: string;
  submitted: number;
  failed: number;
  unknown: number;
  suppressed: number;
  capped: number;
  /** Messages the gateway asked to retry: left queued, the job fails and comes back with backoff. */
  retry: number;
}

/** A failed attempt that leaves work owed: BullMQ retries the job with backoff. */
export class RetryLater extends Error {
  constructor(readonly owed: number, readonly reason: string) {
    super(`${owed} message(s) left queued: ${reason}`);
    this.name = 'RetryLater';
  }
}

const SENDER = { name: 'system:sender', role: 'admin' as const };
// Pause and cancel reach every worker within this long (plus one chunk's submit).
const CAMPAIGN_CACHE_MS = 500;

/**
 * 群发执行 for one batch of a campaign's ledger, chunk by chunk: claim `queued → sending`
 * (guarded, so a duplicate job finds nothing to claim), check suppression and the daily cap
 * again, render, wait for the throttle, submit, and record every outcome with the gateway ids
 * and the contact history in one transaction. Between chunks it re-reads the campaign (pause,
 * cancel) and the send window.
 */
export class BatchSender {
  private readonly cache = new Map<string, { row: CampaignRow; at: number }>();
  private readonly legal: SendWindow;
  private stopping = false;

  constructor(private readonly deps: BatchSenderDeps) {
    this.legal = parseSendWindow(deps.config.SEND_WINDOW);
  }

  async sendBatch(campaignId: string, batch: number): Promise<BatchReport> {
    const report: BatchReport = { status: 'done', submitted: 0, failed: 0, unknown: 0, suppressed: 0, capped: 0, retry: 0 };
    let campaign = await this.campaign(campaignId, true);
    if (!campaign || campaign.status !== 'sending' || campaign.batch_size === null) {
      return { ...report, status: 'stopped', campaignStatus: campaign?.status ?? 'missing' };
    }
    const first = batch * campaign.batch_size;
    const end = first + campaign.batch_size;
    let lastError = '';
    for (let from = first; from < end; from += this.deps.config.SEND_CHUNK_SIZE) {
      if (this.stopping) return { ...report, status: 'stopped', campaignStatus: 'worker stopping' };
      campaign = await this.campaign(campaignId);
      if (!campaign || campaign.status !== 'sending') return { ...report, status: 'stopped', campaignStatus: campaign?.status ?? 'missing' };
      this.waitForWindow(campaign);
      const day = localDay(this.deps.config.SEND_TIMEZONE, this.now());
      const claimed = await claimAndScreen(this.deps.db, {
        campaignId,
        fromSeq: from,
        toSeq: Math.min(from + this.deps.config.SEND_CHUNK_SIZE, end),
        lists: suppressionLists(campaign.class),
        cap: campaign.class === 'marketing' ? { day, perDay: this.deps.config.FREQUENCY_CAP_PER_DAY } : null,
      });
      if (claimed.length === 0) continue;
      const chunk = await this.sendChunk(campaign, claimed, day);
      for (const key of ['submitted', 'failed', 'unknown', 'suppressed', 'capped', 'retry'] as const) report[key] += chunk[key];
      if (chunk.retry > 0) lastError = chunk.lastError;
      if (await this.pauseIfGatewayDown(campaign)) return { ...report, status: 'stopped', campaignStatus: 'paused' };
    }
    if (report.retry > 0) throw new RetryLater(report.retry, lastError);
    return report;
  }

  /**
   * Shutdown: every running batch stops after its current chunk, leaving the rest queued for the
   * next worker (the job completes; the reconciler queues the batch again).
   */
  stop(): void {
    this.stopping = true;
  }

  /** Outside the legal window (marketing only), the job waits for the next opening. */
  private waitForWindow(campaign: CampaignRow): void {
    if (campaign.class === 'notification') return;
    const window = effectiveWindow(this.legal, (campaign.schedule as { window?: { from: string; to: string } }).window);
    const now = this.now();
    if (isOpen(window, this.deps.config.SEND_TIMEZONE, now)) return;
    // BullMQ delays on the real clock: wait as long as our clock says is left, not until its instant.
    const wait = nextOpening(window, this.deps.config.SEND_TIMEZONE, now).getTime() - now.getTime();
    throw new DelayJobUntil(new Date(Date.now() + wait));
  }

  private async sendChunk(campaign: CampaignRow, claimed: ScreenedMessage[], day: string) {
    const outcomes: MessageOutcome[] = [];
    const parts: SubmittedPart[] = [];
    const counts = { submitted: 0, failed: 0, unknown: 0, suppressed: 0, capped: 0, retry: 0, lastError: '' };

    const capped = campaign.class === 'marketing';
    // A number listed twice in the chunk took one slot: the first of its messages has it.
    const slotTaken = new Set<string>();
    const candidates = claimed.filter((m) => {
      if (m.suppressed) {
        outcomes.push({ seq: m.seq, status: 'suppressed' });
        counts.suppressed++;
        return false;
      }
      if (!capped) return true;
      if (m.slot && !slotTaken.has(m.msisdn)) {
        slotTaken.add(m.msisdn);
        return true;
      }
      outcomes.push({ seq: m.seq, status: 'capped' });
      counts.capped++;
      return false;
    });

    const message = campaign.message as unknown as SmsMessage | MmsMessage;
    const images = isMmsMessage(message) ? decodeMmsImages(message) : new Map<number, Buffer>();
    const releases: string[] = [];
    const outbound: Array<OutboundMessage & { seq: number; customerId: number; parts: number }> = [];
    for (const m of candidates) {
      if (isMmsMessage(message)) {
        // One message whatever its length: its size was checked when the campaign was saved.
        const { mms, text } = composeMms(message, m.vars ?? {}, images);
        outbound.push({ ref: String(m.seq), msisdn: m.msisdn, text, mms, seq: m.seq, customerId: m.customerId, parts: 1 });
        continue;
      }
      const sms = composeSms(message, m.vars ?? {});
      if (sms.parts > MAX_PARTS) {
        outcomes.push({ seq: m.seq, status: 'failed', parts: sms.parts, errorCode: 'TOO_LONG' });
        counts.failed++;
        releases.push(m.msisdn);
        continue;
      }
      outbound.push({ ref: String(m.seq), msisdn: m.msisdn, text: sms.text, seq: m.seq, customerId: m.customerId, parts: sms.parts });
    }

    const contacts: Array<{ customerId: number; campaignId: string; category: string | null; sentAt: Date }> = [];
    const halted = outbound.length > 0 ? await this.waitForThrottle(campaign, outbound.reduce((sum, m) => sum + m.parts, 0)) : undefined;
    if (halted) {
      // Paused or cancelled while it waited: none of the chunk went out.
      for (const m of outbound) {
        outcomes.push({ seq: m.seq, status: halted === 'cancelled' ? 'cancelled' : 'queued' });
        releases.push(m.msisdn);
      }
    } else if (outbound.length > 0) {
      const gateway = await this.deps.gateways.get(campaign.gateway);
      const bySeq = new Map(outbound.map((m) => [m.ref, m]));
      const sentAt = this.now();
      for (const outcome of await gateway.submit(outbound)) {
        const m = bySeq.get(outcome.ref);
        if (!m) continue;
        bySeq.delete(outcome.ref);
        switch (outcome.kind) {
          case 'accepted':
            outcomes.push({ seq: m.seq, status: 'submitted', parts: m.parts });
            outcome.gatewayMessageIds.forEach((id, i) => parts.push({ gateway: campaign.gateway, gatewayMessageId: id, seq: m.seq, part: i + 1 }));
            contacts.push({ customerId: m.customerId, campaignId: campaign.id, category: campaign.category, sentAt });
            counts.submitted++;
            break;
          case 'rejected':
            outcomes.push({ seq: m.seq, status: 'failed', parts: m.parts, errorCode: outcome.code });
            releases.push(m.msisdn);
            counts.failed++;
            break;
          case 'unknown':
            // It may have been sent: it counts as a contact and keeps its cap slot, and is never resent.
            outcomes.push({ seq: m.seq, status: 'unknown', parts: m.parts, errorCode: outcome.code });
            contacts.push({ customerId: m.customerId, campaignId: campaign.id, category: campaign.category, sentAt });
            counts.unknown++;
            break;
          case 'retryable':
            outcomes.push({ seq: m.seq, status: 'queued' });
            releases.push(m.msisdn);
            counts.retry++;
            counts.lastError = `${outcome.code}: ${outcome.message}`;
            break;
          default:
            assertNever(outcome);
        }
      }
      // A message the adapter gave no outcome for was never answered: treat it as not sent.
      for (const m of bySeq.values()) {
        outcomes.push({ seq: m.seq, status: 'queued' });
        releases.push(m.msisdn);
        counts.retry++;
      }
    }

    await recordChunk(this.deps.db, { campaignId: campaign.id, outcomes, parts, contacts, releases: capped ? { day, msisdns: releases } : null });
    const metrics = this.deps.metrics?.messages;
    if (metrics) for (const key of ['submitted', 'failed', 'unknown', 'suppressed', 'capped', 'retry'] as const) if (counts[key] > 0) metrics.inc({ gateway: campaign.gateway, outcome: key }, counts[key]);
    return counts;
  }

  /**
   * Waits for the gateway's and the campaign's throttle. A chunk queued behind others on a slow
   * throttle would go out seconds after a pause or cancel, so the wait gives up when the campaign
   * stops sending; returns its status then, undefined once the parts are granted.
   */
  private async waitForThrottle(campaign: CampaignRow, parts: number): Promise<CampaignStatus | undefined> {
    const rate = await this.deps.gateways.ratePerSecond(campaign.gateway);
    const perSecond = (campaign.throttle as { perSecond?: number }).perSecond;
    const stop = new AbortController();
    const watch = setInterval(() => {
      void this.campaign(campaign.id).then(
        (row) => {
          if (row?.status !== 'sending') stop.abort();
        },
        () => undefined, // a failed read waits for the next tick
      );
    }, CAMPAIGN_CACHE_MS);
    try {
      await this.deps.throttle.acquire(
        [
          { key: `gateway:${campaign.gateway}`, perSecond: rate },
          { key: `campaign:${campaign.id}`, perSecond: perSecond ?? 0 },
        ],
        parts,
        stop.signal,
      );
    } catch (error) {
      if (!stop.signal.aborted) throw error;
    } finally {
      clearInterval(watch);
    }
    const current = await this.campaign(campaign.id);
    return current?.status === 'sending' ? undefined : (current?.status ?? 'cancelled');
  }

  /** A gateway failing persistently pauses the campaign, with the reason, instead of burning retries. */
  private async pauseIfGatewayDown(campaign: CampaignRow): Promise<boolean> {
    const gateway = await this.deps.gateways.get(campaign.gateway);
    const status = gateway.status();
    if (status.consecutiveFailures < this.deps.config.GATEWAY_FAILURES_TO_PAUSE) return false;
    const reason = `gateway ${campaign.gateway} failed ${status.consecutiveFailures} times in a row${status.lastError ? `: ${status.lastError}` : ''}`;
    await this.deps.db.transaction().execute(async (trx) => {
      const paused = await applyTransition(trx, campaign.id, 'pause', SENDER.name, { status_reason: reason });
      if (paused) await recordAudit(trx, SENDER, { action: 'campaign.pause', targetType: 'campaign', targetId: campaign.id, after: { reason } });
    });
    this.cache.delete(campaign.id);
    this.deps.logger.warn({ campaignId: campaign.id, gateway: campaign.gateway }, 'campaign paused: gateway down');
    return true;
  }

  private async campaign(id: string, fresh = false): Promise<CampaignRow | undefined> {
    const cached = this.cache.get(id);
    if (!fresh && cached && Date.now() - cached.at < CAMPAIGN_CACHE_MS) return cached.row;
    const row = await findCampaign(this.deps.db, id);
    if (row) this.cache.set(id, { row, at: Date.now() });
    else this.cache.delete(id);
    return row;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }
}
