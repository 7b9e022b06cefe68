// Reports: an admin opens the console's Reports panel and sees what the desk did over the
// last 30 days (a customer answered and resolved), as figures, a chart with a text
// alternative, an agents' table, and a CSV file; in Chinese too, axe clean, at 360 px; a
// period the wrong way round is told in words. On a server of this test's own, so that the
// figures are exactly this test's.
import { test, expect, Page } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  open, loginAgent, loginCustomer, send, expectLastMessage, openConversation, expectAccessible, expectNoProblems,
  startOwnServer, stopOwnServer, addOwnAgent, expectRefusedRequest,
} from './helpers';

const port = Number(process.env.E2E_REPORTS_PORT ?? 3217);
const base = `http://127.0.0.1:${port}`;


async function downloadCsv(page: Page, testid: string): Promise<[string, string]> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()]);
  return [file.suggestedFilename(), await readFile((await file.path())!, 'utf8')];
}

test('an admin reads how the desk did: figures, a chart, agents, a CSV file, in both languages', async ({ browser }) => {
  test.setTimeout(120_000);
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'chat-reports-')), 'chat.db');
  addOwnAgent(port, db, 'Boss', 'boss-pass-1', true);
  const server = await startOwnServer(port, db);
  try {
    const boss = await open(browser, `${base}/`);
    await loginAgent(boss.page, 'Boss', 'boss-pass-1');
    const lea = await open(browser, `${base}/`);
    await loginCustomer(lea.page, 'Léa');
    await send(lea.page, 'Where is my parcel?');
    await expectLastMessage(boss.page, 'Where is my parcel?', false);
    await openConversation(boss.page, 'Léa');
    if (await boss.page.getByTestId('take').isVisible()) await boss.page.getByTestId('take').click();
    await send(boss.page, 'On its way');
    await boss.page.getByTestId('resolve').click();
    await expect(boss.page.getByTestId('status')).toHaveText(/resolved/);

    // Opened: the last 30 days, counted at once.
    const reports = boss.page.getByTestId('reports');
    await reports.locator('summary').click();
    const figures = reports.getByTestId('report-figures');
    await expect(figures).toContainText('Conversations1');
    // The resolution is stored just after it is shown: asked again until it is counted.
    await expect(async () => {
      if (!(await figures.textContent())?.includes('Resolved1')) await reports.getByTestId('report-show').click();
      await expect(figures).toContainText('Resolved1', { timeout: 1_000 });
    }).toPass();
    await expect(figures).toContainText('Customer messages1');
    await expect(figures).toContainText(/First response\d+ s median/);
    await expect(reports.getByTestId('report-chart')).toHaveAttribute('aria-label', /^Conversations per day: 1 conversations in 30 days, at most 1 on \d{4}-\d\d-\d\d\.$/);
    await expect(reports.getByTestId('report-chart').locator('rect')).toHaveCount(30);
    await expect(reports.getByTestId('report-agent')).toHaveCount(1);
    await expect(reports.getByTestId('report-agent').locator('th')).toHaveText('Boss');
    await expectAccessible(boss.page, 'reports');

    const [name, csv] = await downloadCsv(boss.page, 'report-days-csv');
    expect(name).toMatch(/^report-\d{4}-\d\d-\d\d-\d{4}-\d\d-\d\d-days\.csv$/);
    const lines = csv.trim().split('\n');
    expect(lines[0]).toBe('Day,Conversations,Resolved,Customer messages,Agent messages');
    expect(lines).toHaveLength(31);
    expect(lines.filter((l) => l.endsWith(',1,1,1,1'))).toHaveLength(1);

    // A period the wrong way round: told in words, nothing else changes.
    const today = await reports.getByTestId('report-to').inputValue();
    await reports.getByTestId('report-from').fill(today);
    await reports.getByTestId('report-to').fill('2020-01-01');
    await reports.getByTestId('report-show').click();
    await expect(reports.getByTestId('report-error')).toContainText('Choose a first and a last day');
    expectRefusedRequest(boss, 400);

    // In Chinese, on a phone (a page of its own: on a phone an open conversation takes the
    // screen from the list and its panels).
    const phone = await open(browser, `${base}/`, { viewport: { width: 360, height: 740 } });
    await phone.page.getByTestId('lang').selectOption('zh-CN');
    await loginAgent(phone.page, 'Boss', 'boss-pass-1');
    const zh = phone.page.getByTestId('reports');
    await zh.locator('summary').click();
    await expect(zh.locator('summary').first()).toHaveText('报表');
    await expect(zh.getByTestId('report-figures')).toContainText('对话1');
    await expect(zh.getByTestId('report-chart')).toHaveAttribute('aria-label', /^每日对话数: 30 天内共 1 个对话/);
    await expectAccessible(phone.page, 'reports in Chinese at 360 px');
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'nothing wider than the screen').toBeLessThanOrEqual(0);
    const [, zhCsv] = await downloadCsv(phone.page, 'report-agents-csv');
    expect(zhCsv.split('\n')[0]).toContain('客服,已解决,消息');
    expectNoProblems(phone);
    expectNoProblems(boss, lea);
  } finally {
    await stopOwnServer(server);
  }
});
