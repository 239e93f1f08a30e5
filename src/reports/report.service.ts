import type { Catalog } from '../catalog/catalog.js';
import type { CampaignRow } from '../campaigns/campaign.repository.js';
import type { FunnelEntry } from '../exclusions/funnel.js';
import { AppError } from '../http/errors.js';
import { seesPersonalData, type Role } from '../security/roles.js';
import type { GroupFigures, Period, ReportEngine, SendGrouping } from './report.engine.js';
import type { CampaignReport, GridsReport, SendsReport } from './report.schemas.js';
import { twoProportionUplift } from './uplift.js';

export interface ReportSettings {
  attributionDays: number;
  /** Per message part; undefined: no cost figures. */
  messageCost: number | undefined;
  timeZone: string;
}

/** What the report service needs of campaigns: the row, and its targeting funnel. */
export interface CampaignSource {
  require(id: string): Promise<CampaignRow>;
  funnel(id: string): Promise<{ funnel: FunnelEntry[] }>;
}

const DAY_MS = 86_400_000;
const DEFAULT_PERIOD_DAYS = 30;

/**
 * 营销案实施效果分析, 群发情况汇总 and grid figures. Every report first brings DuckDB's copies of
 * the ledger, campaigns, conversions and replies up to date (`syncFeedback`), then aggregates
 * there; rates, uplift and cost are computed here from the aggregated counts.
 */
export class ReportService {
  constructor(
    private readonly deps: {
      engine: ReportEngine;
      catalog: Catalog;
      campaigns: CampaignSource;
      syncFeedback: () => Promise<unknown>;
      settings: ReportSettings;
    },
  ) {}

  async campaignReport(campaignId: string, by: string | undefined, role: Role): Promise<CampaignReport> {
    const started = performance.now();
    if (by !== undefined) this.checkBy(by, role);
    const campaign = await this.deps.campaigns.require(campaignId);
    const launchAt = campaign.send_at ?? campaign.launched_at;
    if (!launchAt) throw new AppError('CONFLICT', `Campaign ${campaignId} is ${campaign.status}: it has no report until it is launched`);
    const funnel = await this.deps.campaigns.funnel(campaignId).then(
      (f) => f.funnel,
      () => null,
    );
    await this.deps.syncFeedback();
    const { engine, settings } = this.deps;
    const [groups, failedByError] = await Promise.all([
      engine.campaignFigures({
        campaignId,
        productId: campaign.product_id,
        launchAt,
        attributionDays: settings.attributionDays,
        ...(by !== undefined ? { by } : {}),
      }),
      engine.failedByError(campaignId),
    ]);
    const total = sumGroups(groups);
    const target = { ...targetView(total), failedByError };
    const control = controlView(total);
    return {
      campaign: {
        id: campaign.id,
        name: campaign.name,
        status: campaign.status,
        productId: campaign.product_id,
        launchedAt: campaign.launched_at?.toISOString() ?? null,
        sendAt: campaign.send_at?.toISOString() ?? null,
      },
      attributionDays: settings.attributionDays,
      funnel,
      target,
      control,
      uplift: upliftOf(total),
      cost: costOf(total, settings.messageCost),
      by: by ?? null,
      breakdown: by === undefined ? [] : groups.map((g) => ({ key: g.key, target: targetView(g), control: controlView(g), uplift: upliftOf(g) })),
      elapsedMs: Math.round(performance.now() - started),
    };
  }

  async sendsReport(range: { from?: string; to?: string }, by: SendGrouping): Promise<SendsReport> {
    const started = performance.now();
    const period = this.period(range);
    await this.deps.syncFeedback();
    const groups = await this.deps.engine.sendFigures(period, by, this.deps.settings.timeZone);
    return {
      from: period.from.toISOString(),
      to: period.to.toISOString(),
      by,
      groups: groups.map((g) => ({ ...g, deliveryRate: g.sent > 0 ? g.delivered / g.sent : null })),
      elapsedMs: Math.round(performance.now() - started),
    };
  }

  async gridsReport(range: { from?: string; to?: string }): Promise<GridsReport> {
    const started = performance.now();
    const period = this.period(range);
    await this.deps.syncFeedback();
    const { attributionDays } = this.deps.settings;
    const grids = await this.deps.engine.gridFigures(period, attributionDays);
    return {
      from: period.from.toISOString(),
      to: period.to.toISOString(),
      attributionDays,
      grids: grids.map((g) => ({
        gridId: g.gridId,
        gridName: g.gridName,
        county: g.county,
        city: g.city,
        campaigns: g.campaigns,
        messages: g.messages,
        sent: g.sent,
        delivered: g.delivered,
        conversions: g.targetConversions,
        conversionRate: ratio(g.targetConversions, g.targetSize),
        revenue: g.targetRevenue,
        control: { size: g.controlSize, conversions: g.controlConversions, conversionRate: ratio(g.controlConversions, g.controlSize) },
        // Pooled over the grid's campaigns: what the grid's customers did with and without messages.
        uplift:
          g.controlSize > 0
            ? twoProportionUplift({ conversions: g.targetConversions, size: g.targetSize }, { conversions: g.controlConversions, size: g.controlSize })
            : null,
      })),
      elapsedMs: Math.round(performance.now() - started),
    };
  }

