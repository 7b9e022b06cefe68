// Transcripts: the customer downloads their conversation as text, the agent as a web page,
// each in their language, from the links under the conversation's header.
import { test, expect, Page } from '@playwright/test';
import { readFile } from 'node:fs/promises';
import { AGENT, open, loginAgent, loginCustomer, send, expectLastMessage, openConversation, expectNoProblems } from './helpers';

/** Clicks a transcript link and returns the file's name and text. */
async function download(page: Page, testid: string): Promise<[string, string]> {
  const [file] = await Promise.all([page.waitForEvent('download'), page.getByTestId(testid).click()]);
  return [file.suggestedFilename(), await readFile((await file.path())!, 'utf8')];
}

test('a customer and an agent download the conversation', async ({ browser }) => {
  const name = `Tia ${Date.now().toString(36).slice(-5)}`;
  const customer = await open(browser);
  await loginCustomer(customer.page, name);
  await send(customer.page, 'Please keep a copy of this');
  await expectLastMessage(customer.page, 'Please keep a copy of this', true);

  const [file, text] = await download(customer.page, 'transcript-text');
  expect(file).toMatch(/^conversation-\d+\.txt$/);
  expect(text).toContain(`with ${name}`);
  expect(text).toContain(`${name}: Please keep a copy of this`);

  const agent = await open(browser);
  await agent.page.getByTestId('lang').selectOption('zh-CN');
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  await openConversation(agent.page, name);
  await expect(agent.page.getByTestId('transcript')).toContainText('下载对话记录');
  const [page, html] = await download(agent.page, 'transcript-html');
  expect(page).toMatch(/^conversation-\d+\.html$/);
  expect(html).toContain('<html lang="zh-CN">');
  expect(html).toContain(`与 ${name} 的会话`);
  expect(html).toContain('Please keep a copy of this');
  expectNoProblems(customer, agent);
});
