// The team: an admin manages agents and canned replies from the console; agents see
// neither the panel nor each other's conversations; a hidden tab shows its agent away.
import { test, expect, Page } from '@playwright/test';
import { AGENT, find, open, loginAgent, loginCustomer, send, expectLastMessage, expectNoProblems } from './helpers';

test('an admin adds an agent and a canned reply, then removes the agent, who is logged out', async ({ browser }) => {
  const admin = await open(browser);
  await loginAgent(admin.page, AGENT.name, AGENT.password);
  const team = admin.page.getByTestId('team');
  await team.locator('summary').click();
  const agent = (name: string) => team.locator(`[data-testid="team-agent"][data-name="${name}"]`);
  await expect(agent('Amy')).toBeVisible();
  await expect(agent(AGENT.name).getByTestId('remove-agent')).toHaveCount(0);

  // Bad input is refused with a reason.
  await team.getByTestId('new-agent-name').fill('Dee');
  await team.getByTestId('new-agent-password').fill('short');
  await team.getByRole('button', { name: 'Add agent' }).click();
  await expect(find.error(admin.page)).toContainText('A password needs at least 8 characters.');
  await expect(agent('Dee')).toHaveCount(0);

  await team.getByTestId('new-agent-name').fill('Dee');
  await team.getByTestId('new-agent-password').fill('dee-pass-1');
  await team.getByRole('button', { name: 'Add agent' }).click();
  await expect(agent('Dee').getByTestId('presence')).toHaveText('offline');
  const dee = await open(browser);
  await loginAgent(dee.page, 'Dee', 'dee-pass-1');
  await expect(find.me(dee.page)).toHaveText('Dee');
  await expect(agent('Dee').getByTestId('presence')).toHaveText('online');
  await expect(dee.page.getByTestId('team')).toHaveCount(0);

  // A canned reply reaches every agent at once.
  await team.getByTestId('canned-shortcut').fill('thanks');
  await team.getByTestId('canned-text').fill('Thank you for your patience!');
  await team.getByRole('button', { name: 'Save' }).click();
  await dee.page.getByTestId('composer').fill('/than');
  await expect(dee.page.getByTestId('canned-option')).toContainText('Thank you for your patience!');

  // Dee's conversation is Dee's: a non-admin colleague does not see it; the admin does.
  const amy = await open(browser);
  await loginAgent(amy.page, 'Amy', 'amy-pass-1');
  // Kit writes to the team; with the others busy, it is Dee's.
  for (const busy of [admin, amy]) await busy.page.getByTestId('my-status').selectOption('busy');
  const kit = await open(browser);
  await loginCustomer(kit.page, 'Kit');
  await expect(find.user(kit.page, 'Amy').getByTestId('busy')).toBeVisible();
  await send(kit.page, 'Hello Dee');
  await expectLastMessage(dee.page, 'Hello Dee', false);
  // Unless the queue gave it to her already (her tab may count as away by now), she takes it.
  await expect(async () => {
    const take = dee.page.getByTestId('take');
    if (await take.isVisible()) await take.click();
    await expect(find.user(admin.page, 'Kit').getByTestId('owner')).toHaveText('Dee', { timeout: 1_000 });
  }).toPass();
  // Amy sees Kit online, but not the conversation: no owner, nothing in it.
  await expect(find.user(amy.page, 'Kit')).toBeVisible();
  await expect(find.user(amy.page, 'Kit').getByTestId('owner')).toHaveCount(0);
  await find.user(amy.page, 'Kit').click();
  await expect(find.messages(amy.page)).toHaveCount(0);

  // Removed, once the admin says yes to the question (which warns that Dee's API tokens and
  // webhooks go too): logged out at once, and Kit's conversation goes to someone else.
  let asked = '';
  admin.page.once('dialog', async (dialog) => {
    asked = dialog.message();
    await dialog.accept();
  });
  await agent('Dee').getByTestId('remove-agent').click();
  await expect.poll(() => asked).toContain('Remove Dee from the team?');
  expect(asked).toContain('API tokens and webhooks');
  await expect(agent('Dee')).toHaveCount(0);
  await expect(dee.page.getByTestId('login-submit')).toBeVisible();
  await expect(find.loginError(dee.page)).toHaveText('Your session has ended. Please log in again.');
  await expect(find.user(kit.page, 'Dee')).toHaveCount(0);
  await expect(find.user(admin.page, 'Kit')).not.toContainText('Dee');

  expectNoProblems(admin, amy, kit);
  for (const p of [admin, dee, amy, kit]) await p.context.close();
});

