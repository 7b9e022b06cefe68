// What a message carries besides its words: the time it was written (in the reader's
// language and time zone, days marked), its lines, and links that open safely.
import { test, expect, Locator, Page } from '@playwright/test';
import {
  find, open, loginAgent, loginCustomer, openConversation, expectAccessible, expectLastMessage,
  expectNoProblems, reload,
} from './helpers';

const ADA = { name: 'Ada', password: 'ada-pass-1' };
const DAY_MS = 86_400_000;

/** The moment a message's <time> names, and what it shows. */
async function timeOf(message: Locator) {
  const time = message.getByTestId('time');
  return {
    at: Date.parse((await time.getAttribute('datetime'))!),
    shown: (await time.locator('[aria-hidden="true"]').textContent())!,
    full: (await time.getAttribute('title'))!,
    spoken: (await time.locator('.visually-hidden').textContent())!,
  };
}

async function composerHeight(page: Page) {
  return (await page.getByTestId('composer').boundingBox())!.height;
}

test('messages show when they were written, keep their lines, and links open safely', async ({ browser }) => {
  const cust = await open(browser, '/', { locale: 'en-US', timezoneId: 'America/New_York' });
  const agent = await open(browser, '/', { locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  await loginCustomer(cust.page, 'Tomasz');
  await loginAgent(agent.page, ADA.name, ADA.password);

  // Shift+Enter starts a line (the composer grows with it), Enter sends.
  const composer = cust.page.getByTestId('composer');
  await composer.click();
  const oneLine = await composerHeight(cust.page);
  await cust.page.keyboard.type('My order 1234:');
  await cust.page.keyboard.press('Shift+Enter');
  await cust.page.keyboard.type('see https://example.com/help?q=1');
  await cust.page.keyboard.press('Shift+Enter');
  await cust.page.keyboard.type('or write to me at tomasz@example.com');
  expect(await composerHeight(cust.page), 'three lines are taller than one').toBeGreaterThan(oneLine * 1.8);
  const before = Date.now();
  await cust.page.keyboard.press('Enter');
  const text = 'My order 1234:\nsee https://example.com/help?q=1\nor write to me at tomasz@example.com';
  await expectLastMessage(cust.page, text.replace(/\n/g, ' '), true);
  await expect(composer).toHaveValue('');
  expect(await composerHeight(cust.page), 'the emptied composer is one line again').toBeLessThan(oneLine * 1.3);

  await openConversation(agent.page, 'Tomasz');
  for (const page of [cust.page, agent.page]) {
    const last = find.messages(page).last();
    // The lines as written: one message, three lines.
    expect(await last.locator('.text').textContent()).toBe(text);
    expect(await last.locator('.text').evaluate((el) => (el as HTMLElement).innerText.split('\n').length)).toBe(3);
    // Two links, opening apart from the chat and telling the other site nothing.
    const links = last.locator('.text a');
    await expect(links).toHaveCount(2);
    await expect(links.nth(0)).toHaveAttribute('href', 'https://example.com/help?q=1');
    await expect(links.nth(1)).toHaveAttribute('href', 'mailto:tomasz@example.com');
    for (const i of [0, 1]) {
      await expect(links.nth(i)).toHaveAttribute('target', '_blank');
      await expect(links.nth(i)).toHaveAttribute('rel', 'noopener noreferrer');
    }
    // Its time: the moment it was stored.
    const time = await timeOf(last);
    expect(time.at).toBeGreaterThanOrEqual(before - 5_000);
    expect(time.at).toBeLessThanOrEqual(Date.now() + 5_000);
  }

  // Each reader's clock and language: 12-hour in New York English, 24-hour in Shanghai
  // Chinese, the same moment; the full date on hover and for screen readers.
  const inNewYork = await timeOf(find.messages(cust.page).last());
  const inShanghai = await timeOf(find.messages(agent.page).last());
  const expected = (timeZone: string, locale: string, options: Intl.DateTimeFormatOptions) =>
    new Intl.DateTimeFormat(locale, { timeZone, ...options }).format(new Date(inNewYork.at));
  expect(inNewYork.shown).toBe(expected('America/New_York', 'en-US', { hour: 'numeric', minute: '2-digit' }));
  expect(inNewYork.shown).toMatch(/^\d{1,2}:\d{2}\s?[AP]M$/);
  expect(inShanghai.shown).toBe(expected('Asia/Shanghai', 'zh-CN', { hour: 'numeric', minute: '2-digit' }));
  expect(inShanghai.shown).toMatch(/^\d{1,2}:\d{2}$/);
  expect(inNewYork.full).toBe(expected('America/New_York', 'en-US', { dateStyle: 'full', timeStyle: 'short' }));
  expect(inNewYork.spoken).toBe(inNewYork.full);
  expect(inShanghai.full).toContain(String(new Date(inNewYork.at).getUTCFullYear()));

  // The day is marked before its first message, in each reader's language.
  await expect(cust.page.getByTestId('day').first()).toHaveText('Today');
  await expect(agent.page.getByTestId('day').first()).toHaveText('今天');

  // A day later (the agent's clock moved on): the same message now under "yesterday".
  await agent.page.clock.setFixedTime(Date.now() + DAY_MS);
  await reload(agent.page);
  await openConversation(agent.page, 'Tomasz');
  await expect(agent.page.getByTestId('day').first()).toHaveText('昨天');
  await expect(find.messages(agent.page)).toHaveCount(1);

  // Anything else in a message is text: no other scheme becomes a link.
  const hostile = 'javascript:alert(1) and <a href="x">x</a> and ftp://example.com/x';
  await cust.page.getByTestId('composer').fill(hostile);
  await cust.page.getByTestId('send').click();
  await expectLastMessage(cust.page, hostile, true);
  await expect(find.messages(cust.page).last().locator('.text a')).toHaveCount(0);

  await expectAccessible(cust.page, 'a conversation with times and links');
  await expectAccessible(agent.page, 'the console with times and links (zh-CN)');
  expectNoProblems(cust, agent);
  for (const p of [cust, agent]) await p.context.close();
});

test('a page left open past midnight moves the day\'s messages under "Yesterday"', async ({ browser }) => {
  // The page's clock starts half a minute before the end of today (UTC, as the reader's time
  // zone here); the message is written now, today.
  const context = await browser.newContext({ timezoneId: 'UTC', locale: 'en-US' });
  const page = await context.newPage();
  const endOfToday = (Math.floor(Date.now() / DAY_MS) + 1) * DAY_MS;
  await page.clock.install({ time: endOfToday - 30_000 });
  await page.goto('/');
  await expect(find.connection(page)).toHaveClass(/conn-online/);
  await loginCustomer(page, 'Midnight');
  await page.getByTestId('composer').fill('Still there?');
  await page.getByTestId('send').click();
  await expectLastMessage(page, 'Still there?', true);
  await expect(page.getByTestId('day').first()).toHaveText('Today');
  // A minute later, with nothing reloaded: the page's minute tick has moved it on.
  await page.clock.fastForward(60_000);
  await expect(page.getByTestId('day').first()).toHaveText('Yesterday');
  await context.close();
});

test('on a touch screen Enter starts a line and the button sends', async ({ browser }) => {
  const phone = await open(browser, '/', { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  await loginCustomer(phone.page, 'Ulla');
  const composer = phone.page.getByTestId('composer');
  await composer.click();
  await phone.page.keyboard.type('first');
  await phone.page.keyboard.press('Enter');
  await phone.page.keyboard.type('second');
  await expect(composer).toHaveValue('first\nsecond');
  await expect(find.messages(phone.page)).toHaveCount(0);
  await phone.page.getByTestId('send').tap();
  await expectLastMessage(phone.page, 'first second', true);
  expect(await find.messages(phone.page).last().locator('.text').textContent()).toBe('first\nsecond');
  expectNoProblems(phone);
  await phone.context.close();
});
