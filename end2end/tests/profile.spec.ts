// The customer's profile beside the conversation: what the customer's browser said (their
// address, page, language, time zone), when they first came, the team's note, and their
// other conversations with the same address (a click opens one); the address and the note
// are changed there, with bad input refused in the reader's language; in English and
// Chinese, axe clean, and within a 360 px screen.
import { test, expect } from '@playwright/test';
import { io, Socket } from 'socket.io-client';
import { AGENT, open, loginAgent, openConversation, expectAccessible, expectNoProblems } from './helpers';

function next<T = unknown>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve) => socket.once(event, resolve));
}

/** A customer who logs in with what a browser says of itself, and writes once. */
async function customer(baseURL: string, name: string, visit: Record<string, string>) {
  const socket = io(baseURL, { reconnection: false, transports: ['websocket'] });
  const loggedIn = next(socket, 'login_success');
  socket.on('connect', () => socket.emit('login', { name, visit }));
  await loggedIn;
  const ack = await socket.timeout(5_000).emitWithAck('private_message', { message: `Hello, this is ${name}` });
  expect(ack).toMatchObject({ ok: true });
  return socket;
}

test('an agent reads who the customer is, corrects the address, keeps a note and opens their other conversation', async ({ browser, baseURL }) => {
  const tag = Date.now().toString(36);
  const email = `mia.${tag}@example.com`;
  const first = await customer(baseURL!, `Mia ${tag}`, {
    email, page: 'https://shop.example/cart', language: 'zh-CN', time_zone: 'Asia/Shanghai',
  });
  // The same person later, from another device, with her address in capitals.
  const second = await customer(baseURL!, `Mia W ${tag}`, { email: email.toUpperCase() });

  const agent = await open(browser);
  const page = agent.page;
  await loginAgent(page, AGENT.name, AGENT.password);
  await openConversation(page, `Mia ${tag}`);
  const profile = page.getByTestId('profile');
  // Closed to one line with her address; opened, everything her browser said.
  await expect(page.getByTestId('profile-summary-email')).toContainText(email);
  await profile.locator('summary').click();
  await expect(page.getByTestId('profile-page')).toHaveText('https://shop.example/cart');
  await expect(page.getByTestId('profile-page').locator('a'), 'shown, not linked').toHaveCount(0);
  await expect(page.getByTestId('profile-language')).toHaveText('zh-CN');
  await expect(page.getByTestId('profile-time-zone')).toHaveText('Asia/Shanghai');
  await expect(page.getByTestId('profile-user-id')).toHaveText('not given');
  await expect(page.getByTestId('profile-first-seen')).toContainText(String(new Date().getFullYear()));
  await expect(page.getByTestId('profile-email')).toHaveValue(email);
  await expect(page.getByTestId('profile-other')).toHaveCount(1);
  await expect(page.getByTestId('profile-other')).toContainText(`Mia W ${tag}`);
  await expectAccessible(page, 'customer profile');

  // A note is kept; then a bad address is refused in words and changes nothing; a good one
  // is kept.
  await page.getByTestId('profile-note').fill('Ordered twice; prefers e-mail');
  await page.getByTestId('profile-save').click();
  await expect(page.getByTestId('profile-saved')).toHaveText('Saved.');
  await expect(page.getByTestId('profile-note-by')).toContainText('Last changed by Support');
  await page.getByTestId('profile-email').fill('mia@');
  await expect(page.getByTestId('profile-saved')).toHaveCount(0);
  await page.getByTestId('profile-save').click();
  await expect(page.getByTestId('error')).toContainText('That does not look like an e-mail address.');
  await expect(page.getByTestId('profile-saved')).toHaveCount(0);
  await expect(page.getByTestId('profile-summary-email')).toContainText(email);
  const fixed = `mia.${tag}@example.org`;
  await page.getByTestId('profile-email').fill(fixed);
  await page.getByTestId('profile-save').click();
  await expect(page.getByTestId('profile-saved')).toHaveText('Saved.');
  await expect(page.getByTestId('profile-summary-email')).toContainText(fixed);
  // Her other conversation had the old address: it is no longer hers by address.
  await expect(page.getByTestId('profile-other')).toHaveCount(0);

  // In Chinese, after a reload: the labels, the note kept, a refusal in Chinese.
  await page.getByTestId('lang').selectOption('zh-CN');
  await page.reload();
  await openConversation(page, `Mia ${tag}`);
  await page.getByTestId('profile').locator('summary').click();
  await expect(page.getByTestId('profile').locator('summary')).toContainText('顾客资料');
  await expect(page.getByTestId('profile-note')).toHaveValue('Ordered twice; prefers e-mail');
  await expect(page.getByTestId('profile-user-id')).toHaveText('未提供');
  await page.getByTestId('profile-email').fill('mia@');
  await page.getByTestId('profile-save').click();
  await expect(page.getByTestId('error')).toContainText('这看起来不像电子邮箱地址。');
  // The address back as it was: the other conversation is listed again, and opens.
  await page.getByTestId('profile-email').fill(email);
  await page.getByTestId('profile-note').fill('两次下单；喜欢用邮件联系');
  await page.getByTestId('profile-save').click();
  await expect(page.getByTestId('profile-saved')).toHaveText('已保存。');
  await expectAccessible(page, 'customer profile in Chinese');
  await page.getByTestId('profile-other').click();
  await expect(page.getByTestId('peer')).toHaveText(`Mia W ${tag}`);
  await expect(page.getByTestId('profile-email')).toHaveValue(email.toUpperCase());
  await expect(page.getByTestId('message').first()).toContainText(`Hello, this is Mia W ${tag}`);

  // On a phone's screen the profile (left open, as the agent opened it) stays within it.
  await page.setViewportSize({ width: 360, height: 740 });
  await expect(page.getByTestId('profile-other')).toBeVisible();
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'nothing wider than the screen').toBeLessThanOrEqual(0);

  // Both resolved: nothing of this test waits in the queue for a later test's agent.
  await page.setViewportSize({ width: 1280, height: 720 });
  for (const name of [`Mia ${tag}`, `Mia W ${tag}`]) {
    await openConversation(page, name);
    if (await page.getByTestId('take').isVisible()) await page.getByTestId('take').click();
    await page.getByTestId('resolve').click();
    await expect(page.getByTestId('status')).toHaveText(/已结束|resolved/);
  }
  first.close();
  second.close();
  // Logged out, not just closed: no conversation of a later test goes to this agent.
  await page.getByTestId('logout').click();
  await expect(page.getByTestId('login-form')).toBeVisible();
  expectNoProblems(agent);
});