  /** `by` names a customers column; a personal one only for roles that see personal data whole. */
  private checkBy(by: string, role: Role): void {
    const customers = this.deps.catalog.dataset('customers')!;
    const column = customers.columns.find((c) => c.name === by);
    if (!column) {
      throw new AppError('VALIDATION', `Unknown customers column "${by}"`, [
        { path: 'by', message: `must be a customers column: ${customers.columns.map((c) => c.name).join(', ')}` },
      ]);
    }
    if (column.personal && !seesPersonalData(role)) {
      throw new AppError('FORBIDDEN', `Grouping by ${by} would show personal data your role does not see`, [
        { path: 'by', message: `${by} is personal data` },
      ]);
    }
  }

  /** `[from, to)`; a bare date is the start of that local day, `to` defaulting to now and `from` to 30 days before `to`. */
  private period(range: { from?: string; to?: string }): Period {
    const tz = this.deps.settings.timeZone;
    const to = range.to ? instantOf(range.to, tz, true) : new Date();
    const from = range.from ? instantOf(range.from, tz, false) : new Date(to.getTime() - DEFAULT_PERIOD_DAYS * DAY_MS);
    if (from >= to) throw new AppError('VALIDATION', 'The period is empty', [{ path: 'from', message: 'must be before to' }]);
    return { from, to };
  }
}

function ratio(n: number, d: number): number | null {
  return d > 0 ? n / d : null;
}

function sumGroups(groups: readonly GroupFigures[]): GroupFigures {
  const total: GroupFigures = {
    key: null,
    targetSize: 0,
    sent: 0,
    delivered: 0,
    failed: 0,
    suppressed: 0,
    capped: 0,
    expired: 0,
    unknown: 0,
    cancelled: 0,
    pending: 0,
    partsSent: 0,
    replies: 0,
    optOuts: 0,
    targetConversions: 0,
    targetOrders: 0,
    targetRevenue: 0,
    controlSize: 0,
    controlConversions: 0,
    controlOrders: 0,
    controlRevenue: 0,
  };
  for (const g of groups) {
    for (const k of Object.keys(total) as Array<keyof GroupFigures>) {
      if (k !== 'key') total[k] += g[k];
    }
  }
  // Sums of DECIMAL revenues in doubles: round back to cents.
  total.targetRevenue = Math.round(total.targetRevenue * 100) / 100;
  total.controlRevenue = Math.round(total.controlRevenue * 100) / 100;
  return total;
}

function targetView(g: GroupFigures) {
  return {
    size: g.targetSize,
    sent: g.sent,
    delivered: g.delivered,
    failed: g.failed,
    suppressed: g.suppressed,
    capped: g.capped,
    expired: g.expired,
    unknown: g.unknown,
    cancelled: g.cancelled,
    pending: g.pending,
    replies: g.replies,
    optOuts: g.optOuts,
    conversions: g.targetConversions,
    orders: g.targetOrders,
    conversionRate: ratio(g.targetConversions, g.targetSize),
    revenue: g.targetRevenue,
  };
}

function controlView(g: GroupFigures) {
  return {
    size: g.controlSize,
    conversions: g.controlConversions,
    orders: g.controlOrders,
    conversionRate: ratio(g.controlConversions, g.controlSize),
    revenue: g.controlRevenue,
  };
}

function upliftOf(g: GroupFigures) {
  return twoProportionUplift({ conversions: g.targetConversions, size: g.targetSize }, { conversions: g.controlConversions, size: g.controlSize });
}

/** Cost of the parts submitted; per incremental conversion: beyond what the control rate predicts for the target. */
function costOf(g: GroupFigures, messageCost: number | undefined): CampaignReport['cost'] {
  if (messageCost === undefined) return null;
  const total = Math.round(g.partsSent * messageCost * 100) / 100;
  const controlRate = ratio(g.controlConversions, g.controlSize);
  const incremental = controlRate === null ? null : g.targetConversions - controlRate * g.targetSize;
  return {
    messageCost,
    parts: g.partsSent,
    total,
    perConversion: g.targetConversions > 0 ? total / g.targetConversions : null,
    perIncrementalConversion: incremental !== null && incremental > 0 ? total / incremental : null,
  };
}

/**
 * An ISO date-time with its zone as written; a bare `YYYY-MM-DD` as the start of that local day
 * in `tz` (for `to`, the start of the next day: the whole day is included).
 */
export function instantOf(text: string, tz: string, endOfDay: boolean): Date {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(text)) return new Date(text);
  const [y, m, d] = text.split('-').map(Number) as [number, number, number];
  const utcMidnight = Date.UTC(y, m - 1, d + (endOfDay ? 1 : 0));
  // Two passes: the zone's offset at the guessed instant, then at the corrected one (DST edges).
  let at = utcMidnight - offsetMs(tz, utcMidnight);
  at = utcMidnight - offsetMs(tz, at);
  return new Date(at);
}

/** How far `tz`'s wall clock is ahead of UTC at an instant. */
function offsetMs(tz: string, atMs: number): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
      .formatToParts(new Date(atMs))
      .map((p) => [p.type, p.value]),
  );
  const wall = Date.UTC(Number(parts.year), Number(parts.month) - 1, Number(parts.day), Number(parts.hour), Number(parts.minute), Number(parts.second));
  return wall - Math.floor(atMs / 1000) * 1000;
}
