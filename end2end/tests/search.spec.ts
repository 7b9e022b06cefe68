// Search in the agent console: messages in English and Chinese with what matched marked,
// customers by name, a click that opens an old conversation at the message found (beyond
// the page sent at login), in both languages, axe clean.
import { test, expect } from '@playwright/test';
import { io, Socket } from 'socket.io-client';
import { AGENT, open, loginAgent, expectAccessible, expectNoProblems } from './helpers';

function next<T = unknown>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve) => socket.once(event, resolve));
}

test('an agent finds a message and a customer, and opens the message found in its conversation', async ({ browser, baseURL }) => {
  // A word nobody else wrote, and a customer who wrote it long ago: then 55 more messages,
  // more than the page an agent is sent at login.
  const word = `parcel${Date.now().toString(36)}`;
  const name = `Ola ${word.slice(-5)}`;
  const customer = io(baseURL!, { reconnection: false, transports: ['websocket'] });
  const loggedIn = next(customer, 'login_success');
  customer.on('connect', () => customer.emit('login', name));
  await loggedIn;
  // A customer may send 20 messages at once, then 3 a second: past that, each waits its turn.
  const say = async (message: string) => {
    for (;;) {
      const ack = await customer.timeout(5_000).emitWithAck('private_message', { message });
      if (ack.ok || ack.problem?.code !== 'slow_down') return ack;
      await new Promise((resolve) => setTimeout(resolve, 350));
    }
  };
  expect(await say(`My ${word} never arrived`)).toMatchObject({ ok: true });
  for (let i = 0; i < 54; i++) await say(`still waiting ${i}`);
  expect(await say(`我想申请退款 ${word}`)).toMatchObject({ ok: true });

  const agent = await open(browser);
  const page = agent.page;
  await loginAgent(page, AGENT.name, AGENT.password);
  await page.getByTestId('search').fill(word);
  await page.getByTestId('search-button').click();
  const found = page.getByTestId('found-message');
  await expect(found).toHaveCount(2);
  // Newest first, each with the word marked, the customer and the conversation's status.
  await expect(found.nth(0)).toContainText('我想申请退款');
  await expect(found.nth(1)).toContainText('never arrived');
  await expect(found.nth(0).locator('mark')).toHaveText(word);
  await expect(found.nth(1)).toContainText(name);
  await expectAccessible(page, 'search results');

  // The older one opens its conversation there, marked and in view.
  await found.nth(1).click();
  const line = page.locator('[data-testid="message"][data-seq="1"]');
  await expect(line).toHaveAttribute('data-found', 'true');
  await expect(line).toContainText(`My ${word} never arrived`);
  await expect(line).toBeInViewport();

  // By the customer's name; closing the search brings the list back.
  await page.getByTestId('search').fill(name);
  await page.getByTestId('search-button').click();
  await expect(page.getByTestId('found-conversation')).toHaveCount(1);
  await expect(page.getByTestId('found-conversation')).toContainText(name);
  await page.getByTestId('search-close').click();
  await expect(page.getByTestId('search-results')).toHaveCount(0);
  await expect(page.getByTestId('mine')).toBeVisible();

  // In Chinese: the labels, a Chinese word of two characters, and nothing found said so.
  await page.getByTestId('lang').selectOption('zh-CN');
  await expect(page.getByTestId('search-button')).toHaveText('搜索');
  await page.getByTestId('search').fill('退款');
  await page.getByTestId('search-button').click();
  await expect(page.getByTestId('found-message').filter({ hasText: word })).toHaveCount(1);
  await page.getByTestId('search').fill(`${word}不存在`);
  await page.getByTestId('search-button').click();
  await expect(page.getByTestId('search-results')).toContainText('没有找到结果。');
  await expectAccessible(page, 'search results in Chinese');
  // An empty search is refused where it is typed, in the reader's language.
  await page.getByTestId('search').fill('   ');
  await page.getByTestId('search-button').click();
  await expect(page.getByTestId('error')).toContainText('请输入要搜索的内容。');

  customer.close();
  expectNoProblems(agent);
});
