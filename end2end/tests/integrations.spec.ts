// Integrations: an admin makes an API token in the console (its secret shown once), a
// program sends a message with it as a bot and the customer sees it at once; the admin
// registers a webhook and a receiver on loopback gets the customer's next message, signed
// with the secret shown once; the deliveries are listed; the token is revoked and stops
// working. In Chinese too, axe clean, at 360 px. On a server of this test's own.
import { test, expect } from '@playwright/test';
import { mkdtempSync } from 'node:fs';
import { createServer, IncomingMessage } from 'node:http';
import { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  open, find, loginAgent, loginCustomer, send, expectLastMessage, expectAccessible, expectNoProblems,
  startOwnServer, stopOwnServer, addOwnAgent,
} from './helpers';

const port = Number(process.env.E2E_INTEGRATIONS_PORT ?? 3218);
const base = `http://127.0.0.1:${port}`;

type Hooked = { headers: IncomingMessage['headers']; body: string };

test('an admin connects a program with a token and a webhook, in both languages', async ({ browser }) => {
  test.setTimeout(120_000);
  const db = path.join(mkdtempSync(path.join(tmpdir(), 'chat-integrations-')), 'chat.db');
  addOwnAgent(port, db, 'Boss', 'boss-pass-1', true);
  const hooked: Hooked[] = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => { hooked.push({ headers: req.headers, body }); res.writeHead(204).end(); });
  });
  await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
  const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const server = await startOwnServer(port, db, { WEBHOOK_POLL: '100ms' });
  try {
    const boss = await open(browser, `${base}/`);
    await loginAgent(boss.page, 'Boss', 'boss-pass-1');
    const lea = await open(browser, `${base}/`);
    await loginCustomer(lea.page, 'Léa');
    await send(lea.page, 'Where is my parcel?');
    await expectLastMessage(boss.page, 'Where is my parcel?', false);

    // A token that may write, its secret shown once.
    const panel = boss.page.getByTestId('integrations');
    await panel.locator('summary').first().click();
    await panel.getByTestId('token-name').fill('Parcel tracker');
    await panel.getByTestId('token-write').check();
    await panel.getByTestId('make-token').getByRole('button').click();
    const token = (await panel.getByTestId('secret-value').textContent())!;
    expect(token).toMatch(/^lct_[A-Za-z0-9_-]{43}$/);
    await expect(panel.getByTestId('api-token')).toHaveAttribute('data-name', 'Parcel tracker');
    await expect(panel.getByTestId('api-token')).toContainText('read and write');

    // A program answers as a bot: Léa sees it at once.
    const auth = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    const listed = await (await fetch(`${base}/api/v1/conversations`, { headers: auth })).json();
    const id = listed.conversations[0].id;
    const sent = await fetch(`${base}/api/v1/conversations/${id}/messages`, {
      method: 'POST', headers: auth, body: JSON.stringify({ text: 'It left the depot today.', bot: 'Parcel bot' }),
    });
    expect(sent.status).toBe(201);
    await expectLastMessage(lea.page, 'It left the depot today.', false);
    await expect(find.messages(lea.page).last()).toContainText('Parcel bot');

    // A webhook for new messages: Léa's next one reaches the receiver, signed.
    await panel.getByTestId('webhook-url').fill(hookUrl);
    for (const event of ['conversation.created', 'conversation.resolved', 'rating.given']) {
      await panel.locator(`input[data-event="${event}"]`).uncheck();
    }
    await panel.getByTestId('add-webhook').getByRole('button').click();
    const secret = (await panel.getByTestId('secret-value').textContent())!;
    expect(secret).toMatch(/^whsec_/);
    await expect(panel.getByTestId('webhook')).toHaveAttribute('data-url', hookUrl);
    await send(lea.page, 'Thank you!');
    await expect.poll(() => hooked.length).toBe(1);
    const [{ headers, body }] = hooked;
    expect(headers['x-chat-event']).toBe('message.created');
    expect(JSON.parse(body).data.message.text).toBe('Thank you!');
    const expected = 'sha256=' + createHmac('sha256', secret).update(`${headers['x-chat-timestamp']}.${body}`).digest('hex');
    expect(headers['x-chat-signature']).toBe(expected);
    // Its delivery, as the admin sees it once the panel is read again.
    await panel.locator('summary').first().click();
    await panel.locator('summary').first().click();
    await panel.getByTestId('webhook').locator('summary').click();
    await expect(panel.getByTestId('delivery')).toContainText('delivered · attempts: 1 · HTTP 204');
    await expectAccessible(boss.page, 'integrations');

    // Revoked: the token stops working.
    await panel.getByTestId('revoke-token').click();
    await expect(panel.getByTestId('api-token')).toHaveCount(0);
    const refused = await fetch(`${base}/api/v1/conversations`, { headers: auth });
    expect(refused.status).toBe(401);
    expect((await refused.json()).problem.code).toBe('api_token_invalid');

    // In Chinese, on a phone.
    const phone = await open(browser, `${base}/`, { viewport: { width: 360, height: 740 } });
    await phone.page.getByTestId('lang').selectOption('zh-CN');
    await loginAgent(phone.page, 'Boss', 'boss-pass-1');
    const zh = phone.page.getByTestId('integrations');
    await zh.locator('summary').first().click();
    await expect(zh.locator('summary').first()).toHaveText('集成');
    await expect(zh.getByTestId('webhook')).toContainText('新消息');
    await expect(zh.getByRole('button', { name: '创建令牌' })).toBeVisible();
    await expectAccessible(phone.page, 'integrations in Chinese at 360 px');
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, 'nothing wider than the screen').toBeLessThanOrEqual(0);
    expectNoProblems(phone);
    expectNoProblems(boss, lea);
  } finally {
    await stopOwnServer(server);
    receiver.close();
  }
});