test('an agent whose tab stays hidden shows as away, and is back when it shows', async ({ browser }) => {
  const context = await browser.newContext();
  await context.addInitScript(() => {
    const w = window as any;
    w.__hidden = false;
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => w.__hidden });
  });
  const page = await context.newPage();
  await page.goto('/');
  await expect(find.connection(page)).toHaveText('Connected');
  await loginAgent(page, 'Ben', 'ben-pass-1');
  await expect(find.me(page)).toHaveText('Ben');
  const lou = await open(browser);
  await loginCustomer(lou.page, 'Lou');
  const ben = find.user(lou.page, 'Ben');
  await expect(ben).toBeVisible();
  await expect(ben.getByTestId('away')).toHaveCount(0);

  await page.evaluate(() => { (window as any).__hidden = true; });
  // serve.sh sets the away delay to 1.5 s.
  await expect(ben.getByTestId('away')).toHaveText('away');
  await page.evaluate(() => { (window as any).__hidden = false; });
  await expect(ben.getByTestId('away')).toHaveCount(0);
  expectNoProblems(lou);
  for (const c of [context, lou.context]) await c.close();
});

test('an agent who says she is busy is given nothing new, customers see it, and it outlasts a reload', async ({ browser }) => {
  // A customer's row in one section of Dot's console (other tests' customers may be there too).
  const row = (page: Page, section: 'mine' | 'waiting', name: string) =>
    page.getByTestId(section).locator(`[data-testid="user"][data-name="${name}"]`);
  const dot = await open(browser);
  await loginAgent(dot.page, 'Dot', 'dot-pass-1');
  await expect(find.me(dot.page)).toHaveText('Dot');
  const status = dot.page.getByTestId('my-status');
  await expect(status).toHaveValue('online');
  await status.selectOption('busy');

  const bea = await open(browser);
  await loginCustomer(bea.page, 'Bea');
  await expect(find.user(bea.page, 'Dot').getByTestId('busy')).toHaveText('busy');
  await send(bea.page, 'Anyone free?');
  // The queue passes her by: it waits, in her console's queue.
  await expect(row(dot.page, 'waiting', 'Bea')).toBeVisible();
  await expect(row(dot.page, 'mine', 'Bea')).toHaveCount(0);

  // A reload of her tab keeps what she said: still busy, still nothing given.
  await dot.page.reload();
  await expect(find.me(dot.page)).toHaveText('Dot');
  await expect(dot.page.getByTestId('my-status')).toHaveValue('busy');
  await expect(row(dot.page, 'waiting', 'Bea')).toBeVisible();
  await expect(row(dot.page, 'mine', 'Bea')).toHaveCount(0);
  await expect(find.user(bea.page, 'Dot').getByTestId('busy')).toHaveText('busy');

  // In Chinese, the customer sees the same.
  await bea.page.getByTestId('lang').selectOption('zh-CN');
  await expect(find.user(bea.page, 'Dot').getByTestId('busy')).toHaveText('忙碌');

  // Away: the customer sees that instead; online again: the waiting conversation is hers.
  await dot.page.getByTestId('my-status').selectOption('away');
  await expect(find.user(bea.page, 'Dot').getByTestId('away')).toHaveText('离开');
  await expect(find.user(bea.page, 'Dot').getByTestId('busy')).toHaveCount(0);
  await expect(row(dot.page, 'waiting', 'Bea')).toBeVisible();
  await dot.page.getByTestId('my-status').selectOption('online');
  await expect(row(dot.page, 'mine', 'Bea')).toBeVisible();
  await expect(find.user(bea.page, 'Dot').getByTestId('away')).toHaveCount(0);

  await dot.page.getByTestId('logout').click();
  expectNoProblems(dot, bea);
  for (const p of [dot, bea]) await p.context.close();
});
