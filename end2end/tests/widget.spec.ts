// The widget: one script tag on another site's page shows a chat button that opens the
// customer view in a frame, in the colour, corner, language and with the greeting the tag
// asks for; the conversation resumes after the host page reloads.
import { test, expect, Browser, FrameLocator, Page } from '@playwright/test';
import { createServer, Server } from 'node:http';
import { createHmac } from 'node:crypto';
import { AddressInfo } from 'node:net';
import AxeBuilder from '@axe-core/playwright';
import { AGENT, open, loginAgent, openConversation, send, expectLastMessage, expectNoProblems } from './helpers';

const ADA = { name: 'Ada', password: 'ada-pass-1' };
/** Another site: a server of the test's own on another port (another origin), serving a
 * page with the widget's tag. On loopback, as the chat is: Chromium stops pages it cannot
 * place (intercepted ones) from loading anything from loopback. */
async function serveShop(html: string): Promise<{ url: string; server: Server }> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/** A page of another site with the widget's tag on it. */
async function shopPage(browser: Browser, baseURL: string, attributes: string, options = {}) {
  const person = await open(browser, '/', options);
  const html = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
    <meta name="viewport" content="width=device-width, initial-scale=1"></head>
    <body><main><h1>A shop</h1><p>Tea and cups.</p></main>
    <script src="${baseURL}/widget.js" async ${attributes}></script></body></html>`;
  const shop = await serveShop(html);
  await person.page.goto(shop.url);
  return { ...person, shop: shop.server };
}

const button = (page: Page) => page.locator('#support-chat-button');
const frameOf = (page: Page): FrameLocator => page.frameLocator('#support-chat-frame');

async function expectConnected(frame: FrameLocator) {
  await expect(frame.getByTestId('connection')).toHaveClass(/conn-online/);
}

test('one tag on another site: a button in its colour and corner opens the chat in its language', async ({ browser, baseURL }) => {
  const shop = await shopPage(browser, baseURL!,
    'data-color="#c2185b" data-position="left" data-greeting="Hi! Ask us anything." data-lang="zh-CN"');
  const page = shop.page;
  await expect(button(page)).toBeVisible();
  await expect(button(page)).toHaveAttribute('aria-label', '联系客服');
  await expect(button(page)).toHaveCSS('background-color', 'rgb(194, 24, 91)');
  const box = (await button(page).boundingBox())!;
  expect(box.x, 'bottom left').toBeLessThan(100);
  await expect(page.locator('#support-chat-frame'), 'no frame (and no connection) before the click').toHaveCount(0);

  await button(page).click();
  await expect(button(page)).toHaveAttribute('aria-expanded', 'true');
  const frame = frameOf(page);
  await expectConnected(frame);
  await expect(frame.getByTestId('greeting')).toHaveText('Hi! Ask us anything.');
  await expect(frame.getByTestId('login-submit')).toHaveText('开始聊天');
  await expect(frame.getByTestId('login-agent'), 'agents log in on the desk, not in a widget').toHaveCount(0);
  await frame.getByTestId('login-name').fill('Wen');
  await frame.getByTestId('login-submit').click();
  await expect(frame.getByTestId('me')).toHaveText('Wen');
  await frame.getByTestId('composer').fill('你好，我的订单到了吗？');
  await frame.getByTestId('send').click();
  await expect(frame.getByTestId('send')).toHaveCSS('background-color', 'rgb(194, 24, 91)');

  // An agent answers from the desk.
  const agent = await open(browser);
  await loginAgent(agent.page, ADA.name, ADA.password);
  await openConversation(agent.page, 'Wen');
  await expectLastMessage(agent.page, '你好，我的订单到了吗？', false);
  await send(agent.page, 'It left the warehouse today.');
  await expect(frame.getByTestId('message').last().locator('.text')).toHaveText('It left the warehouse today.');

  const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  expect(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`), 'axe on the widget').toEqual([]);

  // Escape closes it; the conversation is still there after the host page reloads.
  await page.keyboard.press('Escape');
  await expect(page.locator('#support-chat-frame')).toBeHidden();
  await expect(button(page)).toHaveAttribute('aria-expanded', 'false');
  await page.reload();
  await button(page).click();
  const again = frameOf(page);
  await expectConnected(again);
  await expect(again.getByTestId('me')).toHaveText('Wen');
  await expect(again.getByTestId('message').last().locator('.text')).toHaveText('It left the warehouse today.');

  await agent.page.getByTestId('logout').click();
  expectNoProblems(shop, agent);
  for (const p of [shop, agent]) await p.context.close();
  shop.shop.close();
});

