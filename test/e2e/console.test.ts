import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { CONSOLE_DIR, ensureConsoleBuilt } from '../../src/console/console.build.js';
import { createSendingContext, type SendingContext } from '../helpers/sending.js';

/**
 * The web console end to end in Debian's Chromium: the real API over its own test database, the
 * sample warehouse, send workers and the SMSC simulator, served with the built console on a free
 * port. Waits are on what the page shows (generous, for a loaded two-core machine), never sleeps.
 */
const CHROMIUM = '/usr/bin/chromium';
const SHOTS = fileURLToPath(new URL('../../test-results/console/', import.meta.url));
const UI_TIMEOUT = 30_000;

let ctx: SendingContext;
let app: FastifyInstance;
let base: string;
let browser: Browser;
let page: Page;
const keyOf = (headers: { authorization: string }) => headers.authorization.replace(/^Bearer /, '');

async function api<T>(method: 'GET' | 'POST', url: string, role: 'operator' | 'admin', payload?: object): Promise<T> {
  const response = await ctx.app.inject({ method, url, headers: ctx.auth(role), ...(payload ? { payload } : {}) });
  expect(response.statusCode, `${method} ${url}: ${response.body}`).toBeLessThan(300);
  return response.json() as T;
}

async function signIn(key: string): Promise<void> {
  // Signing in again: forget the previous key (kept in this tab's session storage) first.
  await page.goto(`${base}/`);
  await page.evaluate(() => sessionStorage.clear());
  await page.goto(`${base}/`);
  await page.getByTestId('api-key').fill(key);
  await page.getByTestId('sign-in').click();
  await page.getByTestId('who').waitFor({ timeout: UI_TIMEOUT });
}

