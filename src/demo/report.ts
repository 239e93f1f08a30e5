import type { CampaignView } from '../campaigns/campaign.schemas.js';
import { printProgress } from '../campaigns/campaign.print.js';
import type { Container } from '../container.js';
import type { SmscSimulator } from '../gateways/simulator/smsc.simulator.js';
import { printCampaignReport } from '../reports/report.cli.js';
import { SYSTEM_ACTOR } from '../security/roles.js';
import { step } from './steps.js';

export interface DemoReportInput {
  container: Container;
  /** The campaign as it completed, with its progress. */
  campaign: CampaignView;
  simulator: SmscSimulator;
  signal: AbortSignal;
}

// The demo's made-up market: 15 % of messaged customers order the product, 5 % of the control group.
const TARGET_ORDER_RATE = 0.15;
const CONTROL_ORDER_RATE = 0.05;
const PLAN_FEE = 58;

/**
 * The last steps of `npm run demo`: the simulator's delivery receipts reach the ledger, a few
 * customers reply over SMPP (one opts out with 全角 "ＴＤ"), CRM reports orders (more in the target
 * than in the control group), and the effectiveness report with its uplift is printed.
 */
export async function printReport({ container, campaign, simulator, signal }: DemoReportInput): Promise<void> {
  if (!campaign.progress) throw new Error(`campaign ${campaign.id} has no progress: it was never launched`);
  const { campaigns, db, conversions, reports } = container;

  step(8, 'feedback: delivery receipts from the simulator');
  const settled = await waitUntil(async () => {
    const view = await campaigns.get(campaign.id);
    return view.progress && view.progress.submitted === 0 ? view : undefined;
  }, signal);
  printProgress(settled.progress!);

  const recipients = await db
    .selectFrom('message_ledger')
    .select(['customer_id', 'msisdn', 'is_control', 'status'])
    .where('campaign_id', '=', campaign.id)
    .orderBy('seq')
    .execute();
  const delivered = recipients.filter((r) => !r.is_control && r.status === 'delivered');

  step(9, 'replies (上行) over SMPP: an opt-out in full-width letters, a question, an order');
  const replies = [
    { who: delivered[0], text: 'ＴＤ' },
    { who: delivered[1], text: '流量包多少钱？' },
    { who: delivered[2], text: '1' },
  ].filter((r): r is { who: (typeof delivered)[number]; text: string } => r.who !== undefined);
  for (const { who, text } of replies) simulator.sendMo(who.msisdn, text);
  await waitUntil(async () => {
    const row = await db
      .selectFrom('campaign_replies')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('campaign_id', '=', campaign.id)
      .executeTakeFirst();
    return Number(row?.n ?? 0) >= replies.length ? true : undefined;
  }, signal);
  console.log(`  ${replies.length} replies recorded; ${replies[0] ? 'the ＴＤ sender is now on the opt_out list' : ''}`);

  step(10, `orders from CRM: product P5G, about ${TARGET_ORDER_RATE * 100} % of the messaged customers and ${CONTROL_ORDER_RATE * 100} % of the control group`);
  const orderedAt = new Date().toISOString();
  const orders = recipients
    .filter((r) => (r.is_control ? chance(r.customer_id) < CONTROL_ORDER_RATE : r.status === 'delivered' && chance(r.customer_id) < TARGET_ORDER_RATE))
    .map((r) => ({ orderId: `demo-${campaign.id.slice(0, 8)}-${r.customer_id}`, customerId: r.customer_id, productId: 'P5G', orderedAt, revenue: PLAN_FEE }));
  const recorded = orders.length > 0 ? await conversions.record(orders) : { inserted: 0 };
  console.log(`  ${recorded.inserted} orders recorded`);

  step(11, 'effectiveness report (营销案实施效果分析) by city, target against control');
  printCampaignReport(await reports.campaignReport(campaign.id, 'city', SYSTEM_ACTOR.role));
}

/** A stable pseudo-random number in [0, 1) per customer, so the demo's orders are the same every run. */
function chance(customerId: number): number {
  const x = Math.sin(customerId * 12.9898) * 43758.5453;
  return x - Math.floor(x);
}

async function waitUntil<T>(check: () => Promise<T | undefined>, signal: AbortSignal, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    signal.throwIfAborted();
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('the simulator did not answer in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
