// Conversations outlive the page: reloads keep the history, and messages wait for whoever
// is not there yet.
import { test, expect } from '@playwright/test';
import { io } from 'socket.io-client';
import {
  AGENT, find, open, loginAgent, loginCustomer, openConversation, send, reload,
  expectLoggedIn, expectMessages, expectLastMessage, expectNoProblems,
} from './helpers';

test('a reload mid-conversation keeps the history, for the customer and for the agent', async ({ browser }) => {
  const agent = await open(browser);
  const hana = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  await loginCustomer(hana.page, 'Hana');
  await send(hana.page, 'My invoice is wrong');
  await expectLastMessage(agent.page, 'My invoice is wrong', false);
  await openConversation(agent.page, 'Hana');
  await send(agent.page, 'Which invoice number?');
  await expectLastMessage(hana.page, 'Which invoice number?', false);
  await send(hana.page, 'INV-2041');
  await expectLastMessage(agent.page, 'INV-2041', false);

  const conversation = ['My invoice is wrong', 'Which invoice number?', 'INV-2041'];
  await reload(hana.page);
  await expectLoggedIn(hana.page, 'Hana');
  await expectMessages(hana.page, conversation);

  // The agent is not asked for the password again, and finds the conversation.
  await reload(agent.page);
  await expectLoggedIn(agent.page, AGENT.name);
  await openConversation(agent.page, 'Hana');
  await expectMessages(agent.page, conversation);

  // And both go on talking after the reloads, without duplicates.
  await send(agent.page, 'Fixed, sorry about that');
  await expectLastMessage(hana.page, 'Fixed, sorry about that', false);
  await expectMessages(hana.page, [...conversation, 'Fixed, sorry about that']);
  expectNoProblems(agent, hana);
  await agent.context.close();
  await hana.context.close();
});

test('a message written while no agent is online reaches the agent who logs in later', async ({ browser }) => {
  const ivan = await open(browser);
  await loginCustomer(ivan.page, 'Ivan');
  await expect(ivan.page.getByTestId('no-agents')).toBeVisible();
  await send(ivan.page, 'Hello? Anyone?');
  // Stored, though nobody is there to read it yet.
  await expectLastMessage(ivan.page, 'Hello? Anyone?', true);

  const agent = await open(browser);
  await loginAgent(agent.page, AGENT.name, AGENT.password);
  await openConversation(agent.page, 'Ivan');
  await expectLastMessage(agent.page, 'Hello? Anyone?', false);
  await send(agent.page, 'Hi Ivan, I am here now');
  await expectLastMessage(ivan.page, 'Hi Ivan, I am here now', false);
  expectNoProblems(agent, ivan);
  await agent.context.close();
  await ivan.context.close();
});

test('logging out ends the session: a reload asks for the login again', async ({ browser }) => {
  const jon = await open(browser);
  await loginCustomer(jon.page, 'Jon');
  await expectLoggedIn(jon.page, 'Jon');
  await jon.page.getByTestId('logout').click();
  await expect(jon.page.getByTestId('login-form')).toBeVisible();
  await reload(jon.page);
  await expect(jon.page.getByTestId('login-form')).toBeVisible();
  expectNoProblems(jon);
  await jon.context.close();
});

test('a long conversation opens at its newest page, and older pages load on scrolling up', async ({ browser, baseURL }) => {
  const kim = await open(browser);
  await loginCustomer(kim.page, 'Kim');
  await expectLoggedIn(kim.page, 'Kim');
  // Sixty earlier messages, sent by Kim from another device holding the same session.
  const session = await kim.page.evaluate(() => JSON.parse(localStorage.getItem('chat.session') ?? 'null'));
  expect(session?.resume).toBeTruthy();
  const device = io(baseURL!, { reconnection: false, transports: ['websocket'] });
  await new Promise((resolve) => {
    device.on('connect', () => device.emit('login', { resume: session.resume }));
    device.once('login_success', resolve);
  });
  // Faster than a person types: past the burst, the server says to slow down, and the
  // message is sent again (with the same client id) after the wait it names.
  let slowedDown = 0;
  for (let i = 1; i <= 60; i++) {
    for (;;) {
      const ack: any = await device.emitWithAck('private_message', { message: `note ${i}`, client_id: `kim-${i}` });
      if (ack.ok) break;
      const wait = /wait (\d+) s/.exec(ack.error);
      expect(wait, ack.error).not.toBeNull();
      slowedDown++;
      await new Promise((r) => setTimeout(r, Number(wait![1]) * 1000));
    }
  }
  expect(slowedDown).toBeGreaterThan(0);
  device.close();
  await expectLastMessage(kim.page, 'note 60', true);

  await reload(kim.page);
  await expect(find.messages(kim.page)).toHaveCount(50);
  await expect(find.messages(kim.page).first().locator('.text')).toHaveText('note 11');
  // The newest message is in view; scrolling to the top asks for the page before.
  const list = kim.page.getByTestId('messages');
  await expect.poll(() => list.evaluate((l) => l.scrollHeight - l.clientHeight - l.scrollTop)).toBeLessThan(2);
  await list.evaluate((l) => { l.scrollTop = 0; });
  await expect(find.messages(kim.page)).toHaveCount(60);
  await expect(find.messages(kim.page).first().locator('.text')).toHaveText('note 1');
  await expect(kim.page.getByTestId('load-older')).toHaveCount(0);
  expectNoProblems(kim);
  await kim.context.close();
});
