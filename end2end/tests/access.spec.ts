// Everyone can use it: zero axe-core violations on every view, the keyboard alone, new
// messages announced, both languages (chosen from the browser, switched by hand, errors from
// the server worded in the reader's language), and a 360 px wide phone.
import { test, expect } from '@playwright/test';
import AxeBuilder from '@axe-core/playwright';
import {
  find, open, loginAgent, loginCustomer, openConversation, send, expectAccessible, expectLoggedIn,
  expectLastMessage, expectNoProblems, waitForHydration,
} from './helpers';

// An agent of these tests' own: the conversations they leave open are hers, not the
// queue's that the other tests watch.
const ADA = { name: 'Ada', password: 'ada-pass-1' };

test('the axe check is live: it reports text too faint to read', async ({ browser }) => {
  const person = await open(browser);
  await person.page.evaluate(() => {
    const faint = document.createElement('p');
    faint.textContent = 'barely readable';
    faint.style.color = '#d0d0d0';
    document.querySelector('main')!.append(faint);
  });
  const { violations } = await new AxeBuilder({ page: person.page }).withTags(['wcag2aa']).analyze();
  expect(violations.map((v) => v.id)).toContain('color-contrast');
  await person.context.close();
});

test('axe finds nothing on the login, the chat and the agent console: English in the light scheme, Chinese in the dark one', async ({ browser }) => {
  for (const [locale, colorScheme] of [['en-US', 'light'], ['zh-CN', 'dark']] as const) {
    const agent = await open(browser, '/', { locale, colorScheme });
    const cust = await open(browser, '/', { locale, colorScheme });
    // The scheme the reader's system asks for is the one shown.
    await expect(cust.page.locator('html')).toHaveCSS('background-color', colorScheme === 'dark' ? 'rgb(17, 20, 25)' : 'rgb(244, 245, 247)');
    await expectAccessible(cust.page, `login (${locale})`);
    const name = `Axe${locale.slice(0, 2)}`;
    await loginCustomer(cust.page, name);
    await expectLoggedIn(cust.page, name);
    await send(cust.page, 'Is anyone there?');
    await expectAccessible(cust.page, `customer chat (${locale})`);
    await loginAgent(agent.page, ADA.name, ADA.password);
    await expectLoggedIn(agent.page, ADA.name);
    await openConversation(agent.page, name);
    await send(agent.page, 'Yes, how can I help?');
    await expectLastMessage(cust.page, 'Yes, how can I help?', false);
    await expectAccessible(agent.page, `agent console (${locale})`);
    await expectAccessible(cust.page, `customer chat with a reply (${locale})`);
    await agent.page.getByTestId('logout').click();
    expectNoProblems(agent, cust);
    await agent.context.close();
    await cust.context.close();
  }
});

test('a customer logs in, writes and hears replies with the keyboard alone', async ({ browser }) => {
  const agent = await open(browser);
  const cust = await open(browser);
  // Tab from the top of the page to the name field; Enter submits the form.
  const page = cust.page;
  for (let i = 0; i < 5 && !(await page.getByTestId('login-name').evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press('Tab');
  }
  await expect(page.getByTestId('login-name')).toBeFocused();
  // Focus is visible where it is.
  const outline = await page.getByTestId('login-name').evaluate((el) => getComputedStyle(el).outlineStyle);
  expect(outline).not.toBe('none');
  await page.keyboard.type('Keya');
  await page.keyboard.press('Enter');
  await expectLoggedIn(page, 'Keya');
  // The composer is reachable by Tab, and Enter sends.
  await expect(async () => {
    await page.keyboard.press('Tab');
    await expect(page.getByTestId('composer')).toBeFocused({ timeout: 200 });
  }).toPass();
  await page.keyboard.type('Typed without a mouse');
  await page.keyboard.press('Enter');
  await expectLastMessage(page, 'Typed without a mouse', true);
  // A reply arrives inside the live region that screen readers announce.
  await loginAgent(agent.page, ADA.name, ADA.password);
  await openConversation(agent.page, 'Keya');
  await send(agent.page, 'Heard you');
  const log = page.getByRole('log');
  await expect(log).toHaveAttribute('aria-live', 'polite');
  await expect(log.getByTestId('message').last().locator('.text')).toHaveText('Heard you');
  await agent.page.getByTestId('logout').click();
  expectNoProblems(agent, cust);
  for (const p of [agent, cust]) await p.context.close();
});

test('the language follows the browser, can be switched, and server errors come in it', async ({ browser }) => {
  const zh = await open(browser, '/', { locale: 'zh-CN' });
  await expect(zh.page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expect(zh.page.getByTestId('login-submit')).toHaveText('开始聊天');
  await loginCustomer(zh.page, 'Mei');
  await expectLoggedIn(zh.page, 'Mei');
  await expect(zh.page.getByTestId('send')).toHaveText('发送');

  // Another customer with the same name: the server's refusal, in Chinese.
  const twin = await open(browser, '/', { locale: 'zh-CN' });
  await loginCustomer(twin.page, 'mei');
  await expect(find.loginError(twin.page)).toHaveText('这个名字已被占用，请换一个。');

  // The same refusal for an English reader.
  const en = await open(browser, '/', { locale: 'en-US' });
  await expect(en.page.getByTestId('login-submit')).toHaveText('Start chatting');
  await loginCustomer(en.page, 'MEI');
  await expect(find.loginError(en.page)).toHaveText('That name is already taken. Please choose another.');

  // Switched by hand: the page changes at once, and the next page load keeps the choice.
  await en.page.getByTestId('lang').selectOption('zh-CN');
  await expect(en.page.getByTestId('login-submit')).toHaveText('开始聊天');
  await expect(en.page.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await en.page.reload();
  await waitForHydration(en.page);
  await expect(en.page.getByTestId('login-submit')).toHaveText('开始聊天');
  await en.page.getByTestId('lang').selectOption('en');
  await expect(en.page.getByTestId('login-submit')).toHaveText('Start chatting');
  expectNoProblems(zh, twin, en);
  for (const p of [zh, twin, en]) await p.context.close();
});

test('a customer chats on a 360 px wide phone', async ({ browser }) => {
  const phone = await open(browser, '/', { viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true });
  const agent = await open(browser);
  const page = phone.page;
  const fits = () => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);
  expect(await fits(), 'the login fits the width').toBe(true);
  await loginCustomer(page, 'Pia');
  await expectLoggedIn(page, 'Pia');
  await send(page, 'Writing from my phone, which is narrow');
  await expectLastMessage(page, 'Writing from my phone, which is narrow', true);
  await loginAgent(agent.page, ADA.name, ADA.password);
  await openConversation(agent.page, 'Pia');
  await send(agent.page, 'A reply long enough to wrap over more than one line on a narrow screen');
  await expectLastMessage(page, 'A reply long enough to wrap over more than one line on a narrow screen', false);
  expect(await fits(), 'the chat fits the width').toBe(true);
  // The composer and its button are on screen, and big enough to tap.
  for (const id of ['composer', 'send']) {
    const box = await page.getByTestId(id).boundingBox();
    expect(box, id).not.toBeNull();
    expect(box!.x + box!.width, `${id} within the screen`).toBeLessThanOrEqual(360);
    expect(box!.height, `${id} tall enough to tap`).toBeGreaterThanOrEqual(24);
  }
  await expectAccessible(page, 'customer chat at 360 px');
  await agent.page.getByTestId('logout').click();
  expectNoProblems(phone, agent);
  for (const p of [phone, agent]) await p.context.close();
});
