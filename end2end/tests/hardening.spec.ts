// Hostile text from a customer: in their name and in their messages, shown to the agent
// and to themself as plain text, never run, never turned into markup. The pages' content
// security policy must not get in the way of the app itself (any violation is a console
// error, which expectNoProblems reports).
import { test, expect } from '@playwright/test';
import {
  AGENT, find, open, loginAgent, loginCustomer, openConversation, send, reload, expectLoggedIn, expectLastMessage, expectNoProblems,
} from './helpers';

const PAYLOADS = [
  '<script>window.__pwned = 1</script>',
  '<img src=x onerror="window.__pwned = 1">',
  '<svg onload="window.__pwned = 1"></svg>',
  '"><iframe src="javascript:window.top.__pwned = 1"></iframe>',
  '<a href="javascript:window.__pwned = 1">click me</a>',
  "';window.__pwned = 1;//",
  '{{constructor.constructor("window.__pwned = 1")()}}',
  '&lt;b&gt;not bold&lt;/b&gt; &amp;',
  '<style>body { display: none }</style>',
];

// A name of at most 32 characters that is markup.
const EVIL_NAME = '<img src=x onerror=__pwned=1>';

test('hostile names and messages are shown as text and never run', async ({ browser }) => {
  const agent = await open(browser);
  const mallory = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  await loginCustomer(mallory.page, EVIL_NAME);
  await expect(find.me(mallory.page)).toHaveText(EVIL_NAME);
  await expect(find.user(agent.page, EVIL_NAME)).toContainText(EVIL_NAME);

  for (const payload of PAYLOADS) {
    await send(mallory.page, payload);
    await expectLastMessage(mallory.page, payload, true);
  }
  await openConversation(agent.page, EVIL_NAME);
  await expectLastMessage(agent.page, PAYLOADS[PAYLOADS.length - 1], false);
  await expect(find.messages(agent.page).locator('.text')).toHaveText(PAYLOADS);

  for (const p of [agent.page, mallory.page]) {
    expect(await p.evaluate(() => (window as any).__pwned)).toBeUndefined();
    // Nothing from the payloads became an element anywhere in the page.
    const injected = ':is(script, img, svg, iframe, style, a)';
    await expect(p.locator(`[data-testid="message"] ${injected}, [data-testid="user"] ${injected}, [data-testid="me"] ${injected}`)).toHaveCount(0);
    await expect(p.locator('body')).toBeVisible();
  }
  expectNoProblems(agent, mallory);
  await agent.context.close();
  await mallory.context.close();
});

test('an injected inline script would not run: the policy allows only the nonce', async ({ browser }) => {
  const visitor = await open(browser);
  const policy = await visitor.page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]{16,}' 'wasm-unsafe-eval'/);
  // Inserted the way an injection would be, without the nonce: the browser refuses it.
  const ran = await visitor.page.evaluate(async () => {
    (window as any).__injected = false;
    const s = document.createElement('script');
    s.textContent = 'window.__injected = true';
    document.body.appendChild(s);
    await new Promise((r) => setTimeout(r, 100));
    return (window as any).__injected;
  });
  expect(ran).toBe(false);
  await visitor.context.close();
});

test("an agent's session lives in a cookie that scripts cannot read, and ends at logout", async ({ browser }) => {
  const agent = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  await expectLoggedIn(agent.page, AGENT.name);
  const session = async () => (await agent.context.cookies()).find((c) => c.name === 'chat_agent');
  const cookie = await session();
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe('Strict');
  // Nothing a script in the page can reach holds the token.
  const reachable = await agent.page.evaluate(() =>
    [document.cookie, JSON.stringify(sessionStorage), JSON.stringify(localStorage)].join(' '));
  expect(reachable).not.toContain(cookie!.value);
  expect(reachable).not.toContain('chat_agent');

  // A reload needs no password.
  await reload(agent.page);
  await expectLoggedIn(agent.page, AGENT.name);

  // Logout: the browser forgets the cookie, and a reload asks for the login again.
  await agent.page.getByTestId('logout').click();
  await expect(agent.page.getByTestId('login-form')).toBeVisible();
  await expect.poll(session).toBeUndefined();
  await reload(agent.page);
  await expect(agent.page.getByTestId('login-form')).toBeVisible();
  expectNoProblems(agent);
  await agent.context.close();
});