test('any site may frame the widget, and no site may frame the console', async ({ request }) => {
  const widget = await request.get('/widget');
  expect(widget.status()).toBe(200);
  expect(widget.headers()['content-security-policy']).toContain('frame-ancestors *');
  expect(widget.headers()['x-frame-options']).toBeUndefined();
  const desk = await request.get('/');
  expect(desk.headers()['content-security-policy']).toContain("frame-ancestors 'self'");
  expect(desk.headers()['x-frame-options']).toBe('SAMEORIGIN');
});

test('the widget on a 360 px phone', async ({ browser, baseURL }) => {
  const shop = await shopPage(browser, baseURL!, 'data-greeting="Hello"', {
    viewport: { width: 360, height: 740 }, isMobile: true, hasTouch: true,
  });
  const page = shop.page;
  await button(page).click();
  const frame = frameOf(page);
  await expectConnected(frame);
  const box = (await page.locator('#support-chat-frame').boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width, 'the frame within the screen').toBeLessThanOrEqual(360);
  await frame.getByTestId('login-name').fill('Tiny');
  await frame.getByTestId('login-submit').click();
  await expect(frame.getByTestId('me')).toHaveText('Tiny');
  await frame.getByTestId('composer').fill('From a small screen');
  await frame.getByTestId('send').click();
  await expect(frame.getByTestId('message').last()).toHaveAttribute('data-status', 'sent');
  const sendBox = (await frame.getByTestId('send').boundingBox())!;
  expect(sendBox.x + sendBox.width, 'the send button within the screen').toBeLessThanOrEqual(360);
  expectNoProblems(shop);
  await shop.context.close();
  shop.shop.close();
});

test('the demo page shows the widget, in English and in Chinese', async ({ browser }) => {
  for (const [path, label, greeting] of [
    ['/demo.html', 'Chat with support', 'Hello! Questions about your order? Ask us.'],
    ['/demo-zh.html', '联系客服', '您好！订单有问题吗？欢迎咨询。'],
  ]) {
    const person = await open(browser, '/');
    await person.page.goto(path);
    await expect(button(person.page)).toHaveAttribute('aria-label', label);
    await button(person.page).click();
    await expect(frameOf(person.page).getByTestId('greeting')).toHaveText(greeting);
    await expectConnected(frameOf(person.page));
    expectNoProblems(person);
    await person.context.close();
  }
});

test('a user the site signs in is the same customer on every device, and a forged one is refused', async ({ browser, baseURL }) => {
  // What the shop's server computes with the secret it shares with the chat (serve.sh),
  // for a page good for an hour.
  // With what the shop says about her besides (signed too), for the agents.
  const attributes = '{"plan":"pro"}';
  const signed = (expires: number) => {
    const sig = createHmac('sha256', 'e2e-widget-secret').update(`shop-user-7\nLin\n${expires}\n${attributes}`).digest('hex');
    return { sig, tag: `data-user-id="shop-user-7" data-user-name="Lin" data-user-expires="${expires}" data-user-attributes='${attributes}' data-user-sig="${sig}"` };
  };
  const { sig, tag } = signed(Math.floor(Date.now() / 1000) + 3600);
  const phone = await shopPage(browser, baseURL!, tag);
  await button(phone.page).click();
  const first = frameOf(phone.page);
  // No login form: the site said who this is.
  await expect(first.getByTestId('me')).toHaveText('Lin');
  await first.getByTestId('composer').fill('Sent from my phone');
  await first.getByTestId('send').click();
  await expect(first.getByTestId('message').last()).toHaveAttribute('data-status', 'sent');

  // Another device (a new browser, nothing saved): the same customer, with her history.
  const laptop = await shopPage(browser, baseURL!, tag);
  await button(laptop.page).click();
  const second = frameOf(laptop.page);
  await expect(second.getByTestId('me')).toHaveText('Lin');
  await expect(second.getByTestId('message').first().locator('.text')).toHaveText('Sent from my phone');

  // A page that forges the signature gets a login error, not Lin's conversation.
  const forged = await shopPage(browser, baseURL!, tag.replace(sig, sig.replace(/^./, sig[0] === 'a' ? 'b' : 'a')));
  await button(forged.page).click();
  await expect(frameOf(forged.page).getByTestId('login-error')).toHaveText('The site you came from could not be verified. Please reload the page.');
  await expect(frameOf(forged.page).getByTestId('me')).toHaveCount(0);

  // Yesterday's page, replayed: refused in words, in the reader's language.
  const stale = await shopPage(browser, baseURL!, signed(Math.floor(Date.now() / 1000) - 86400).tag + ' data-lang="zh-CN"');
  await button(stale.page).click();
  await expect(frameOf(stale.page).getByTestId('login-error')).toHaveText('您从来源网站带来的登录已过期，请刷新页面。');
  await expect(frameOf(stale.page).getByTestId('me')).toHaveCount(0);

  // An agent sees who she is on the shop, and what the shop signed about her.
  const agent = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  await openConversation(agent.page, 'Lin');
  await agent.page.getByTestId('profile').locator('summary').click();
  await expect(agent.page.getByTestId('profile-user-id')).toHaveText('shop-user-7');
  await expect(agent.page.locator('[data-testid="profile-attribute"][data-name="plan"]')).toHaveText('pro');
  await agent.context.close();

  for (const p of [phone, laptop, forged, stale]) {
    await p.context.close();
    p.shop.close();
  }
});

