// The agent console: two agents and three customers. The queue spreads the work, unread
// counts rise and clear, and a transfer carries a note the customer never sees.
import { test, expect, Page } from '@playwright/test';
import { find, open, loginAgent, loginCustomer, openConversation, send, expectLastMessage, expectNoProblems } from './helpers';

/** The customers in one section of an agent's console. */
async function section(page: Page, testid: 'mine' | 'waiting' | 'others'): Promise<string[]> {
  return page.getByTestId(testid).getByTestId('user').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-name') ?? ''));
}

test('the queue spreads the work, a transfer carries a note, unread counts rise and clear', async ({ browser }) => {
  const amy = await open(browser);
  const ben = await open(browser);
  await loginAgent(amy.page, 'Amy', 'amy-pass-1');
  await loginAgent(ben.page, 'Ben', 'ben-pass-1');

  const names = ['Lia', 'Max', 'Nia'];
  const customers = [];
  for (const name of names) {
    const c = await open(browser);
    await loginCustomer(c.page, name);
    await send(c.page, `${name} needs help`);
    await expectLastMessage(c.page, `${name} needs help`, true);
    customers.push(c);
  }

  // Balanced: two for one agent, one for the other, each conversation with exactly one.
  await expect.poll(async () => (await section(amy.page, 'mine')).length + (await section(ben.page, 'mine')).length).toBe(3);
  const amys = await section(amy.page, 'mine');
  const bens = await section(ben.page, 'mine');
  expect([amys.length, bens.length].sort()).toEqual([1, 2]);
  expect([...amys, ...bens].sort()).toEqual(names);

  // The agent with two: the one not open shows an unread count, which clears on opening.
  const [busy, busyPage, other] = amys.length === 2 ? [amys, amy.page, ben.page] : [bens, ben.page, amy.page];
  const second = busy[1];
  const row = find.user(busyPage, second);
  await expect(row.getByTestId('unread')).toHaveText('1');
  const writer = customers[names.indexOf(second)];
  await send(writer.page, 'Still there?');
  await expect(row.getByTestId('unread')).toHaveText('2');
  await openConversation(busyPage, second);
  await expect(row.getByTestId('unread')).toHaveCount(0);
  await expectLastMessage(busyPage, 'Still there?', false);

  // Transfer it to the other agent with a note.
  const otherName = busyPage === amy.page ? 'Ben' : 'Amy';
  await busyPage.getByTestId('transfer-to').fill(otherName);
  await busyPage.getByTestId('transfer-note').fill('Wants a refund, order 1042');
  await busyPage.getByTestId('transfer').click();
  await expect.poll(() => section(other, 'mine')).toContain(second);
  await expect.poll(() => section(busyPage, 'mine')).not.toContain(second);
  await openConversation(other, second);
  await expect(other.getByTestId('note')).toContainText('Wants a refund, order 1042');
  await expectLastMessage(other, 'Still there?', false);

  // The customer saw none of it, and the new agent's answer reaches them.
  await expect(writer.page.getByText('Wants a refund')).toHaveCount(0);
  await send(other, 'I can help with the refund');
  await expectLastMessage(writer.page, 'I can help with the refund', false);

  // Resolved: the badge says so.
  await other.getByTestId('resolve').click();
  await expect(other.getByTestId('status')).toHaveText('resolved');

  expectNoProblems(amy, ben, ...customers);
  for (const p of [amy, ben, ...customers]) await p.context.close();
});

