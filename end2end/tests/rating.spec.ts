// Satisfaction ratings: a customer whose conversation is resolved is asked "How did we do?"
// (1 to 5 and a comment), once per resolution, in their language; the agent sees the rating
// in the conversation; an admin turns the asking off and on in the team panel. Axe clean, in
// the dark scheme too, and within a 360 px screen.
import { test, expect, Page } from '@playwright/test';
import { AGENT, open, loginAgent, loginCustomer, openConversation, send, expectAccessible, expectNoProblems, reload } from './helpers';

/** The agent answers `customer`, taking the conversation if someone else has it, and
 * resolves it. */
async function answerAndResolve(agent: Page, customer: string) {
  await openConversation(agent, customer);
  if (await agent.getByTestId('take').isVisible()) await agent.getByTestId('take').click();
  await expect(agent.getByTestId('resolve')).toBeVisible();
  await send(agent, 'It is on its way: it arrives today.');
  await agent.getByTestId('resolve').click();
  await expect(agent.getByTestId('status')).toHaveText(/resolved|已结束/);
}

test('a customer rates a resolved conversation once, the agent sees it, and an admin turns the question off and on', async ({ browser }) => {
  const tag = Date.now().toString(36).slice(-5);
  const agent = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);

  // In English: asked once resolved; a rating without a score is refused in words.
  const rae = await open(browser);
  await loginCustomer(rae.page, `Rae ${tag}`);
  await send(rae.page, 'My tea never came');
  await answerAndResolve(agent.page, `Rae ${tag}`);
  const prompt = rae.page.getByTestId('rate');
  await expect(prompt).toContainText('Your conversation was marked resolved. How did we do?');
  await expectAccessible(rae.page, 'rating question');
  await rae.page.getByTestId('rate-send').click();
  await expect(rae.page.getByTestId('error')).toContainText('Please pick from 1 to 5 stars.');
  await rae.page.locator('[data-testid="rate-score"][value="4"]').check();
  await rae.page.getByTestId('rate-comment').fill('Quick, thanks');
  await rae.page.getByTestId('rate-send').click();
  await expect(rae.page.getByTestId('rate-thanks')).toHaveText('Thank you for your rating!');
  // The agent sees it in the conversation, with the comment.
  const line = agent.page.getByTestId('rating-line');
  await expect(line).toHaveAttribute('data-score', '4');
  await expect(line).toContainText('4 of 5 · Good');
  await expect(line).toContainText('Quick, thanks');
  await expectAccessible(agent.page, 'a rating in the conversation');
  // Back later: rated, so not asked again.
  await reload(rae.page);
  await expect(rae.page.getByTestId('message').first()).toContainText('My tea never came');
  await expect(prompt).toHaveCount(0);

  // In Chinese.
  const wen = await open(browser);
  await loginCustomer(wen.page, `Wen ${tag}`);
  await wen.page.getByTestId('lang').selectOption('zh-CN');
  await send(wen.page, '我的茶叶还没到');
  await answerAndResolve(agent.page, `Wen ${tag}`);
  await expect(wen.page.getByTestId('rate')).toContainText('您对这次服务满意吗？');
  await expectAccessible(wen.page, 'rating question in Chinese');
  await wen.page.locator('[data-testid="rate-score"][value="5"]').check();
  await wen.page.getByTestId('rate-send').click();
  await expect(wen.page.getByTestId('rate-thanks')).toHaveText('感谢您的评价！');

  // Turned off in the team panel: a customer resolved now is not asked; turned on again,
  // the question appears.
  await agent.page.getByTestId('team').locator('summary').click();
  const setting = agent.page.getByTestId('csat-setting');
  await expect(setting).toBeChecked();
  await setting.uncheck();
  // Ivy is on a 360 px phone in the dark scheme.
  const ivy = await open(browser, '/', { viewport: { width: 360, height: 740 }, colorScheme: 'dark' });
  await loginCustomer(ivy.page, `Ivy ${tag}`);
  await send(ivy.page, 'Where is my parcel?');
  await answerAndResolve(agent.page, `Ivy ${tag}`);
  await expect(ivy.page.getByTestId('message').last()).toContainText('arrives today');
  await ivy.page.waitForTimeout(500);
  await expect(ivy.page.getByTestId('rate')).toHaveCount(0);
  await setting.check();
  await expect(ivy.page.getByTestId('rate')).toBeVisible();
  await expectAccessible(ivy.page, 'rating question, dark, on a phone');
  const overflow = await ivy.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow, 'nothing wider than the screen').toBeLessThanOrEqual(0);

  // Logged out, not just closed: no conversation of a later test goes to this agent.
  await agent.page.getByTestId('logout').click();
  await expect(agent.page.getByTestId('login-form')).toBeVisible();
  expectNoProblems(agent, rae, wen, ivy);
  for (const p of [agent, rae, wen, ivy]) await p.context.close();
});