/** Picks an option of an antd Select by its visible text. */
async function pick(select: Locator, option: string | RegExp): Promise<void> {
  await select.click();
  await page.locator('.ant-select-dropdown:not(.ant-select-dropdown-hidden) .ant-select-item-option', { hasText: option }).first().click();
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Serious and critical axe violations of the page as it is now (the charts' canvases are labelled images). */
async function seriousViolations(): Promise<string[]> {
  const result = await new AxeBuilder({ page }).analyze();
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

async function openPage(pathname: string): Promise<void> {
  await page.goto(`${base}${pathname}`);
  await page.locator('h1.page-title').waitFor({ timeout: UI_TIMEOUT });
  await page.waitForLoadState('networkidle', { timeout: UI_TIMEOUT }).catch(() => undefined);
  await expect.poll(() => page.locator('.ant-spin-spinning, .ant-table-placeholder .ant-spin').count(), { timeout: UI_TIMEOUT }).toBe(0);
}

describe('web console (Chromium)', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await ensureConsoleBuilt();
    ctx = await createSendingContext();
    await ctx.startSenders();
    // A second app over the same services, serving the console too, listening on a free port.
    app = await buildApp(ctx.container, { logRequests: false, consoleDir: CONSOLE_DIR });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
    page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT);
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    await ctx?.close();
  });

  it('serves the console at / with an SPA fallback that leaves the API its problem+json 404s', async () => {
    const index = await fetch(`${base}/campaigns/some-id`);
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toContain('text/html');
    expect(await index.text()).toContain('<div id="root">');
    for (const url of ['/v1/nothing-here', '/health/x', '/admin/nothing', '/metrics/x']) {
      const missing = await fetch(`${base}${url}`);
      expect(missing.status, url).toBe(404);
      expect(missing.headers.get('content-type'), url).toContain('application/problem+json');
    }
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('signs in, builds a segment whose live count is the API\'s, and saves it', async () => {
    await signIn(keyOf(ctx.auth('operator')));
    await shot('01-signed-in');
    await page.waitForURL(/\/segments\/new$/);
    // The default condition is brand = gotone; add a field condition (the first coded column: gender = M).
    await pick(page.getByTestId('add-condition'), '客户字段');
    const condition = { all: [{ field: 'brand', op: 'eq', value: 'gotone' }, { field: 'gender', op: 'eq', value: 'M' }] };
    const expected = (await api<{ count: number }>('POST', '/v1/segments/preview', 'operator', { condition })).count;
    expect(expected).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('preview-count').textContent(), { timeout: UI_TIMEOUT }).toBe(expected.toLocaleString('en-US'));
    await expect.poll(() => page.getByTestId('preview-count').getAttribute('data-loading'), { timeout: UI_TIMEOUT }).toBe('false');
    await page.locator('.ant-table-row').first().waitFor();
    expect(await seriousViolations()).toEqual([]);
    await shot('02-segment-builder');

    await page.getByTestId('segment-name').fill('全球通 男性 e2e');
    await page.getByTestId('save-segment').click();
    await page.waitForURL(/\/segments\?highlight=/);
    const row = page.locator('.ant-table-row', { hasText: '全球通 男性 e2e' });
    await expect.poll(() => row.textContent(), { timeout: UI_TIMEOUT }).toContain(expected.toLocaleString('en-US'));
  });

  let campaignUrl = '';

  it('creates a campaign in the wizard, approved by a second operator, sent by a scheduler to completion, and opens its report', async () => {
    await page.goto(`${base}/campaigns/new`);
    await page.getByTestId('campaign-name-input').fill('5G 升级 e2e');
    await page.locator('#wiz-product').fill('P5G');
    await pick(page.getByTestId('campaign-segment'), '全球通 男性 e2e');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('wizard-next').click();
    // The live counter, computed in the browser with the server's own SMS splitting.
    await expect.poll(() => page.getByTestId('parts').first().textContent(), { timeout: UI_TIMEOUT }).toMatch(/\d+ 条/);
    await shot('03-campaign-message');
    await page.getByTestId('create-campaign').click();
    await page.getByTestId('run-targeting').click();
    await page.getByTestId('funnel-target').waitFor();
    const campaigns = await api<{ campaigns: Array<{ id: string; name: string }> }>('GET', '/v1/campaigns?limit=5', 'operator');
    const id = campaigns.campaigns.find((c) => c.name === '5G 升级 e2e')!.id;
    const funnel = await api<{ target: number }>('GET', `/v1/campaigns/${id}/funnel`, 'operator');
    await expect.poll(() => page.getByTestId('funnel-target').textContent()).toContain(String(funnel.target));
    await shot('04-campaign-targeting');
    await page.getByTestId('wizard-next').click();
    await page.getByTestId('open-campaign').click();
    campaignUrl = `${base}/campaigns/${id}`;
    await page.waitForURL(campaignUrl);
    await page.getByTestId('campaign-status').waitFor();
    expect(await page.getByTestId('campaign-status').getAttribute('data-status')).toBe('targeted');

    // Four-eyes: another operator approves.
    await signIn(keyOf(ctx.approver));
    await page.goto(campaignUrl);
    await page.getByTestId('approve').click();
    await expect.poll(() => page.getByTestId('campaign-status').getAttribute('data-status'), { timeout: UI_TIMEOUT }).toBe('approved');

    // A scheduler sends it and watches it complete.
    await signIn(keyOf(ctx.auth('scheduler')));
    await page.goto(campaignUrl);
    await page.getByTestId('launch').click();
    await expect.poll(() => page.getByTestId('campaign-status').getAttribute('data-status'), { timeout: 120_000, interval: 500 }).toBe('completed');
    const done = await api<{ progress: { total: number; delivered: number } }>('GET', `/v1/campaigns/${id}`, 'operator');
    expect(done.progress.total).toBe(funnel.target);
    await expect.poll(() => page.getByTestId('progress-total').textContent()).toContain(String(funnel.target));
    expect(await seriousViolations()).toEqual([]);
    await shot('05-campaign-completed');

    // Orders of the product from a third of the target and a tenth of the control group, so the
    // report has an uplift to draw.
    const recipients = await ctx.container.db
      .selectFrom('message_ledger')
      .select(['customer_id', 'is_control'])
      .where('campaign_id', '=', id)
      .orderBy('seq')
      .execute();
    const orderedAt = new Date().toISOString();
    const orders = recipients
      .filter((r, i) => (r.is_control ? i % 10 === 0 : i % 3 === 0))
      .map((r) => ({ orderId: `e2e-${id}-${r.customer_id}`, customerId: Number(r.customer_id), productId: 'P5G', orderedAt, revenue: 30 }));
    await api('POST', '/v1/feedback/conversions', 'operator', orders as unknown as object);

    await page.getByTestId('open-report').click();
    await page.waitForURL(/\/reports\?campaign=/);
    await page.getByTestId('report-summary').waitFor();
    await page.getByTestId('uplift-chart').waitFor();
    const report = await api<{ target: { delivered: number; conversions: number } }>('GET', `/v1/campaigns/${id}/report?by=city`, 'operator');
    expect(report.target.conversions).toBeGreaterThan(0);
    await expect.poll(() => page.getByTestId('report-delivered').textContent()).toBe(String(report.target.delivered));
    await expect.poll(() => page.getByTestId('report-conversions').textContent()).toContain(String(report.target.conversions));
    expect(await seriousViolations()).toEqual([]);
    await shot('06-campaign-report');
  }, 240_000);

  it('shows every page to an admin without serious accessibility violations, in Chinese and in English', async () => {
    await signIn(keyOf(ctx.auth('admin')));
    const pages = ['/segments', '/rules', '/lists', '/policies', '/campaigns', '/reports?tab=sends', '/reports?tab=grids', '/gateways', '/audit', '/keys'];
    const failures: string[] = [];
    for (const [i, pathname] of pages.entries()) {
      await openPage(pathname);
      failures.push(...(await seriousViolations()).map((v) => `${pathname}: ${v}`));
      await shot(`${String(10 + i).padStart(2, '0')}-${pathname.replace(/[/?=]+/g, '-').replace(/^-/, '')}`);
    }
    expect(failures).toEqual([]);

    await page.locator('.ant-segmented-item', { hasText: 'English' }).click();
    await expect.poll(() => page.locator('nav').textContent()).toContain('Campaigns');
    await openPage('/campaigns');
    await shot('20-campaigns-english');
  }, 180_000);
});
