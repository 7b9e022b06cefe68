// An agent and two customers, each in their own browser context.
import { test, expect, type Page, type BrowserContextOptions } from '@playwright/test';
import {
  AGENT, find, open, loginAgent, submitAgentLogin, loginCustomer, openConversation, send, waitForHydration, expectRefusedRequest,
  expectLoggedIn, expectUsers, expectLastMessage, expectNoProblems,
} from './helpers';

test('an agent and two customers chat, and customers never see each other', async ({ browser }) => {
  const agent = await open(browser);
  const bob = await open(browser);
  const carol = await open(browser);

  await loginAgent(agent.page, 'support', AGENT.password);
  await expectLoggedIn(agent.page, AGENT.name); // the account's spelling

  await loginCustomer(bob.page, 'Bob');
  await loginCustomer(carol.page, 'Carol');
  await expectLoggedIn(bob.page, 'Bob');
  await expectLoggedIn(carol.page, 'Carol');

  await expectUsers(agent.page, ['Bob', 'Carol']);
  await expectUsers(bob.page, [AGENT.name]);
  await expectUsers(carol.page, [AGENT.name]);

  // Bob writes to the support team; his conversation is open from the start.
  await send(bob.page, 'Hi, my parcel has not arrived');
  await expectLastMessage(bob.page, 'Hi, my parcel has not arrived', true);
  await expectLastMessage(agent.page, 'Hi, my parcel has not arrived', false);

  // Carol writes too: the agent sees an unread count on her name.
  await send(carol.page, 'Hello from Carol');
  await expect(find.user(agent.page, 'Carol').getByTestId('unread')).toHaveText('1');
  await openConversation(agent.page, 'Carol');
  await expect(find.user(agent.page, 'Carol').getByTestId('unread')).toHaveCount(0);
  await expectLastMessage(agent.page, 'Hello from Carol', false);

  // The agent answers Bob.
  await openConversation(agent.page, 'Bob');
  await send(agent.page, 'Let me check that for you');
  await expectLastMessage(agent.page, 'Let me check that for you', true);
  await expectLastMessage(bob.page, 'Let me check that for you', false);
  await expect(find.messages(bob.page)).toHaveCount(2);
  // Carol saw none of Bob's conversation.
  await expect(find.messages(carol.page)).toHaveCount(1);

  expectNoProblems(agent, bob, carol);
  for (const p of [agent, bob, carol]) await p.context.close();
});

