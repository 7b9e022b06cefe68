// Takes the README's pictures of the widget on the demo pages, in English and Chinese (the
// English one with a screenshot the customer sends, and a link in the answer), and of the
// agent console with a search's results and the customer's profile open:
//   end2end/serve.sh 3290 &  node end2end/screenshots.cjs http://127.0.0.1:3290 [FOLDER]
// (into docs/ unless FOLDER is given)
// (a fresh server: the pictures show a customer's first message and an agent's answer).
const { chromium } = require('@playwright/test');
const path = require('node:path');

const base = process.argv[2] ?? 'http://127.0.0.1:3290';
const folder = process.argv[3] ?? path.join(__dirname, '..', 'docs');
const shots = [
  { page: '/demo.html', file: 'widget-en.png', name: 'Li', email: 'li.wei@example.com', text: 'Hi! Has my order shipped? The page says this:', attach: path.join(__dirname, '..', 'docs', 'console.png'), reply: 'Yes, it left today: https://example.com/track/4821' },
  { page: '/demo-zh.html', file: 'widget-zh.png', name: '王芳', text: '你好，我的订单发货了吗？', reply: '已经发货了，今天寄出。' },
];

/** Waits until a page (or the widget's frame) has hydrated and connected. */
async function connected(where) {
  await where.locator('[data-testid="connection"].conn-online').waitFor({ timeout: 60_000 });
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
  const agent = await (await browser.newContext()).newPage();
  await agent.goto(base);
  // The page answers clicks once its WASM client has hydrated and connected (until then a
  // click lands on the server-rendered form and does nothing): wait for that, as the
  // browser tests do (end2end/tests/helpers.ts, waitForHydration).
  await connected(agent);
  await agent.getByTestId('login-name').fill('Ada');
  await agent.getByTestId('login-agent').check();
  await agent.getByTestId('login-password').fill('ada-pass-1');
  await agent.getByTestId('login-submit').click();
  for (const shot of shots) {
    const page = await (await browser.newContext({ viewport: { width: 1000, height: 720 } })).newPage();
    await page.goto(base + shot.page);
    await page.locator('#support-chat-button').click();
    const frame = page.frameLocator('#support-chat-frame');
    await connected(frame);
    await frame.getByTestId('login-name').fill(shot.name);
    if (shot.email) await frame.getByTestId('login-email').fill(shot.email);
    await frame.getByTestId('login-submit').click();
    await frame.getByTestId('composer').fill(shot.text);
    await frame.getByTestId('send').click();
    if (shot.attach) {
      await frame.getByTestId('attach-input').setInputFiles(shot.attach);
      await frame.locator('[data-testid="attachment-image"] img').waitFor();
    }
    await agent.locator(`[data-testid="user"][data-name="${shot.name}"]`).click();
    await agent.getByTestId('composer').fill(shot.reply);
    await agent.getByTestId('send').click();
    await frame.getByTestId('message').filter({ hasText: shot.reply }).waitFor();
    await page.screenshot({ path: path.join(folder, shot.file) });
    console.log(path.join(folder, shot.file));
  }
  // The console: Li's conversation with her profile open and a note on her, and a search.
  await agent.setViewportSize({ width: 1200, height: 820 });
  await agent.locator('[data-testid="user"][data-name="Li"]').click();
  await agent.getByTestId('profile-summary-email').waitFor();
  await agent.locator('[data-testid="profile"] summary').click();
  await agent.getByTestId('profile-note').fill('Ordered tea twice this month; prefers e-mail.');
  await agent.getByTestId('profile-save').click();
  await agent.getByTestId('profile-saved').waitFor();
  await agent.getByTestId('search').fill('order');
  await agent.getByTestId('search-button').click();
  await agent.getByTestId('found-message').first().waitFor();
  const console_ = path.join(folder, 'console-profile.png');
  await agent.screenshot({ path: console_ });
  console.log(console_);
  await browser.close();
})();