test('the pre-chat form sends the question as the first message and the e-mail to the profile', async ({ browser, baseURL }) => {
  const shop = await shopPage(browser, baseURL!, 'data-greeting="Hi"');
  await button(shop.page).click();
  const frame = frameOf(shop.page);
  await expectConnected(frame);
  await frame.getByTestId('login-name').fill('Quinn');
  await frame.getByTestId('login-email').fill('not an address');
  await frame.getByTestId('login-submit').click();
  await expect(frame.getByTestId('login-error')).toHaveText('That does not look like an e-mail address.');
  await frame.getByTestId('login-email').fill('quinn@example.com');
  await frame.getByTestId('login-question').fill('Can I change my delivery address?');
  await frame.getByTestId('login-submit').click();
  await expect(frame.getByTestId('me')).toHaveText('Quinn');
  const first = 'Can I change my delivery address?';
  await expect(frame.getByTestId('message').first().locator('.text')).toHaveText(first);
  const agent = await open(browser);
  await loginAgent(agent.page, ADA.name, ADA.password);
  await openConversation(agent.page, 'Quinn');
  await expectLastMessage(agent.page, first, false);
  // The address and the shop's page the chat was opened on are on her profile.
  await expect(agent.page.getByTestId('profile-summary-email')).toContainText('quinn@example.com');
  await agent.page.getByTestId('profile').locator('summary').click();
  await expect(agent.page.getByTestId('profile-page')).toHaveText(shop.page.url());
  await agent.page.getByTestId('logout').click();
  expectNoProblems(shop, agent);
  for (const p of [shop, agent]) await p.context.close();
  shop.shop.close();
});

test('any colour a site picks stays readable, in the light scheme and the dark one', async ({ browser, baseURL }) => {
  // A mid green (the demo's: its own bubbles' name was 3.95:1 before), a bright yellow, white,
  // black and a deep pink; each after a message, so the reader's own bubble is checked too.
  // [the colour, as the browser gives it back, the ink for text on it]
  const white = 'rgb(255, 255, 255)', black = 'rgb(0, 0, 0)';
  for (const [color, rgb, ink] of [
    ['#1b7f4b', 'rgb(27, 127, 75)', white], ['#ffd400', 'rgb(255, 212, 0)', black],
    ['#fff', white, black], ['#000000', black, white], ['#c2185b', 'rgb(194, 24, 91)', white],
  ]) {
    const shop = await shopPage(browser, baseURL!, `data-color="${color}"`);
    const page = shop.page;
    await expect(button(page), `the launcher's icon on ${color}`).toHaveCSS('color', ink);
    await button(page).click();
    const frame = frameOf(page);
    await expectConnected(frame);
    await frame.getByTestId('login-name').fill(`Hue${color.slice(1)}`);
    await frame.getByTestId('login-submit').click();
    await frame.getByTestId('composer').fill(`Written on ${color}`);
    await frame.getByTestId('send').click();
    await expect(frame.getByTestId('message').last()).toHaveAttribute('data-status', 'sent');
    const mine = frame.getByTestId('message').last();
    for (const colorScheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme });
      // The reader's own bubble is in the site's colour, its text (and the name on it) in
      // the ink that reads on it.
      await expect(mine).toHaveCSS('background-color', rgb);
      await expect(mine.locator('.text')).toHaveCSS('color', ink);
      await expect(mine.locator('.from')).toHaveCSS('color', ink);
      const { violations } = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
      expect(violations.map((v) => `${v.id}: ${v.nodes.map((n) => `${n.target.join(' ')} ${n.failureSummary}`).join(', ')}`),
        `axe on the widget in ${color}, ${colorScheme}`).toEqual([]);
    }
    expectNoProblems(shop);
    await shop.context.close();
    shop.shop.close();
  }
});