test('what a customer typed or chose before the page came alive is kept, and the page is drawn once', async ({ browser }) => {
  const problems: string[] = [];
  // A page whose WebAssembly (the customers' bundle) is held back until `act` has done its
  // part in the server's markup; then the bundle draws the page again over it
  // (customer/src/lib.rs).
  const early = async (act: (page: Page) => Promise<void>, options: BrowserContextOptions = {}) => {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    page.on('pageerror', (err) => problems.push(err.message));
    let release = () => {};
    const held = new Promise<void>((resolve) => { release = resolve; });
    const bundles: string[] = [];
    await page.route('**/pkg/*.wasm', async (route) => {
      bundles.push(new URL(route.request().url()).pathname);
      await held;
      await route.continue();
    });
    await page.goto('/', { waitUntil: 'domcontentloaded' });
    await act(page);
    await expect(find.connection(page)).not.toHaveClass(/conn-online/);
    release();
    await waitForHydration(page);
    expect(bundles).toEqual([expect.stringMatching(/^\/pkg\/customer\.[0-9a-f]{16}\.wasm$/)]);
    await expect(page.locator('.app')).toHaveCount(1);
    return page;
  };
  const page = await early((p) => p.getByTestId('login-name').fill('Yara'));
  await expect(page.getByTestId('login-name')).toHaveValue('Yara');
  await expect(page.getByTestId('login-name')).toBeFocused();
  await page.getByTestId('login-submit').click();
  await expectLoggedIn(page, 'Yara');
  // A name typed and a language chosen early: the page comes alive in that language, with
  // the name still there.
  const chinese = await early(async (p) => {
    await p.getByTestId('login-name').fill('Yan');
    await p.getByTestId('lang').selectOption('zh-CN');
  });
  await expect(chinese.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expect(chinese.getByTestId('lang')).toHaveValue('zh-CN');
  await expect(chinese.getByTestId('login-name')).toHaveValue('Yan');
  // A page in Chinese from the start shows its language in the list, before and after.
  const zh = await early(async (p) => {
    await expect(p.getByTestId('lang')).toHaveValue('zh-CN');
  }, { locale: 'zh-CN' });
  await expect(zh.locator('html')).toHaveAttribute('lang', 'zh-CN');
  await expect(zh.getByTestId('lang')).toHaveValue('zh-CN');
  expect(problems).toEqual([]);
  for (const p of [page, chinese, zh]) await p.context().close();
});

test('a taken name is refused in the page', async ({ browser }) => {
  const first = await open(browser);
  const second = await open(browser);
  await loginCustomer(first.page, 'Dana');
  await expectLoggedIn(first.page, 'Dana');
  await loginCustomer(second.page, 'dana');
  await expect(find.loginError(second.page)).toContainText('already taken');
  // An agent's name is reserved, online or not.
  await loginCustomer(second.page, AGENT.name);
  await expect(find.loginError(second.page)).toContainText('support agent');
  // A wrong agent password is refused too.
  await submitAgentLogin(second.page, AGENT.name, 'not-the-password');
  await expect(find.loginError(second.page)).toContainText('password');
  expectRefusedRequest(second, 401);
  expectNoProblems(first, second);
  await first.context.close();
  await second.context.close();
});

test('a closed tab updates the agent, whose message then waits for the customer', async ({ browser }) => {
  const agent = await open(browser);
  const erin = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  await loginCustomer(erin.page, 'Erin');
  await expectUsers(agent.page, ['Erin']);
  await openConversation(agent.page, 'Erin');

  await erin.page.close();
  await expectUsers(agent.page, []);

  // Erin has a conversation, so the message is stored for her rather than refused.
  await send(agent.page, 'Are you still there?');
  await expectLastMessage(agent.page, 'Are you still there?', true);
  await expect(find.error(agent.page)).toHaveCount(0);

  // She comes back in the same browser: the same person, with the message waiting.
  const back = await erin.context.newPage();
  await back.goto('/');
  await waitForHydration(back);
  await expectLoggedIn(back, 'Erin');
  await expectLastMessage(back, 'Are you still there?', false);
  await expectUsers(agent.page, ['Erin']);
  expectNoProblems(agent);
  await agent.context.close();
  await erin.context.close();
});

test('a reload logs the customer back in', async ({ browser }) => {
  const agent = await open(browser);
  const frank = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  await loginCustomer(frank.page, 'Frank');
  await expectLoggedIn(frank.page, 'Frank');

  await frank.page.reload();
  await waitForHydration(frank.page);
  await expectLoggedIn(frank.page, 'Frank');
  await expectUsers(agent.page, ['Frank']);

  // And the session works after the reload.
  await send(frank.page, 'Back again');
  await expectLastMessage(agent.page, 'Back again', false);
  expectNoProblems(agent, frank);
  await agent.context.close();
  await frank.context.close();
});

test('markup in a message is shown as text, never run', async ({ browser }) => {
  const agent = await open(browser);
  const mallory = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  await loginCustomer(mallory.page, 'Mallory');
  const evil = '<script>window.__pwned = true</script><b>bold?</b><img src=x onerror="window.__pwned=true">';
  await send(mallory.page, evil);
  await expectLastMessage(agent.page, evil, false);
  await expectLastMessage(mallory.page, evil, true);
  for (const p of [agent.page, mallory.page]) {
    expect(await p.evaluate(() => (window as any).__pwned)).toBeUndefined();
    await expect(find.messages(p).last().locator('b, script, img')).toHaveCount(0);
  }
  expectNoProblems(agent, mallory);
  await agent.context.close();
  await mallory.context.close();
});