test('an agent in another tab hears a tone, gets a notification, and sees the count in the title', async ({ browser }) => {
  const context = await browser.newContext();
  // Stand-ins for what a headless browser cannot do: notifications, sound, a hidden tab.
  await context.addInitScript(() => {
    const w = window as any;
    w.__notes = [];
    w.__tones = 0;
    w.__hidden = false;
    w.Notification = class {
      static permission = 'granted';
      static requestPermission() { return Promise.resolve('granted'); }
      constructor(title: string, options?: { body?: string }) { w.__notes.push({ title, body: options?.body }); }
    };
    w.AudioContext = class {
      currentTime = 0;
      destination = {};
      createOscillator() { return { frequency: { value: 0 }, connect() {}, start() { w.__tones += 1; }, stop() {} }; }
      createGain() { return { gain: { value: 0 }, connect() {} }; }
    };
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => w.__hidden });
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  await page.goto('/');
  await expect(find.connection(page)).toHaveText('Connected');
  await loginAgent(page, 'Amy', 'amy-pass-1');
  await expect(find.me(page)).toHaveText('Amy');

  const rosa = await open(browser);
  await loginCustomer(rosa.page, 'Rosa');
  await send(rosa.page, 'Hello, is anyone there?');
  await expectLastMessage(page, 'Hello, is anyone there?', false);
  // Visible tab: no tone, no notification.
  expect(await page.evaluate(() => [(window as any).__tones, (window as any).__notes.length])).toEqual([0, 0]);

  // Another customer writes while the agent's tab is hidden.
  await page.evaluate(() => { (window as any).__hidden = true; });
  const sam = await open(browser);
  await loginCustomer(sam.page, 'Sam');
  await send(sam.page, 'I need a hand with my account');
  await expect.poll(() => page.evaluate(() => (window as any).__notes)).toEqual([
    { title: 'New message from Sam', body: 'I need a hand with my account' },
  ]);
  expect(await page.evaluate(() => (window as any).__tones)).toBe(1);
  await expect(page).toHaveTitle('(1) Support chat');
  // Reading it clears the count.
  await page.evaluate(() => { (window as any).__hidden = false; });
  await openConversation(page, 'Sam');
  await expect(page).toHaveTitle('Support chat');

  expect(problems).toEqual([]);
  expectNoProblems(rosa, sam);
  for (const c of [context, rosa.context, sam.context]) await c.close();
});

test('read receipts, typing only in that conversation, and internal notes that stay with agents', async ({ browser }) => {
  const ben = await open(browser);
  await loginAgent(ben.page, 'Ben', 'ben-pass-1');
  const tom = await open(browser);
  await loginCustomer(tom.page, 'Tom');
  await send(tom.page, 'Quick question');
  await openConversation(ben.page, 'Tom');
  await expectLastMessage(ben.page, 'Quick question', false);
  // Ben has it on screen: Tom sees it was read, and it stays so after a reload.
  await expect(tom.page.getByTestId('read-receipt')).toHaveText('Read');
  await tom.page.reload();
  await expect(find.connection(tom.page)).toHaveText('Connected');
  await expect(tom.page.getByTestId('read-receipt')).toHaveText('Read');
  const uma = await open(browser);
  await loginCustomer(uma.page, 'Uma');

  await tom.page.getByTestId('composer').fill('About my');
  await expect(ben.page.getByTestId('typing')).toHaveText('Tom is typing…');
  await ben.page.getByTestId('composer').fill('Sure, go');
  await expect(tom.page.getByTestId('typing')).toHaveText('Ben is typing…');
  await expect(uma.page.getByTestId('typing')).toHaveCount(0);
  // The message replaces the indicator.
  await send(ben.page, 'Sure, go ahead');
  await expectLastMessage(tom.page, 'Sure, go ahead', false);
  await expect(tom.page.getByTestId('typing')).toHaveCount(0);

  // A canned reply: "/" and its shortcut.
  await ben.page.getByTestId('composer').fill('/ref');
  await ben.page.getByTestId('canned-option').click();
  await expect(ben.page.getByTestId('composer')).toHaveValue('Refunds take 3 to 5 working days.');
  await ben.page.getByTestId('composer').fill('');

  // An internal note stays on the agents' side.
  await ben.page.getByTestId('note-mode').check();
  await send(ben.page, 'Long-time customer, be generous');
  await expect(ben.page.getByTestId('note-line')).toContainText('Long-time customer, be generous');
  await ben.page.getByTestId('note-mode').uncheck();
  await send(ben.page, 'What can I do for you?');
  await expectLastMessage(tom.page, 'What can I do for you?', false);
  await expect(tom.page.getByText('Long-time customer')).toHaveCount(0);
  expectNoProblems(ben, tom, uma);
  for (const p of [ben, tom, uma]) await p.context.close();
});
